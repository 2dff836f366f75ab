"""The local profile: the default of manage.py and `celery -A config` (`make demo`, `make run`).

With nothing set it runs on embedded services, SQLite (WAL) and Celery's filesystem broker under
var/, so the demo needs no server; DATABASE_URL and REDIS_URL move it onto PostgreSQL and Redis.
"""

from config.env import VAR_DIR, env

from .base import *  # noqa: F403
from .base import cache_config, database_config
from .celery import broker_transport_options

DATABASES = {
    "default": database_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'sluice.sqlite3'}"
    )
}
# Redis: broker, cache, and the rate limits and circuit breakers every process shares.
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED_MODE = not REDIS_URL
CACHES = cache_config(REDIS_URL)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)
