"""Production settings: secrets and services have no default, so a missing one stops the process
at start."""

from config.env import VAR_DIR, env

from .base import *  # noqa: F403
from .base import SPECTACULAR_SETTINGS, cache_config, database_config
from .celery import broker_transport_options
from .logging import LOG_LEVEL, logging_config

SECRET_KEY = env.str("DJANGO_SECRET_KEY")
DEBUG = False

DATABASES = {"default": database_config(env.str("DATABASE_URL"))}
REDIS_URL = env.str("REDIS_URL")
CACHES = cache_config(REDIS_URL)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True

# Static files are collected when the image is built (and again by compose's migrate service):
# hashed names, cached for a year, gzip-compressed ahead of time.
STATIC_ROOT = VAR_DIR / "static"
WHITENOISE_USE_FINDERS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# One JSON object per line for the log shipper, unless SLUICE_LOG_FORMAT says otherwise.
LOG_FORMAT = env.str("SLUICE_LOG_FORMAT", default="json")
LOGGING = logging_config(level=LOG_LEVEL, log_format=LOG_FORMAT)

# drf-spectacular's deploy check builds one schema from the root URL conf, where both API
# prefixes repeat every operation id; the schema actually served is built per prefix and is
# checked by the test suite (tests/test_schema.py, schemathesis), so `check --deploy` stays clean.
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "ENABLE_DJANGO_DEPLOY_CHECK": False}
