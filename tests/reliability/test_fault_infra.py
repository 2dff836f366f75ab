"""Broker and database faults (issue 7, item 2): the broker's Redis stopped and started again
mid-run (a private `redis-server`: the shared one serves other test runs), and the workers'
PostgreSQL connections terminated mid-run. The worker reconnects and the run completes."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

from enrichment.models import ItemStatus, WorkflowItem, WorkflowStatus
from tests.helpers import wait_until
from tests.reliability.conftest import LONG
from tests.reliability.faults import (
    CHAOS_ENV,
    PrivateRedis,
    assert_invariants,
    celery_broker,
    count_fault,
    fund,
    processed,
    start_bulk,
    sweep_once,
    sweep_until_all_terminal,
    wait_progress,
)
from tests.workers import WorkerProcess

pytestmark = [pytest.mark.reliability, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LEADS = 5_000 if LONG else 1_000
REDIS_RESTARTS = 3 if LONG else 1
TERMINATIONS = 60 if LONG else 15


# What the worker's consumer logs while its broker is unreachable.
_REFUSED = "consumer: Cannot connect to redis"


def _log(worker: WorkerProcess) -> str:
    return Path(worker.log.name).read_text(errors="replace")


@contextmanager
def _worker_on_private_redis(**env: str) -> Iterator[tuple[PrivateRedis, WorkerProcess]]:
    """A worker whose broker (and limits, and cache) is a private Redis, which this test's
    Celery app publishes to as well; the worker killed and the server gone afterwards."""
    server = PrivateRedis().start()
    worker = None
    try:
        with celery_broker(server.url):
            worker = WorkerProcess(env={**CHAOS_ENV, "TEST_REDIS_URL": server.url, **env}).start()
            yield server, worker
    finally:
        if worker:
            worker.kill()
        server.close()


def test_fault_broker_redis_restarted_mid_run(workspace, chaos_settings, sole_consumer):
    # given a worker whose broker (and limits, and cache) is a private Redis, mid-run
    fund(workspace, LEADS * 2)
    with _worker_on_private_redis() as (server, worker):
        workflow = start_bulk(workspace, LEADS)
        for restart in range(REDIS_RESTARTS):
            share = (restart + 1) / (REDIS_RESTARTS + 2)
            wait_progress(workflow.pk, int(share * LEADS), timeout=120)
            assert processed(workflow.pk) < LEADS, "the run ended before the restart"

            # when Redis goes away (its queue with it: nothing is persisted) and comes back
            server.stop()
            count_fault("Redis stopped and restarted")
            seen = _log(worker).count(_REFUSED)
            wait_until(
                lambda seen=seen: _log(worker).count(_REFUSED) > seen, timeout=30, interval=0.2
            )
            server.start()

        # then the worker reconnects and, nudged by the sweeper, finishes the run
        sweep_until_all_terminal(workspace, timeout=240)
        assert worker.process.poll() is None, "the worker died instead of reconnecting"
        assert _log(worker).count(_REFUSED) >= REDIS_RESTARTS
        assert _log(worker).count("Connected to redis") == 1 + REDIS_RESTARTS
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED, workflow.error
    assert workflow.total == LEADS
    assert workflow.failed == 0
    assert_invariants(workspace, label="Redis restarted")


def test_fault_broker_lost_while_a_chunk_is_unacknowledged(
    workspace, chaos_settings, sole_consumer
):
    # given a worker whose broker is a private Redis, in the middle of a slow chunk (its
    # message delivered and not yet acknowledged)
    fund(workspace, 200)
    with _worker_on_private_redis(SLUICE_SANDBOX_LATENCY_MS="400") as (server, worker):
        workflow = start_bulk(workspace, 100)
        wait_until(
            lambda: WorkflowItem.objects.filter(
                workflow_id=workflow.pk, status=ItemStatus.RUNNING
            ).exists(),
            timeout=60,
        )

        # when the broker goes away then
        server.stop()
        wait_until(lambda: _REFUSED in _log(worker), timeout=30, interval=0.2)

        # then the worker keeps retrying instead of exiting on the message it could not
        # hand back, and finishes the run once the broker is back
        assert worker.process.poll() is None, worker.output()
        server.start()
        sweep_until_all_terminal(workspace, timeout=120)
        assert worker.process.poll() is None, worker.output()
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED, workflow.error
    assert_invariants(workspace, label="broker lost mid-chunk")


def _terminate_worker_backends() -> int:
    """pg_terminate_backend on every other client of this test database (the workers'):
    never another database, never this test's own connection."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
            FROM pg_stat_activity
            WHERE datname = current_database()
              AND pid <> pg_backend_pid()
              AND backend_type = 'client backend'
            """
        )
        return cursor.fetchone()[0]


def test_fault_database_connections_terminated_mid_run(workspace, chaos_settings, sole_consumer):
    # given a bulk run in progress
    fund(workspace, LEADS * 2)
    worker = WorkerProcess(env=CHAOS_ENV).start()
    terminated = 0
    try:
        workflow = start_bulk(workspace, LEADS)
        wait_progress(workflow.pk, LEADS // 10, timeout=120)

        # when the workers' database connections are terminated again and again mid-run
        deadline = time.monotonic() + 120
        while terminated < TERMINATIONS and processed(workflow.pk) < LEADS:
            assert time.monotonic() < deadline, f"only {terminated} connections met mid-run"
            terminated += _terminate_worker_backends()
            time.sleep(0.05)  # a fault rate, not a wait for a condition
            sweep_once()
        count_fault("PostgreSQL backend terminated", terminated)

        # then the worker reconnects (tasks retry) and the run completes
        sweep_until_all_terminal(workspace, timeout=240)
        assert worker.process.poll() is None
        retried = _log(worker).count("retry: Retry in")
        assert "OperationalError" in _log(worker), "no termination reached a running task"
        count_fault("task retried after a terminated connection", retried)
    finally:
        worker.kill()
    assert terminated >= TERMINATIONS
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED, workflow.error
    assert workflow.total == LEADS
    assert_invariants(workspace, label="PostgreSQL connections terminated")
