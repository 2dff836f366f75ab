"""Settings shared by every profile; never a DJANGO_SETTINGS_MODULE itself.

The profiles are local.py (the default of manage.py and Celery: embedded SQLite and filesystem
broker unless DATABASE_URL / REDIS_URL say otherwise), production.py and test.py; each one
chooses the database, cache and broker. Topics live in their own modules (celery.py,
providers.py, logging.py, limits.py). Every setting read from the environment is documented in
`.env.example`.
"""

import os

import environ
from django.core.exceptions import ImproperlyConfigured

from config.env import BASE_DIR, VAR_DIR, env  # noqa: F401 - BASE_DIR is a setting too

from .agents import *  # noqa: F403
from .celery import *  # noqa: F403
from .limits import *  # noqa: F403
from .limits import (
    SLUICE_RATE_LIMIT_FAILED_AUTH,
    SLUICE_RATE_LIMIT_PER_KEY,
    SLUICE_RATE_LIMIT_PER_WORKSPACE,
)
from .logging import *  # noqa: F403
from .privacy import *  # noqa: F403
from .providers import *  # noqa: F403

# A profile imports this module; used on its own it would run without a database, cache or
# broker chosen, so it refuses instead of failing later on a first query.
if __name__ == os.environ.get("DJANGO_SETTINGS_MODULE"):
    raise ImproperlyConfigured(
        f"{__name__} is shared by the settings profiles and is not one: set "
        "DJANGO_SETTINGS_MODULE to config.settings.local, config.settings.production or "
        "config.settings.test."
    )

# --- Core -------------------------------------------------------------------------------------

# The embedded default is for a local demo only; production.py requires a real secret.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-demo-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Before staticfiles: runserver leaves /static/ to WhiteNoise, as gunicorn does.
    "whitenoise.runserver_nostatic",
    # The admin without autodiscovery at start: config/urls.py loads every app's admin module
    # when a web process first resolves a URL, so worker processes never import the admin's
    # forms and the DRF they pull in (docs/operations.md, "Worker memory").
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "common",
    "accounts",
    "leads",
    "credits",
    "providers",
    "enrichment",
    "agents",  # smart agents: list columns filled per lead, run as enrichment workflows
    "privacy",  # suppression list, erasure, provenance
    "compat",  # the seed vendors' own APIs (Lance, Enrich Leads, LocalLeads)
    "ops",  # /healthz, /readyz, /metrics
]

MIDDLEWARE = [
    "common.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # /static/ (the admin's CSS, Swagger UI) from every server: runserver, gunicorn, the demo.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.ApiUsageMiddleware",
    "accounts.throttling.RateLimitHeadersMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
# The public API has no trailing slashes (the SDK calls `/api/v2/lead-lists`).
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database, cache and broker ---------------------------------------------------------------

# Each profile sets DATABASES, REDIS_URL, CACHES, CELERY_BROKER_URL and
# CELERY_BROKER_TRANSPORT_OPTIONS from these builders and its own fallbacks.
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# True only on the local profile without Redis: one process's memory holds the cache, the rate
# limits and the breakers, so the demo runs its worker as threads of one process.
EMBEDDED_MODE = False


def database_config(url: str) -> dict:
    """DATABASES["default"] for a database URL."""
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web process read while the worker writes; IMMEDIATE transactions take
        # the write lock up front instead of failing to upgrade a read lock mid-transaction.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    else:
        config.setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
        config["CONN_HEALTH_CHECKS"] = True
    return config


def cache_config(redis_url: str) -> dict:
    """CACHES: Redis, shared by every process, or (no Redis) this process's memory."""
    if not redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "sluice",
        }
    }


# --- REST framework and OpenAPI ---------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.ScopePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.ApiRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": SLUICE_RATE_LIMIT_PER_KEY,
        "workspace": SLUICE_RATE_LIMIT_PER_WORKSPACE,
        "failed_auth": SLUICE_RATE_LIMIT_FAILED_AUTH,
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # A JSON API: form bodies cannot carry null, nested objects or typed values, so a form
    # request meant something else than its JSON twin (the streamed import declares its own).
    "DEFAULT_PARSER_CLASSES": ["common.parsers.LimitedJSONParser"],
    "EXCEPTION_HANDLER": "common.api_errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "accounts.schema.ScopedAutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Sluice API",
    "DESCRIPTION": (
        "Self-hosted waterfall contact enrichment. Wire-compatible with Cleanlist's public API: "
        "the same operations are served under `/api/v2` and `/api/v1/public`. "
        "Authenticate with `Authorization: Bearer clapi_…`."
    ),
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {"HTTPBearer": {"type": "http", "scheme": "bearer"}},
    },
    "SECURITY": [{"HTTPBearer": []}],
    # Swagger UI assets are served by Sluice itself, not a CDN (self-hosted, maybe offline).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Static, i18n -----------------------------------------------------------------------------

STATIC_URL = "static/"
# WhiteNoise serves /static/. Nothing runs collectstatic for the local profile (`make run`, the
# demo: runserver), so it finds the files in the installed apps once at start: they all ship in
# installed packages and never change under a running server, so no autorefresh. Production
# serves a collected STATIC_ROOT instead (production.py).
WHITENOISE_USE_FINDERS = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Leads ------------------------------------------------------------------------------------

# How long a `cl-task_…` cohort handle stays usable.
SLUICE_COHORT_TTL_SECONDS = env.int("SLUICE_COHORT_TTL_SECONDS", default=24 * 3600)
SLUICE_EXPORT_URL_TTL_SECONDS = env.int("SLUICE_EXPORT_URL_TTL_SECONDS", default=24 * 3600)
# Export files go to the `exports` storage (STORAGES below): this folder by default, which only
# works while one machine serves the API; with several web nodes, a shared S3-compatible bucket.
EXPORT_DIR = VAR_DIR / "exports"
SLUICE_EXPORT_STORAGE = env.str("SLUICE_EXPORT_STORAGE", default="filesystem")
# The bucket (s3): credentials come from the usual AWS_* variables or the machine's role.
SLUICE_EXPORT_S3_BUCKET = env.str("SLUICE_EXPORT_S3_BUCKET", default="")
SLUICE_EXPORT_S3_ENDPOINT_URL = env.str("SLUICE_EXPORT_S3_ENDPOINT_URL", default="")
SLUICE_EXPORT_S3_REGION = env.str("SLUICE_EXPORT_S3_REGION", default="")
SLUICE_EXPORT_S3_PREFIX = env.str("SLUICE_EXPORT_S3_PREFIX", default="exports")


def export_storage_config(
    kind: str, *, bucket: str = "", endpoint_url: str = "", region: str = "", prefix: str = ""
) -> dict:
    """STORAGES["exports"] for SLUICE_EXPORT_STORAGE (`filesystem` or `s3`)."""
    if kind == "filesystem":
        return {"BACKEND": "leads.storage.ExportFileSystemStorage"}
    if kind == "s3":
        if not bucket:
            raise ImproperlyConfigured("SLUICE_EXPORT_STORAGE=s3 needs SLUICE_EXPORT_S3_BUCKET.")
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint_url or None,
                "region_name": region or None,
                "location": prefix,
                # Files are served through the API (signed links), never from the bucket.
                "default_acl": None,
                "querystring_auth": False,
                "file_overwrite": True,
            },
        }
    raise ImproperlyConfigured(f"SLUICE_EXPORT_STORAGE must be filesystem or s3, not {kind!r}.")


EXPORTS_STORAGE = export_storage_config(
    SLUICE_EXPORT_STORAGE,
    bucket=SLUICE_EXPORT_S3_BUCKET,
    endpoint_url=SLUICE_EXPORT_S3_ENDPOINT_URL,
    region=SLUICE_EXPORT_S3_REGION,
    prefix=SLUICE_EXPORT_S3_PREFIX,
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "exports": EXPORTS_STORAGE,
}
# Phone numbers written without a country code are read in this region (ISO 3166 alpha-2).
SLUICE_DEFAULT_PHONE_REGION = env.str("SLUICE_DEFAULT_PHONE_REGION", default="US")
# Absolute URLs (poll_url, download_url) are built from the request unless this is set,
# e.g. behind a proxy that rewrites the host.
SLUICE_PUBLIC_BASE_URL = env.str("SLUICE_PUBLIC_BASE_URL", default="")

# --- Credits ----------------------------------------------------------------------------------

# How long a quote from /credits/estimate stays redeemable.
SLUICE_QUOTE_TTL_SECONDS = env.int("SLUICE_QUOTE_TTL_SECONDS", default=300)
# Quote signing keys as `kid:secret` pairs, comma-separated; the FIRST signs new quotes, all of
# them verify, so a key can be rotated without voiding quotes in flight. Kids are [A-Za-z0-9].
# Empty: one key ("k0") derived from DJANGO_SECRET_KEY.
SLUICE_QUOTE_SIGNING_KEYS = env.list("SLUICE_QUOTE_SIGNING_KEYS", default=[])
# Live (unused, unexpired) quotes a workspace may hold; a new estimate supersedes the oldest.
SLUICE_QUOTE_MAX_LIVE_PER_WORKSPACE = env.int("SLUICE_QUOTE_MAX_LIVE_PER_WORKSPACE", default=100)

# --- Enrichment workflows ---------------------------------------------------------------------

# Leads per chunk task: big enough to amortise per-task overhead, small enough that a redelivered
# chunk redoes little work.
SLUICE_CHUNK_SIZE = env.int("SLUICE_CHUNK_SIZE", default=500)
# A chunk's claim is a lease its worker renews every SLUICE_CLAIM_HEARTBEAT_SECONDS while the
# chunk runs; one not renewed for SLUICE_CLAIM_TTL_SECONDS belongs to a dead worker and is given
# back to the queue (docs/reliability.md, "Chunk leases": the defaults are measured there).
SLUICE_CLAIM_TTL_SECONDS = env.int("SLUICE_CLAIM_TTL_SECONDS", default=10)
SLUICE_CLAIM_HEARTBEAT_SECONDS = env.float(
    "SLUICE_CLAIM_HEARTBEAT_SECONDS", default=SLUICE_CLAIM_TTL_SECONDS / 5
)
if not 0 < SLUICE_CLAIM_HEARTBEAT_SECONDS <= SLUICE_CLAIM_TTL_SECONDS / 2:
    # Fewer than two renewals per lease and one late renewal hands a live chunk to another worker.
    raise ImproperlyConfigured(
        "SLUICE_CLAIM_HEARTBEAT_SECONDS must be above 0 and at most half SLUICE_CLAIM_TTL_SECONDS."
    )
# A workflow still pending (or making no progress) this long has lost its message: re-dispatch.
# A healthy run's longest gap without progress measured 1.5-3 s (bench/sweeper.py).
SLUICE_STALL_GRACE_SECONDS = env.int("SLUICE_STALL_GRACE_SECONDS", default=60)
# Past this a workflow is ended by the sweeper (failed; the unsettled remainder goes to review).
SLUICE_WORKFLOW_DEADLINE_SECONDS = env.int("SLUICE_WORKFLOW_DEADLINE_SECONDS", default=6 * 3600)
# A person enrichment repeated within this window returns the earlier workflow, free.
SLUICE_REUSE_WINDOW_SECONDS = env.int("SLUICE_REUSE_WINDOW_SECONDS", default=7 * 24 * 3600)
SLUICE_STATUS_RETRY_AFTER_SECONDS = env.int("SLUICE_STATUS_RETRY_AFTER_SECONDS", default=2)
SLUICE_WEBHOOK_MAX_ATTEMPTS = env.int("SLUICE_WEBHOOK_MAX_ATTEMPTS", default=5)
# The first retry comes within this long (full jitter), the bound doubling each time up to 1 h.
SLUICE_WEBHOOK_BACKOFF_SECONDS = env.float("SLUICE_WEBHOOK_BACKOFF_SECONDS", default=10.0)
SLUICE_WEBHOOK_TIMEOUT_SECONDS = env.float("SLUICE_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Outgoing requests (webhooks, providers) may reach loopback, private and reserved addresses;
# off, they are refused (common/outgoing_http.py). Metadata services stay refused either way.
SLUICE_EGRESS_ALLOW_PRIVATE = env.bool("SLUICE_EGRESS_ALLOW_PRIVATE", default=False)

# --- Operations -------------------------------------------------------------------------------

# Bearer token for /metrics (`Authorization: Bearer <token>`); empty = open (keep it on a
# private network then).
SLUICE_METRICS_TOKEN = env.str("SLUICE_METRICS_TOKEN", default="")
# How long a scrape's database aggregates are reused (shared cache); 0 = every scrape queries.
SLUICE_METRICS_CACHE_SECONDS = env.int("SLUICE_METRICS_CACHE_SECONDS", default=10)
# Connect/read timeout of the health checks' Redis pings, so a dead Redis fails fast.
SLUICE_HEALTH_TIMEOUT_S = env.float("SLUICE_HEALTH_TIMEOUT_S", default=1.0)
