"""Sluice settings, read from the environment (and an optional `.env` file).

With no environment at all Sluice runs on its embedded defaults: SQLite (WAL) and Celery's
filesystem broker under `var/`, so the demo needs no services. Setting `DATABASE_URL` and
`REDIS_URL` moves it onto PostgreSQL and Redis. Every setting is documented in `.env.example`.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

# An empty value (as in a copied .env.example) means "the default", like an unset one.
VAR_DIR = Path(env.str("SLUICE_VAR_DIR", default="") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -------------------------------------------------------------------------------------

# The embedded default is for a local demo only; production.py requires a real secret.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-demo-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
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
]

MIDDLEWARE = [
    "common.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.ApiUsageMiddleware",
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

# --- Database ---------------------------------------------------------------------------------

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'sluice.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions take the
    # write lock up front instead of failing to upgrade a read lock mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and broker ------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED_MODE = not REDIS_URL

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sluice",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Broadcast/pidbox state; kombu's default is ./control in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Longer than any chunk may run (see CELERY_TASK_TIME_LIMIT), so a slow chunk is never
    # handed to a second worker while the first is still on it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
# At-least-once delivery: a task is acknowledged only after it ran, and a task whose worker
# died is redelivered. Every task is written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=900)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=960)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Filled by the apps that own periodic work (see config/celery.py).
CELERY_BEAT_SCHEDULE: dict = {}

# --- REST framework and OpenAPI ---------------------------------------------------------------

SLUICE_RATE_LIMIT_PER_KEY = env.str("SLUICE_RATE_LIMIT_PER_KEY", default="30/min")
SLUICE_RATE_LIMIT_PER_WORKSPACE = env.str("SLUICE_RATE_LIMIT_PER_WORKSPACE", default="60/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.ScopePermission"],
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.throttling.ApiKeyRateThrottle",
        "accounts.throttling.WorkspaceRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": SLUICE_RATE_LIMIT_PER_KEY,
        "workspace": SLUICE_RATE_LIMIT_PER_WORKSPACE,
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # A JSON API: form bodies cannot carry null, nested objects or typed values, so a form
    # request meant something else than its JSON twin (the streamed import declares its own).
    "DEFAULT_PARSER_CLASSES": ["common.parsers.LimitedJSONParser"],
    "EXCEPTION_HANDLER": "common.exceptions.api_exception_handler",
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

# --- Request limits ---------------------------------------------------------------------------

# JSON bodies (csv-import's base64 included) are capped here; the streamed `/import` endpoint
# has its own, much larger cap (SLUICE_IMPORT_MAX_BYTES).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("SLUICE_MAX_BODY_BYTES", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "uploads")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
SLUICE_IMPORT_MAX_BYTES = env.int("SLUICE_IMPORT_MAX_BYTES", default=512 * 1024 * 1024)

# --- Sluice -----------------------------------------------------------------------------------

SLUICE_MAX_ACTIVE_KEYS_PER_WORKSPACE = env.int("SLUICE_MAX_ACTIVE_KEYS_PER_WORKSPACE", default=10)
# How long a `cl-task_…` cohort handle stays usable.
SLUICE_COHORT_TTL_SECONDS = env.int("SLUICE_COHORT_TTL_SECONDS", default=24 * 3600)
SLUICE_EXPORT_URL_TTL_SECONDS = env.int("SLUICE_EXPORT_URL_TTL_SECONDS", default=24 * 3600)
EXPORT_DIR = VAR_DIR / "exports"
EXPORT_DIR.mkdir(parents=True, exist_ok=True)
# Phone numbers written without a country code are read in this region (ISO 3166 alpha-2).
SLUICE_DEFAULT_PHONE_REGION = env.str("SLUICE_DEFAULT_PHONE_REGION", default="US")
# Absolute URLs (poll_url, download_url) are built from the request unless this is set,
# e.g. behind a proxy that rewrites the host.
SLUICE_PUBLIC_BASE_URL = env.str("SLUICE_PUBLIC_BASE_URL", default="")

# --- Static, i18n -----------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging ----------------------------------------------------------------------------------

LOG_LEVEL = env.str("SLUICE_LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("SLUICE_LOG_FORMAT", default="text")  # text | json
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "common.logging.ContextFilter"}},
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s wf=%(workflow_id)s] "
            "%(message)s"
        },
        "json": {"()": "common.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Request logging is ours (common.middleware); Django's own would repeat it.
        "django.request": {"level": "ERROR", "propagate": True},
        "django.server": {"level": "WARNING", "propagate": True},
    },
}

# --- Credits ----------------------------------------------------------------------------------

# How long a quote from /credits/estimate stays redeemable.
SLUICE_QUOTE_TTL_SECONDS = env.int("SLUICE_QUOTE_TTL_SECONDS", default=300)
# Quote signing keys as `kid:secret` pairs, comma-separated; the FIRST signs new quotes, all of
# them verify, so a key can be rotated without voiding quotes in flight. Kids are [A-Za-z0-9].
# Empty: one key ("k0") derived from DJANGO_SECRET_KEY.
SLUICE_QUOTE_SIGNING_KEYS = env.list("SLUICE_QUOTE_SIGNING_KEYS", default=[])
# How often beat releases holds past their expires_at and purges long-expired unused quotes.
SLUICE_HOLD_SWEEP_SECONDS = env.int("SLUICE_HOLD_SWEEP_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["credits-expire-holds"] = {
    "task": "credits.tasks.holds_expire",
    "schedule": SLUICE_HOLD_SWEEP_SECONDS,
}
CELERY_BEAT_SCHEDULE["credits-purge-quotes"] = {
    "task": "credits.tasks.quotes_purge",
    "schedule": 3600,
}

# --- Providers (the waterfall; see docs/providers.md) -----------------------------------------

# Ordered provider names per data point. `sandbox` (no network) by default so a fresh install
# works offline; several sandboxes may stand in a row (`sandbox_a,sandbox_b`). A leading `cache`
# is accepted and ignored: the result cache is always consulted first.
SLUICE_WATERFALL_EMAIL = env.list("SLUICE_WATERFALL_EMAIL", default=["sandbox"])
SLUICE_WATERFALL_PHONE = env.list("SLUICE_WATERFALL_PHONE", default=["sandbox"])
SLUICE_WATERFALL_COMPANY = env.list("SLUICE_WATERFALL_COMPANY", default=["sandbox"])
# The email verifier; empty = found emails are kept with email_status "unknown".
SLUICE_VERIFIER = env.str("SLUICE_VERIFIER", default="sandbox")
SLUICE_PROVIDER_KEYS = {
    "hunter": env.str("HUNTER_API_KEY", default=""),
    "prospeo": env.str("PROSPEO_API_KEY", default=""),
    "pdl": env.str("PDL_API_KEY", default=""),
    "apollo": env.str("APOLLO_API_KEY", default=""),
    "zerobounce": env.str("ZEROBOUNCE_API_KEY", default=""),
    "neverbounce": env.str("NEVERBOUNCE_API_KEY", default=""),
    "dropcontact": env.str("DROPCONTACT_API_KEY", default=""),
}
# Overrides of the documented limits, e.g. "hunter=300/min:10,pdl=100/min" (rate[:burst]).
SLUICE_PROVIDER_RATE_LIMITS = env.dict("SLUICE_PROVIDER_RATE_LIMITS", default={})
# In-flight calls per provider per worker process, e.g. "hunter=5,sandbox=200".
SLUICE_PROVIDER_CONCURRENCY = env.dict(
    "SLUICE_PROVIDER_CONCURRENCY", cast={"value": int}, default={}
)
SLUICE_ENGINE_THREADS = env.int("SLUICE_ENGINE_THREADS", default=32)
SLUICE_PROVIDER_CONNECT_TIMEOUT_S = env.float("SLUICE_PROVIDER_CONNECT_TIMEOUT_S", default=3.05)
SLUICE_PROVIDER_READ_TIMEOUT_S = env.float("SLUICE_PROVIDER_READ_TIMEOUT_S", default=20.0)
# Retries on 429/5xx/timeouts: exponential backoff with full jitter, honouring Retry-After up to
# SLUICE_PROVIDER_MAX_RETRY_AFTER_S; a longer Retry-After skips to the next provider and marks
# this one limited until then (for every worker).
SLUICE_PROVIDER_MAX_RETRIES = env.int("SLUICE_PROVIDER_MAX_RETRIES", default=2)
SLUICE_PROVIDER_BACKOFF_BASE_S = env.float("SLUICE_PROVIDER_BACKOFF_BASE_S", default=0.25)
SLUICE_PROVIDER_BACKOFF_CAP_S = env.float("SLUICE_PROVIDER_BACKOFF_CAP_S", default=4.0)
SLUICE_PROVIDER_MAX_RETRY_AFTER_S = env.float("SLUICE_PROVIDER_MAX_RETRY_AFTER_S", default=5.0)
# Longest wait for a rate-limit token before falling through to the next provider.
SLUICE_RATE_LIMIT_MAX_WAIT_S = env.float("SLUICE_RATE_LIMIT_MAX_WAIT_S", default=5.0)
# Circuit breaker: opens after N transient failures within the window, half-opens (one probe)
# after the cool-down.
SLUICE_BREAKER_FAILURES = env.int("SLUICE_BREAKER_FAILURES", default=5)
SLUICE_BREAKER_WINDOW_S = env.float("SLUICE_BREAKER_WINDOW_S", default=30.0)
SLUICE_BREAKER_COOLDOWN_S = env.float("SLUICE_BREAKER_COOLDOWN_S", default=30.0)
# Global result cache (per provider, data point and identity); 0 disables it.
SLUICE_RESULT_CACHE_TTL_S = env.int("SLUICE_RESULT_CACHE_TTL_S", default=30 * 24 * 3600)
SLUICE_DROPCONTACT_POLL_INTERVAL_S = env.float("SLUICE_DROPCONTACT_POLL_INTERVAL_S", default=10.0)
SLUICE_DROPCONTACT_POLL_TIMEOUT_S = env.float("SLUICE_DROPCONTACT_POLL_TIMEOUT_S", default=90.0)


def _sandbox_instances() -> dict[str, dict]:
    """`SLUICE_SANDBOX[_<SUFFIX>]_<KNOB>` → {"sandbox[_suffix]": {knob: value}}; knobs of the
    plain `sandbox` apply to every instance unless the instance sets its own."""
    import os
    import re

    knobs = {
        "LATENCY_MS": float, "EMAIL_HIT_RATE": float, "PHONE_HIT_RATE": float,
        "COMPANY_HIT_RATE": float, "FINDER_INVALID_RATE": float, "FAULT_429_RATE": float,
        "FAULT_5XX_RATE": float, "FAULT_TIMEOUT_RATE": float, "FAULT_MALFORMED_RATE": float,
        "RETRY_AFTER_S": float, "RATE_LIMIT": str, "CONCURRENCY": int,
        "VERIFY_MIX": lambda v: tuple(float(x) for x in v.split(",")),
    }  # fmt: skip
    pattern = re.compile(rf"^SLUICE_SANDBOX(?:_([A-Z0-9]+))?_({'|'.join(knobs)})$")
    instances: dict[str, dict] = {}
    for key, value in os.environ.items():
        if match := pattern.match(key):
            name = "sandbox" + (f"_{match.group(1).lower()}" if match.group(1) else "")
            instances.setdefault(name, {})[match.group(2).lower()] = knobs[match.group(2)](value)
    return instances


SLUICE_SANDBOX_INSTANCES = _sandbox_instances()
CELERY_BEAT_SCHEDULE["providers-purge-expired-cache"] = {
    "task": "providers.purge_expired_cache",
    "schedule": 3600.0,
}

# --- Enrichment workflows ---------------------------------------------------------------------

# Leads per chunk task: big enough to amortise per-task overhead, small enough that a redelivered
# chunk redoes little work.
SLUICE_CHUNK_SIZE = env.int("SLUICE_CHUNK_SIZE", default=500)
# A claim older than this belongs to a dead worker; its items may be taken over.
SLUICE_CLAIM_TTL_SECONDS = env.int("SLUICE_CLAIM_TTL_SECONDS", default=300)
# A workflow still pending (or making no progress) this long has lost its message: re-dispatch.
SLUICE_STALL_GRACE_SECONDS = env.int("SLUICE_STALL_GRACE_SECONDS", default=60)
# Past this a workflow is ended by the sweeper (failed; the unsettled remainder goes to review).
SLUICE_WORKFLOW_DEADLINE_SECONDS = env.int("SLUICE_WORKFLOW_DEADLINE_SECONDS", default=6 * 3600)
# A person enrichment repeated within this window returns the earlier workflow, free.
SLUICE_REUSE_WINDOW_SECONDS = env.int("SLUICE_REUSE_WINDOW_SECONDS", default=7 * 24 * 3600)
SLUICE_SWEEP_INTERVAL_SECONDS = env.int("SLUICE_SWEEP_INTERVAL_SECONDS", default=30)
SLUICE_STATUS_RETRY_AFTER_SECONDS = env.int("SLUICE_STATUS_RETRY_AFTER_SECONDS", default=2)
SLUICE_WEBHOOK_MAX_ATTEMPTS = env.int("SLUICE_WEBHOOK_MAX_ATTEMPTS", default=5)
# First retry after about this long, doubling each time.
SLUICE_WEBHOOK_BACKOFF_SECONDS = env.float("SLUICE_WEBHOOK_BACKOFF_SECONDS", default=10.0)
SLUICE_WEBHOOK_TIMEOUT_SECONDS = env.float("SLUICE_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# A refused publish must fail fast so the API can answer 502 instead of hanging.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BEAT_SCHEDULE["enrichment-sweep"] = {
    "task": "enrichment.sweep_workflows",
    "schedule": float(SLUICE_SWEEP_INTERVAL_SECONDS),
}

# --- Operations -------------------------------------------------------------------------------

INSTALLED_APPS += ["ops"]  # /healthz, /readyz, /metrics
# Bearer token for /metrics (`Authorization: Bearer <token>`); empty = open (keep it on a
# private network then).
SLUICE_METRICS_TOKEN = env.str("SLUICE_METRICS_TOKEN", default="")
# How long a scrape's database aggregates are reused (shared cache); 0 = every scrape queries.
SLUICE_METRICS_CACHE_SECONDS = env.int("SLUICE_METRICS_CACHE_SECONDS", default=10)
# Connect/read timeout of the health checks' Redis pings, so a dead Redis fails fast.
SLUICE_HEALTH_TIMEOUT_S = env.float("SLUICE_HEALTH_TIMEOUT_S", default=1.0)

# Celery workers log through LOGGING above (config/celery.py connects `setup_logging`), and
# every line logged inside a task carries its task id and name.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
LOGGING["filters"]["task"] = {"()": "ops.logging.TaskContextFilter"}
LOGGING["handlers"]["console"]["filters"].append("task")
LOGGING["formatters"]["text"]["format"] = (
    "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s wf=%(workflow_id)s "
    "task=%(task_id)s] %(message)s"
)

# Queues. Everything goes to the default queue unless these are set; then the chunk work and
# the webhook deliveries go to their own queues, and each needs a worker that consumes it
# (`celery -A config worker -Q chunks`; see docs/operations.md).
CELERY_TASK_DEFAULT_QUEUE = env.str("SLUICE_DEFAULT_QUEUE", default="celery")
SLUICE_CHUNK_QUEUE = env.str("SLUICE_CHUNK_QUEUE", default="")
SLUICE_WEBHOOK_QUEUE = env.str("SLUICE_WEBHOOK_QUEUE", default="")
CELERY_TASK_ROUTES = {
    task: {"queue": queue}
    for task, queue in (
        ("enrichment.run_chunk", SLUICE_CHUNK_QUEUE),
        ("enrichment.deliver_webhook", SLUICE_WEBHOOK_QUEUE),
    )
    if queue
}

# Expired `cl-task_…` cohorts are invisible already; beat deletes them.
SLUICE_COHORT_PURGE_SECONDS = env.int("SLUICE_COHORT_PURGE_SECONDS", default=3600)
CELERY_BEAT_SCHEDULE["leads-purge-expired-cohorts"] = {
    "task": "leads.purge_expired_cohorts",
    "schedule": float(SLUICE_COHORT_PURGE_SECONDS),
}
