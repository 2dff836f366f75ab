"""Worker crashes (issue 7, item 1): SIGKILLs of pool children and of the worker's main process
at seeded random moments of a bulk run, a replacement worker after every main-process kill, the
sweeper driven by the test as beat would; and a SIGTERM warm shutdown mid-run."""

import contextlib
import os
import random
import signal
import time

import pytest

from enrichment.models import ItemStatus, WorkflowItem, WorkflowStatus
from tests.helpers import wait_until
from tests.reliability.conftest import LONG
from tests.reliability.faults import (
    CHAOS_ENV,
    assert_invariants,
    count_fault,
    fund,
    processed,
    start_bulk,
    sweep_until_all_terminal,
    wait_progress,
)
from tests.workers import WorkerProcess

pytestmark = [pytest.mark.reliability, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# CI: fewer leads and kills; `make chaos`: the numbers.
LEADS = 10_000 if LONG else 3_000
KILLS = 20
SEED = 20250707
# Few calls in flight, so the run's progress comes in small steps the kills can land between:
# at the default 128 threads a process, a replacement worker finished the last tenth of the
# run before the test could look (the property is the same at any thread count).
KILLS_ENV = {**CHAOS_ENV, "SLUICE_ENGINE_THREADS": "4"}


def _kill_schedule(rng: random.Random) -> list[tuple[float, str]]:
    """(share of the leads processed, target) for each kill; both kinds of target always."""
    moments = sorted(rng.uniform(0.02, 0.9) for _ in range(KILLS))
    targets = ["child", "main"] + [rng.choice(("child", "main")) for _ in range(KILLS - 2)]
    rng.shuffle(targets)
    return list(zip(moments, targets, strict=True))


def _kill_main(worker: WorkerProcess) -> None:
    """SIGKILLs the worker's main process only; its orphaned pool children may still finish
    (and try to write) their chunk, then go the way a supervisor sends them."""
    os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.wait(timeout=30)
    time.sleep(0.5)  # let an orphan try to write with its (soon stale) claim
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.process.pid, signal.SIGKILL)


def test_fault_workers_sigkills_during_bulk_run(workspace, chaos_settings, sole_consumer):
    # given a bulk run on a two-child worker, and a seeded schedule of kills
    rng = random.Random(SEED)
    fund(workspace, LEADS * 2)
    workers = [WorkerProcess(env=KILLS_ENV, concurrency=2).start()]
    kills = {"child": 0, "main": 0}
    try:
        workflow = start_bulk(workspace, LEADS)
        for share, target in _kill_schedule(rng):
            wait_progress(workflow.pk, int(share * LEADS), timeout=120 if not LONG else 600)
            assert processed(workflow.pk) < LEADS, "the run ended before every kill happened"
            live = workers[-1]
            # when a pool child, or the main process, is killed without warning
            if target == "child":
                children = wait_until(live.children, timeout=30, interval=0.05)
                os.kill(rng.choice(children), signal.SIGKILL)
            else:
                _kill_main(live)
                workers.append(WorkerProcess(env=KILLS_ENV, concurrency=2).start())
            kills[target] += 1
            count_fault(f"SIGKILL {target}")

        # then the run completes once the sweeper has re-sent the dead claims' chunks
        sweep_until_all_terminal(workspace, timeout=180 if not LONG else 900)
    finally:
        for process in workers:
            process.kill()
    workflow.refresh_from_db()
    assert min(kills.values()) >= 1
    assert sum(kills.values()) == KILLS
    assert workflow.status == WorkflowStatus.COMPLETED, workflow.error
    assert workflow.total == LEADS
    assert workflow.failed == 0
    assert workflow.found_emails > 0
    assert_invariants(workspace, label="worker SIGKILLs")


def test_fault_workers_sigterm_warm_shutdown(workspace, chaos_settings, sole_consumer):
    # given a bulk run with a chunk in flight (slow provider: a chunk takes about a second)
    leads = 600
    fund(workspace, leads * 2)
    slow_env = {**CHAOS_ENV, "SLUICE_SANDBOX_LATENCY_MS": "150"}
    first = WorkerProcess(env=slow_env, concurrency=2).start()
    second = None
    try:
        workflow = start_bulk(workspace, leads)
        wait_until(
            lambda: WorkflowItem.objects.filter(
                workflow=workflow, status=ItemStatus.RUNNING
            ).exists(),
            timeout=60,
            interval=0.02,
        )
        in_flight = set(
            WorkflowItem.objects.filter(workflow=workflow, status=ItemStatus.RUNNING).values_list(
                "id", flat=True
            )
        )

        # when the worker is asked to stop (SIGTERM: warm shutdown)
        first.process.send_signal(signal.SIGTERM)
        count_fault("SIGTERM warm shutdown")
        code = first.process.wait(timeout=120)

        # then it finishes the chunk it is running before it exits, and leaves the rest
        assert code == 0, first.output()
        assert "warm shutdown" in first.output().lower()
        unfinished = WorkflowItem.objects.filter(id__in=in_flight).exclude(
            status__in=(ItemStatus.COMPLETED, ItemStatus.NOT_FOUND)
        )
        assert not unfinished.exists(), "the in-flight chunk was abandoned by a warm shutdown"
        assert processed(workflow.pk) < leads, "the run ended before the shutdown"

        # and a new worker finishes the run: nothing lost
        second = WorkerProcess(env=slow_env, concurrency=2).start()
        sweep_until_all_terminal(workspace, timeout=180)
    finally:
        for process in (first, second):
            if process:
                process.stop()
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED, workflow.error
    assert workflow.total == leads
    assert workflow.failed == 0
    assert_invariants(workspace, label="worker SIGTERM")
