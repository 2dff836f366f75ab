"""Test settings: always the real PostgreSQL and Redis, never the embedded services.

`DATABASE_URL` / `REDIS_URL` may point elsewhere (e.g. a separate database per checkout); the
test database is `test_<name>`, created by pytest-django. The defaults are put in the process
environment, so the processes a test starts (workers, manage.py) inherit them.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
# Generous request limits so the suite's own traffic is not throttled; the throttling tests
# set their own rates.
os.environ.setdefault("SLUICE_RATE_LIMIT_PER_KEY", "100000/min")
os.environ.setdefault("SLUICE_RATE_LIMIT_PER_WORKSPACE", "100000/min")
os.environ.setdefault("SLUICE_VAR_DIR", "/tmp/sluice-test-var")

from config.env import env

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, cache_config, database_config
from .celery import broker_transport_options

DATABASES = {"default": database_config(env.str("DATABASE_URL"))}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise RuntimeError("The test suite runs on PostgreSQL; set DATABASE_URL to a postgres:// URL.")
DATABASES["default"]["CONN_MAX_AGE"] = 0
REDIS_URL = env.str("REDIS_URL")
CACHES = cache_config(REDIS_URL)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The API parses JSON bodies only (form bodies are 415): the test client sends JSON unless told.
REST_FRAMEWORK["TEST_REQUEST_DEFAULT_FORMAT"] = "json"
# The in-process suite never fetches /static/ (tests/browser runs real servers for that), so
# WhiteNoise skips indexing the apps' static files for every test client (about 6 ms each).
WHITENOISE_USE_FINDERS = False
