"""Dependency checks for `/healthz` and `/readyz`.

Each check answers `{"status": "ok" | "fail", "latency_ms": …}` and, on failure, only the
exception's class name: driver messages carry hosts, ports and sometimes credentials, and these
endpoints are unauthenticated. The full error goes to the log instead.
"""

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NotRequired, TypedDict

import redis
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from enrichment.selectors import SweeperStatus, sweeper_status

logger = logging.getLogger(__name__)

# Once every migration is applied it stays applied for this process (code and graph are
# fixed at start), so the graph is loaded from disk only until the first success.
_migrations_applied = False


class CheckResult(TypedDict):
    status: str  # "ok" | "fail"
    latency_ms: float
    error: NotRequired[str]  # the exception's class name, on failure
    last_run_at: NotRequired[str | None]  # the sweeper's check: when it last finished
    age_s: NotRequired[float]


def _timed(name: str, check: Callable[[], None]) -> CheckResult:
    started = time.perf_counter()
    error: str | None = None
    try:
        check()
    except Exception as exc:
        logger.warning("health check %s failed: %s", name, exc)
        error = type(exc).__name__
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    if error is None:
        return {"status": "ok", "latency_ms": latency_ms}
    return {"status": "fail", "error": error, "latency_ms": latency_ms}


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _redis_ping(url: str) -> None:
    timeout = settings.SLUICE_HEALTH_TIMEOUT_S
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        if not client.ping():
            raise ConnectionError("no PONG")
    finally:
        client.close()


def _filesystem_broker() -> None:
    """The embedded broker is a pair of folders: both must exist and take a new file."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    folders = {options["data_folder_in"], options["data_folder_out"], options["processed_folder"]}
    for folder in sorted(folders):
        if not Path(folder).is_dir():
            raise FileNotFoundError(folder)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".healthz-"):
            pass


def _broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://", "unix://")):
        _redis_ping(url)
    elif url.startswith("filesystem"):
        _filesystem_broker()
    else:
        raise NotImplementedError("no health check for this broker transport")


def dependency_checks() -> dict[str, CheckResult]:
    checks = {"database": _timed("database", _database), "broker": _timed("broker", _broker)}
    # The cache (and the provider rate limits and breakers in it) is a second use of Redis;
    # check it on its own when it is not the broker's server.
    if settings.REDIS_URL and settings.REDIS_URL != settings.CELERY_BROKER_URL:
        checks["redis"] = _timed("redis", lambda: _redis_ping(settings.REDIS_URL))
    return checks


def _migrations() -> None:
    global _migrations_applied
    if _migrations_applied:
        return
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise PendingMigrations(f"{len(pending)} migration(s) not applied")
    _migrations_applied = True


class PendingMigrations(Exception):
    pass


class SweeperStale(Exception):
    pass


def _sweeper() -> CheckResult:
    """Beat's sweeper finished a sweep within SLUICE_SWEEPER_STALE_SECONDS."""
    status: SweeperStatus | None = None

    def check() -> None:
        nonlocal status
        status = sweeper_status()
        if status.stale:
            raise SweeperStale(f"no sweep for {status.age_s:.0f} s")

    result = _timed("sweeper", check)
    if status is not None:
        last = status.last_run_at
        result["last_run_at"] = last.isoformat().replace("+00:00", "Z") if last else None
        result["age_s"] = round(status.age_s, 1)
    return result


def readiness_checks() -> dict[str, CheckResult]:
    checks = dependency_checks()
    if checks["database"]["status"] == "ok":
        checks["migrations"] = _timed("migrations", _migrations)
        checks["sweeper"] = _sweeper()
    else:
        checks["migrations"] = {"status": "fail", "error": "DatabaseUnavailable", "latency_ms": 0}
    return checks


def overall(checks: dict[str, CheckResult]) -> str:
    return "ok" if all(c["status"] == "ok" for c in checks.values()) else "fail"
