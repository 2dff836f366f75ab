"""The Celery app. All configuration lives in Django settings under the `CELERY_` namespace."""

import os

from celery import Celery
from celery.signals import setup_logging

from config.runtime import celery_dirs, dirs_create

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("sluice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _create_celery_dirs(**kwargs) -> None:
    """Every process that uses the app (worker, beat, a publishing web process) creates the
    folders Celery writes into once the configuration is read, before it first connects."""
    dirs_create(celery_dirs())


@setup_logging.connect
def _use_django_logging(**kwargs) -> None:
    """Workers log exactly as the web does (settings.LOGGING: text or JSON, with request,
    workflow and task ids). Connecting this signal stops Celery from installing its own
    handlers; `--loglevel` is then ignored in favour of SLUICE_LOG_LEVEL."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
