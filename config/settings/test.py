"""Test settings: always a PostgreSQL and a Redis of their own, never the embedded services and
never the ones a stack uses.

The suite reads TEST_DATABASE_URL and TEST_REDIS_URL (loopback defaults below) and nothing else
for its services: DATABASE_URL, REDIS_URL and CELERY_BROKER_URL belong to a running stack, and
the fixtures empty the test Redis database, so following them would erase that stack's queue
and cache. pytest-django creates the test database as `test_<name>`. No `.env` is read
(config/env.py): it describes the stack, not the suite. The defaults are put in the process
environment, so the processes a test starts (workers, manage.py) inherit them.
"""

import os
import sys
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
# The processes a test starts with another profile (the demo, the settings checks) read no
# `.env` either.
os.environ["SLUICE_ENV_FILE"] = ""
# Celery prefers these variables to its settings: a stack's broker must not get the suite's tasks.
os.environ.pop("CELERY_BROKER_URL", None)
os.environ.pop("CELERY_BROKER_READ_URL", None)
os.environ.pop("CELERY_BROKER_WRITE_URL", None)
# Generous request limits so the suite's own traffic is not throttled; the throttling tests
# set their own rates.
os.environ.setdefault("SLUICE_RATE_LIMIT_PER_KEY", "100000/min")
os.environ.setdefault("SLUICE_RATE_LIMIT_PER_WORKSPACE", "100000/min")
os.environ.setdefault("SLUICE_RATE_LIMIT_FAILED_AUTH", "100000/min")
os.environ.setdefault("SLUICE_VAR_DIR", "/tmp/sluice-test-var")

from config.env import env

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, cache_config, database_config
from .celery import broker_transport_options

# pytest-xdist (`make test` runs the suite in several processes, gw0, gw1, …): process gwN uses
# the Redis database N after TEST_REDIS_URL's, as pytest-django gives it a test database of its
# own (`test_<name>_gwN`), so no process sees another's queues, cache or flushes. Only the pytest
# process itself moves it: the processes a test starts inherit the moved URL, or are given one.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if "pytest" in sys.modules and _xdist_worker.startswith("gw"):
    _url = urlsplit(os.environ["TEST_REDIS_URL"])
    _db = int(_url.path.strip("/") or 0) + int(_xdist_worker[2:])
    os.environ["TEST_REDIS_URL"] = urlunsplit(_url._replace(path=f"/{_db}"))
DATABASES = {"default": database_config(env.str("TEST_DATABASE_URL"))}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise RuntimeError(
        "The test suite runs on PostgreSQL; set TEST_DATABASE_URL to a postgres:// URL."
    )
DATABASES["default"]["CONN_MAX_AGE"] = 0
REDIS_URL = env.str("TEST_REDIS_URL")
CACHES = cache_config(REDIS_URL)
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The API parses JSON bodies only (form bodies are 415): the test client sends JSON unless told.
REST_FRAMEWORK["TEST_REQUEST_DEFAULT_FORMAT"] = "json"
# The in-process suite never fetches /static/ (tests/browser runs real servers for that), so
# WhiteNoise skips indexing the apps' static files for every test client (about 6 ms each).
WHITENOISE_USE_FINDERS = False
# No beat runs in the suite: the sweeper's staleness is judged only by the tests about it.
SLUICE_SWEEPER_STALE_SECONDS = 0
