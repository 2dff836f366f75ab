"""A smart-agent run survives a SIGKILLed worker like an enrichment run: every lead processed
exactly once, a value in the list's column for each lead that got one, and one settlement that
charges the succeeded rows and releases the rest. The sweeper is driven from the test, as beat
would run it."""

import signal

import pytest

from agents.models import AgentOutput
from agents.services import smart_agent_start
from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.services import quote_create
from enrichment.models import Workflow, WorkflowItem, WorkflowStatus
from leads.models import Lead, ListMembership
from tests.enrichment.factories import list_with_leads
from tests.helpers import wait_until
from tests.workers import (
    WorkerProcess,
    assert_ledger_consistent,
    assert_settled,
    sweep_until_terminal,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

LEADS = 600
PRICE = 3  # cold_intro_email
NAMELESS = LEADS // 5  # leads the template cannot fill: no value, nothing charged
# A slow sandbox model and small chunks: killed mid-run, a crash strands a few chunks, and the
# short claim and stall windows let the sweeper recover them within the test.
CRASH_ENV = {
    "SLUICE_LLM_PROVIDER": "sandbox",
    "SLUICE_LLM_SANDBOX_LATENCY_MS": "40",
    "SLUICE_LLM_CONCURRENCY": "4",
    "SLUICE_CHUNK_SIZE": "50",
    "SLUICE_CLAIM_TTL_SECONDS": "2",
    "SLUICE_STALL_GRACE_SECONDS": "1",
}


@pytest.fixture
def crash_settings(settings):
    settings.SLUICE_CLAIM_TTL_SECONDS = 2
    settings.SLUICE_STALL_GRACE_SECONDS = 1
    settings.SLUICE_CHUNK_SIZE = 50


def _start(workspace) -> Workflow:
    lead_list = list_with_leads(workspace, LEADS, title="Head of Growth")
    nameless = lead_list.memberships.order_by("id").values_list("lead_id", flat=True)[::5]
    Lead.objects.filter(pk__in=list(nameless)).update(first_name="")
    params = {
        "list_id": str(lead_list.pk),
        "agent_type": "cold_intro_email",
        "column_name": "Angle",
    }
    quote = quote_create(workspace=workspace, tool="run_smart_agent", params=params).quote
    # The sandbox model polishes each filled template: slow enough to be killed mid-run.
    run = smart_agent_start(
        workspace=workspace, api_key=None, list_id=lead_list.pk, agent_type="cold_intro_email",
        prompt="Hi {first_name}, a thought for {company}.", column_name="Angle",
        lead_scope="subset", max_rows=LEADS, quote_id=quote.quote_id, overwrite=False,
    )  # fmt: skip
    return run.workflow


def test_crash_agent_run_whole_worker_sigkilled_then_replaced(
    funded, crash_settings, sole_consumer
):
    before = balance_get(workspace=funded).balance
    first = WorkerProcess(env=CRASH_ENV, concurrency=2).start()
    try:
        workflow = _start(funded)

        # given the run in progress
        def progressing():
            current = Workflow.objects.get(pk=workflow.pk)
            return current if current.processed >= LEADS // 10 else None

        assert wait_until(progressing, timeout=60, interval=0.05).processed < LEADS

        # when the whole worker is SIGKILLed
        first.kill(signal.SIGKILL)
    finally:
        first.stop()
    assert Workflow.objects.get(pk=workflow.pk).processed < LEADS, "slow the sandbox model down"
    second = WorkerProcess(env=CRASH_ENV, concurrency=2).start()
    try:
        # then a new worker, nudged by the sweeper, finishes it
        workflow = sweep_until_terminal(workflow.pk, timeout=120)
    finally:
        second.stop()

    assert workflow.status == WorkflowStatus.COMPLETED, workflow.error
    assert_settled(workflow)
    assert_ledger_consistent(funded)
    items = WorkflowItem.objects.filter(workflow=workflow)
    assert items.count() == items.values("lead").distinct().count() == LEADS
    assert (workflow.completed, workflow.not_found, workflow.failed) == (
        LEADS - NAMELESS, NAMELESS, 0,
    )  # fmt: skip
    # exactly one settlement, charging the succeeded rows' price and releasing the rest
    entries = LedgerEntry.objects.filter(workflow_id=workflow.pk)
    assert entries.filter(kind="charge").count() == 1
    assert entries.filter(kind="release").count() == 1
    assert workflow.credits_charged == PRICE * (LEADS - NAMELESS)
    assert workflow.credits_refunded == PRICE * NAMELESS
    assert balance_get(workspace=funded).balance == before - workflow.credits_charged
    assert balance_get(workspace=funded).held == 0
    # one result per lead, and a value in the list's column for each lead that got one
    assert AgentOutput.objects.filter(item__workflow=workflow).count() == LEADS
    column = ListMembership.objects.filter(lead_list_id=workflow.lead_list_id)
    values = [v.get("Angle") for v in column.values_list("custom_values", flat=True)]
    assert sum(1 for v in values if v and v.startswith("[sandbox] ")) == LEADS - NAMELESS
    assert values.count(None) == NAMELESS
