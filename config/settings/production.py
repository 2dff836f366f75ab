"""Production settings: secrets and services have no default, so a missing one stops the process
at start, and so does a weak secret."""

from django.core.exceptions import ImproperlyConfigured

from config.env import VAR_DIR, env

from .base import *  # noqa: F403
from .base import (
    EXPORTS_STORAGE,
    SLUICE_TRUSTED_PROXIES,
    SPECTACULAR_SETTINGS,
    cache_config,
    database_config,
)
from .celery import broker_transport_options
from .logging import LOG_LEVEL, logging_config


def _strong_secret(name: str, *, min_length: int) -> str:
    """The secret in `name`, refused when unset, empty, a placeholder (.env.example's, the
    local profile's, Django's `django-insecure-` keys) or shorter than `min_length`."""
    value = env.str(name, default="")
    lowered = value.lower()
    if not value:
        problem = "is not set"
    elif "change-me" in lowered or "changeme" in lowered or lowered.startswith("django-insecure"):
        problem = "is a placeholder"
    elif len(value) < min_length:
        problem = f"is shorter than {min_length} characters"
    else:
        return value
    raise ImproperlyConfigured(
        f"{name} {problem}: production needs a random secret of at least {min_length} "
        "characters, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
    )


def _service_url(name: str) -> str:
    """A service URL production cannot run without; empty (as a copied .env.example leaves it)
    counts as unset, never as the embedded defaults."""
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(
            f"Set the {name} environment variable: production runs on PostgreSQL and Redis."
        )
    return value


SECRET_KEY = _strong_secret("DJANGO_SECRET_KEY", min_length=50)
DEBUG = False
# /metrics is an operator surface (volumes, provider errors): never served without a token here.
SLUICE_METRICS_TOKEN = _strong_secret("SLUICE_METRICS_TOKEN", min_length=32)
# The suppression list's hashes are keyed with it: a guessable key would let anyone holding the
# table test addresses against it.
SLUICE_SUPPRESSION_HASH_KEY = _strong_secret("SLUICE_SUPPRESSION_HASH_KEY", min_length=32)

DATABASES = {"default": database_config(_service_url("DATABASE_URL"))}
REDIS_URL = _service_url("REDIS_URL")
CACHES = cache_config(REDIS_URL)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)

# Only a proxy of ours may say a request came over HTTPS: with gunicorn exposed directly, the
# header would be whatever the client sent.
if SLUICE_TRUSTED_PROXIES > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True

# The sandbox invents its answers: in production it would charge credits for made-up emails.
# Unset waterfalls use real providers (each skipped until its key is set); a waterfall or
# verifier naming the sandbox stops the process at start (providers.registry.sandbox_check)
# unless SLUICE_ALLOW_SANDBOX_IN_PRODUCTION says so.
SLUICE_WATERFALL_EMAIL = env.list("SLUICE_WATERFALL_EMAIL", default=["hunter", "prospeo", "pdl"])
SLUICE_WATERFALL_PHONE = env.list("SLUICE_WATERFALL_PHONE", default=["prospeo", "pdl"])
SLUICE_WATERFALL_COMPANY = env.list("SLUICE_WATERFALL_COMPANY", default=["pdl"])
SLUICE_VERIFIER = env.str("SLUICE_VERIFIER", default="zerobounce")
SLUICE_SANDBOX_ALLOWED = env.bool("SLUICE_ALLOW_SANDBOX_IN_PRODUCTION", default=False)
# Likewise the sandbox language model: no model unless one is configured; naming the sandbox
# stops the process at start (agents.llm.sandbox_model_check) without the same opt-in.
SLUICE_LLM_PROVIDER = env.str("SLUICE_LLM_PROVIDER", default="none")

# Static files are collected when the image is built (and again by compose's migrate service):
# hashed names, cached for a year, gzip-compressed ahead of time.
STATIC_ROOT = VAR_DIR / "static"
WHITENOISE_USE_FINDERS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    "exports": EXPORTS_STORAGE,
}

# One JSON object per line for the log shipper, unless SLUICE_LOG_FORMAT says otherwise.
LOG_FORMAT = env.str("SLUICE_LOG_FORMAT", default="json")
LOGGING = logging_config(level=LOG_LEVEL, log_format=LOG_FORMAT)

# drf-spectacular's deploy check builds one schema from the root URL conf, where both API
# prefixes repeat every operation id; the schema actually served is built per prefix and is
# checked by the test suite (tests/test_schema.py, schemathesis), so `check --deploy` stays clean.
SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS, "ENABLE_DJANGO_DEPLOY_CHECK": False}
