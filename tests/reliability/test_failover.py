"""Failover in seconds (issue 15): a chunk's claim is a lease its worker renews while the chunk
runs. A killed worker's chunks go to its replacement without beat and without the broker's
redelivery; a slow but live chunk is never taken over; a planner still inserting when its run
expires leaves no queued item behind."""

import threading
import time
from collections import defaultdict
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from enrichment.models import (
    ClosedChunk,
    ItemStatus,
    SweeperRun,
    Workflow,
    WorkflowItem,
    WorkflowStatus,
)
from enrichment.services.execution import (
    SWEEP_WORKFLOWS,
    chunk_run,
    workflow_plan,
    workflows_sweep,
)
from tests.helpers import wait_until
from tests.reliability.faults import assert_invariants, count_fault, fund, start_bulk
from tests.workers import SANDBOX_ENV, WorkerProcess, wait_terminal

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

# Short leases so a dead claim runs out within the test; the test process (the sweeper, when a
# test runs it) uses the same windows.
LEASE_WINDOWS = {"SLUICE_CHUNK_SIZE": 50, "SLUICE_CLAIM_TTL_SECONDS": 3}
LEASE_ENV = {
    **SANDBOX_ENV,
    "SLUICE_SANDBOX_LATENCY_MS": "20",
    **{name: str(value) for name, value in LEASE_WINDOWS.items()},
}


@pytest.fixture
def lease_settings(settings):
    for name, value in LEASE_WINDOWS.items():
        setattr(settings, name, value)
    settings.SLUICE_CLAIM_HEARTBEAT_SECONDS = settings.SLUICE_CLAIM_TTL_SECONDS / 5
    return settings


def _running_chunks(workflow_id: str) -> set[int]:
    return set(
        WorkflowItem.objects.filter(workflow_id=workflow_id, status=ItemStatus.RUNNING)
        .values_list("chunk_no", flat=True)
        .distinct()
    )


@pytest.mark.worker
def test_failover_killed_worker_chunks_go_to_its_replacement_without_beat(
    workspace, lease_settings, sole_consumer
):
    # given a bulk run whose worker has a chunk in each of its two pool children
    leads = 1000
    fund(workspace, leads * 2)
    first = WorkerProcess(env=LEASE_ENV, concurrency=2).start()
    second = None
    try:
        workflow = start_bulk(workspace, leads)
        # Both children mid-chunk, the run planned: the worker holds no message it has not
        # claimed yet, but perhaps the planner's (whose process runs chunks while it plans),
        # which the replacement does not need once the plan is written.
        wait_until(
            lambda: (
                len(_running_chunks(workflow.pk)) >= 2
                and Workflow.objects.get(pk=workflow.pk).planned
            ),
            timeout=60,
            interval=0.01,
        )

        # when the whole worker is SIGKILLed, and a replacement starts (nobody runs beat)
        first.kill()
        count_fault("SIGKILL whole worker")
        orphaned = set(
            WorkflowItem.objects.filter(workflow=workflow, status=ItemStatus.RUNNING).values_list(
                "id", flat=True
            )
        )
        assert orphaned, "the run ended before the kill"
        second = WorkerProcess(env=LEASE_ENV, concurrency=2).start()

        # then the replacement finishes the run, the dead worker's chunks included
        done = wait_terminal(workflow.pk, timeout=180)
    finally:
        for process in (first, second):
            if process:
                process.kill()
    assert done.status == WorkflowStatus.COMPLETED, done.error
    assert done.total == done.processed == leads
    assert not WorkflowItem.objects.filter(id__in=orphaned, status=ItemStatus.FAILED).exists()
    assert not SweeperRun.objects.filter(name=SWEEP_WORKFLOWS).exists(), "beat ran meanwhile"
    assert_invariants(workspace, label="worker failover")


@pytest.mark.worker
def test_failover_live_slow_chunk_is_never_taken_over(workspace, settings, sole_consumer):
    # given chunks that each take several times the lease (3 s per provider call, 2 s lease)
    settings.SLUICE_CLAIM_TTL_SECONDS = 2
    settings.SLUICE_CLAIM_HEARTBEAT_SECONDS = 0.4
    slow_env = {**SANDBOX_ENV, "SLUICE_SANDBOX_LATENCY_MS": "3000", "SLUICE_CHUNK_SIZE": "2",
                "SLUICE_CLAIM_TTL_SECONDS": "2"}  # fmt: skip
    fund(workspace, 100)
    worker = WorkerProcess(env=slow_env, concurrency=2).start()
    tokens: dict[int, set[str]] = defaultdict(set)
    recovered = 0
    try:
        # (every email found, so each lead costs a find and a verification: 6 s)
        workflow = start_bulk(workspace, 4, emails_found=True)
        started = time.monotonic()

        # when the sweeper runs over and over while they run
        def finished() -> bool:
            nonlocal recovered
            claims = WorkflowItem.objects.filter(workflow=workflow, status=ItemStatus.RUNNING)
            for item_id, token in claims.values_list("id", "claim_token"):
                tokens[item_id].add(token)
            recovered += workflows_sweep()["recovered"]
            return Workflow.objects.get(pk=workflow.pk).is_terminal

        wait_until(finished, timeout=120, interval=0.1)
        elapsed = time.monotonic() - started
    finally:
        worker.stop()

    # then every item was claimed once, by the chunk that finished it: nothing was taken over
    assert elapsed > 3 * settings.SLUICE_CLAIM_TTL_SECONDS, "the chunks outlived no lease"
    assert recovered == 0
    assert len(tokens) == 4
    assert all(len(seen) == 1 for seen in tokens.values()), tokens
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED, workflow.error
    assert_invariants(workspace, label="live slow chunk")


def test_failover_sweeper_releases_only_dead_claims(workspace, lease_settings, sole_consumer):
    # given a running bulk run with three claimed chunks: one whose lease ran out, one renewed
    # a moment ago by a process that has since died (no owner lock), and a live one (its owner
    # holds the lock on a connection of its own)
    fund(workspace, 1000)
    workflow = start_bulk(workspace, 150)
    workflow_plan(workflow_id=workflow.pk)  # no worker: plan here; the chunks' messages wait
    now = timezone.now()
    for chunk_no, token, claimed_at in ((0, "expired", now - timedelta(seconds=60)),
                                        (1, "died", now), (2, "alive", now)):  # fmt: skip
        WorkflowItem.objects.filter(workflow=workflow, chunk_no=chunk_no).update(
            status=ItemStatus.RUNNING, claim_token=token, claimed_at=claimed_at
        )
    owner = connections.create_connection("default")
    try:
        with owner.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtextextended('alive', 0))")

        # when beat's sweeper runs
        report = workflows_sweep()
    finally:
        owner.close()

    # then the dead claims' chunks are queued again and re-sent; the live claim is left alone
    assert report["recovered"] == 2
    items = WorkflowItem.objects.filter(workflow=workflow)
    assert not items.filter(claim_token__in=("expired", "died")).exists()
    assert items.filter(chunk_no__in=(0, 1), status=ItemStatus.QUEUED).count() == 100
    assert items.filter(chunk_no=2, status=ItemStatus.RUNNING, claim_token="alive").count() == 50
    assert SweeperRun.objects.get(name=SWEEP_WORKFLOWS).report["recovered"] == 2


def test_failover_sweeper_finds_dead_claims_among_finished_and_queued_chunks(
    workspace, lease_settings, sole_consumer
):
    # given a running bulk run of four chunks: chunk 0 finished, chunk 1 half recorded (its
    # first items done) and the rest held by a process that died, chunk 2 still queued, chunk 3
    # held by a process that died (the sweeper walks the open chunks, not every item)
    fund(workspace, 1000)
    workflow = start_bulk(workspace, 200)
    workflow_plan(workflow_id=workflow.pk)
    items = WorkflowItem.objects.filter(workflow=workflow)
    now = timezone.now()
    items.filter(chunk_no__in=(0, 1, 3)).update(
        status=ItemStatus.RUNNING, claim_token="died", claimed_at=now
    )
    first_of_chunk_1 = items.filter(chunk_no=1).order_by("id").values_list("id", flat=True)[:25]
    for finished in (items.filter(chunk_no=0), items.filter(id__in=list(first_of_chunk_1))):
        finished.update(status=ItemStatus.NOT_FOUND, finished_at=now)

    # when beat's sweeper runs
    report = workflows_sweep()

    # then the dead claim's open items in chunks 1 and 3 are queued again; nothing else moved
    assert report["recovered"] == 2
    assert items.filter(chunk_no__in=(1, 3), status=ItemStatus.QUEUED).count() == 75
    assert items.filter(status=ItemStatus.RUNNING).count() == 0
    assert items.filter(status=ItemStatus.NOT_FOUND).count() == 75
    assert items.filter(chunk_no=2, status=ItemStatus.QUEUED).count() == 50
    # and the finished chunk is closed: the next sweeps do not read its items again
    closed = ClosedChunk.objects.filter(workflow=workflow).values_list("chunk_no", flat=True)
    assert list(closed) == [0]


def test_failover_redelivered_chunk_takes_back_a_dead_process_items_at_once(
    workspace, lease_settings, sole_consumer
):
    # given two chunks claimed a moment ago (leases fresh): chunk 0's owner process is gone
    # (its lock is free, as when a pool child is SIGKILLed), chunk 1's holds its lock
    fund(workspace, 1000)
    workflow = start_bulk(workspace, 100)
    workflow_plan(workflow_id=workflow.pk)
    for chunk_no, token in ((0, "died"), (1, "alive")):
        WorkflowItem.objects.filter(workflow=workflow, chunk_no=chunk_no).update(
            status=ItemStatus.RUNNING, claim_token=token, claimed_at=timezone.now()
        )
    owner = connections.create_connection("default")
    try:
        with owner.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtextextended('alive', 0))")

        # when both chunks' messages are delivered again (reject_on_worker_lost)
        chunk_run(workflow_id=workflow.pk, chunk_no=0)
        chunk_run(workflow_id=workflow.pk, chunk_no=1)
    finally:
        owner.close()

    # then the dead process's items were taken back and finished; the live owner's are untouched
    items = WorkflowItem.objects.filter(workflow=workflow)
    assert not items.filter(chunk_no=0, status=ItemStatus.RUNNING).exists()
    assert items.filter(chunk_no=1, status=ItemStatus.RUNNING, claim_token="alive").count() == 50


def _wait_for_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row and row[0] == "Lock")


def test_failover_planner_inserting_when_its_run_expires_leaves_no_queued_item(
    workspace, sole_consumer
):
    # given a bulk run past its deadline whose planner is held mid-insert (its INSERT waits on
    # the list's table), as a planner still inserting when the deadline passed would be
    fund(workspace, 1000)
    workflow = start_bulk(workspace, 120)
    Workflow.objects.filter(pk=workflow.pk).update(
        status=WorkflowStatus.RUNNING, deadline=timezone.now() - timedelta(seconds=1)
    )
    blocker = connections.create_connection("default")
    blocker.set_autocommit(False)
    with blocker.cursor() as cursor:
        cursor.execute("LOCK TABLE leads_listmembership IN ACCESS EXCLUSIVE MODE")
    pids: dict[str, int] = {}
    errors: list[BaseException] = []

    def in_thread(name: str, work) -> threading.Thread:
        def run() -> None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    pids[name] = cursor.fetchone()[0]
                work()
            except BaseException as exc:  # re-raised by the test below
                errors.append(exc)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    try:
        planner = in_thread("planner", lambda: workflow_plan(workflow_id=workflow.pk))
        wait_until(lambda: "planner" in pids and _wait_for_lock(pids["planner"]), timeout=30)

        # when the sweeper expires the run meanwhile
        sweeper = in_thread("sweeper", workflows_sweep)
        wait_until(lambda: "sweeper" in pids and _wait_for_lock(pids["sweeper"]), timeout=30)
    finally:
        blocker.rollback()  # the planner's insert goes ahead
        blocker.close()
    planner.join(timeout=60)
    sweeper.join(timeout=60)
    assert not errors, errors

    # then the run ended with every item it has failed, none left queued
    workflow.refresh_from_db()
    # (failed by the expiry, or settled failed by the planner a moment before it: either way)
    assert workflow.status == WorkflowStatus.FAILED
    items = WorkflowItem.objects.filter(workflow=workflow)
    assert not items.exclude(status=ItemStatus.FAILED).exists()
    assert items.count() == workflow.total == workflow.processed == workflow.failed
