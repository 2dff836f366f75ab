"""Crash tests: a bulk run survives a SIGKILLed pool child and a SIGKILLed worker, with every
item terminal exactly once and one settlement. The sweeper is driven from the test, as beat
would run it."""

import os
import signal
from pathlib import Path

import pytest

from credits.models import LedgerEntry
from enrichment.models import Workflow, WorkflowItem, WorkflowStatus
from enrichment.services.start import bulk_enrichment_start
from tests.enrichment.conftest import (
    SANDBOX_ENV,
    assert_ledger_consistent,
    assert_settled,
    sweep_until_terminal,
)
from tests.enrichment.factories import list_quote, list_with_leads
from tests.helpers import wait_until
from tests.workers import WorkerProcess

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

LEADS = 2000
# Slow enough to kill mid-run, small chunks so a crash strands only a few items, short claim
# and stall windows so recovery happens within the test.
CRASH_ENV = {
    **SANDBOX_ENV,
    "SLUICE_SANDBOX_LATENCY_MS": "20",
    "SLUICE_CHUNK_SIZE": "50",
    "SLUICE_CLAIM_TTL_SECONDS": "2",
    "SLUICE_STALL_GRACE_SECONDS": "1",
}


@pytest.fixture
def crash_settings(settings):
    # The sweeper runs in this process: the same windows as the workers.
    settings.SLUICE_CLAIM_TTL_SECONDS = 2
    settings.SLUICE_STALL_GRACE_SECONDS = 1
    settings.SLUICE_CHUNK_SIZE = 50


def _start_bulk(workspace) -> Workflow:
    lead_list = list_with_leads(workspace, LEADS)
    started = bulk_enrichment_start(
        workspace=workspace,
        list_id=lead_list.pk,
        enrichment_type="partial",
        output="skip_existing",
        quote_id=list_quote(workspace, lead_list),
    )
    return started.workflow


def _mid_run(workflow_id: str) -> Workflow:
    def progressing():
        workflow = Workflow.objects.get(pk=workflow_id)
        return workflow if workflow.processed >= LEADS // 10 else None

    workflow = wait_until(progressing, timeout=60, interval=0.05)
    assert workflow.processed < LEADS, "the run ended before the crash; slow the sandbox down"
    return workflow


def _assert_recovered(workflow: Workflow, workspace) -> None:
    assert workflow.status == WorkflowStatus.COMPLETED, workflow.error
    assert_settled(workflow)
    assert_ledger_consistent(workspace)
    items = WorkflowItem.objects.filter(workflow=workflow)
    # Every lead exactly once (the unique constraint), and each one terminal and counted once.
    assert items.count() == items.values("lead").distinct().count() == LEADS
    assert workflow.processed == (
        workflow.completed + workflow.not_found + workflow.failed + workflow.skipped
    )
    assert workflow.failed == 0
    entries = LedgerEntry.objects.filter(workflow_id=workflow.pk)
    assert entries.filter(kind="charge").count() == 1
    assert entries.filter(kind="release").count() == 1
    assert workflow.credits_charged + workflow.credits_refunded == workflow.credits_reserved
    assert workflow.credits_charged == workflow.found_emails > 0


def test_crash_pool_child_sigkilled_mid_run(funded, crash_settings, sole_consumer):
    # given a bulk run in progress on a two-child worker
    worker = WorkerProcess(env=CRASH_ENV, concurrency=2).start()
    try:
        workflow = _start_bulk(funded)
        _mid_run(workflow.pk)
        victim = worker.children()[0]

        # when one pool child dies without warning
        os.kill(victim, signal.SIGKILL)

        # then the pool replaces it and the run completes once the sweeper re-sends the
        # dead child's chunk (its claims expire)
        workflow = sweep_until_terminal(workflow.pk, timeout=90)
        # A run that needed none of the victim's chunks can end before the pool has reaped
        # and replaced it (pgrep lists it until then).
        wait_until(lambda: victim not in worker.children(), timeout=30)
        log = Path(worker.log.name).read_text(errors="replace")
        assert "signal 9" in log or "SIGKILL" in log
    finally:
        worker.stop()
    _assert_recovered(workflow, funded)


def test_crash_whole_worker_sigkilled_then_replaced(funded, crash_settings, sole_consumer):
    # given a bulk run in progress
    first = WorkerProcess(env=CRASH_ENV, concurrency=2).start()
    try:
        workflow = _start_bulk(funded)
        _mid_run(workflow.pk)

        # when the whole worker (main process and children) is SIGKILLed
        first.kill(signal.SIGKILL)
    finally:
        first.stop()
    stranded = Workflow.objects.get(pk=workflow.pk)
    assert stranded.processed < LEADS
    second = WorkerProcess(env=CRASH_ENV, concurrency=2).start()
    try:
        # then a new worker, nudged by the sweeper, finishes the run
        workflow = sweep_until_terminal(workflow.pk, timeout=90)
    finally:
        second.stop()
    _assert_recovered(workflow, funded)
