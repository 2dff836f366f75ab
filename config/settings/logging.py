"""Logging: one console handler writing text or JSON lines, each stamped with the request,
workflow and (in a worker) task ids. Workers log through the same LOGGING (config/celery.py)."""

from django.core.exceptions import ImproperlyConfigured

from config.env import env

LOG_LEVEL = env.str("SLUICE_LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("SLUICE_LOG_FORMAT", default="text")


def logging_config(*, level: str, log_format: str) -> dict:
    """LOGGING for a level and a format ("text" or "json"). A profile that changes either
    assigns LOGGING again from this, after its change."""
    if log_format not in ("text", "json"):
        raise ImproperlyConfigured(f"SLUICE_LOG_FORMAT is text or json, not {log_format!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "common.logging.ContextFilter"},
            "task": {"()": "ops.logging.TaskContextFilter"},
        },
        "formatters": {
            "text": {
                "format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s "
                "wf=%(workflow_id)s task=%(task_id)s] %(message)s"
            },
            "json": {"()": "common.logging.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context", "task"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Request logging is ours (common.middleware); Django's own would repeat it.
            "django.request": {"level": "ERROR", "propagate": True},
            "django.server": {"level": "WARNING", "propagate": True},
        },
    }


LOGGING = logging_config(level=LOG_LEVEL, log_format=LOG_FORMAT)
