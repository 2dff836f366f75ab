import pytest
from django.db.models import Sum

from credits.models import LedgerEntry
from credits.selectors import balance_get
from credits.services import credits_grant
from enrichment.models import TERMINAL_ITEM_STATUSES, Workflow, WorkflowItem
from tests.helpers import wait_until
from tests.workers import WorkerProcess

# The sandbox as the end-to-end tests want it: a 60 % hit rate, no latency, no faults.
SANDBOX_ENV = {
    "SLUICE_SANDBOX_EMAIL_HIT_RATE": "0.6",
    "SLUICE_SANDBOX_PHONE_HIT_RATE": "0.6",
    "SLUICE_SANDBOX_COMPANY_HIT_RATE": "0.6",
}
SANDBOX_INSTANCES = {"sandbox": {"email_hit_rate": 0.6, "phone_hit_rate": 0.6,
                                 "company_hit_rate": 0.6}}  # fmt: skip


@pytest.fixture(autouse=True)
def _sandbox_settings(settings):
    # The same sandbox in this process (synchronous company lookups) as in the worker.
    settings.SLUICE_SANDBOX_INSTANCES = SANDBOX_INSTANCES


_SHARED_WORKERS: list[WorkerProcess] = []


@pytest.fixture(scope="session")
def worker(django_db_setup, django_db_blocker):
    """One real worker process for the session (tests that kill workers start their own)."""
    process = WorkerProcess(env=SANDBOX_ENV).start()
    _SHARED_WORKERS.append(process)
    yield process
    process.stop()


@pytest.fixture
def sole_consumer():
    """For tests that start (and kill) their own workers: the session worker, if running,
    steps aside so it cannot pick up their tasks, and comes back afterwards."""
    paused = [p for p in _SHARED_WORKERS if p.process and p.process.poll() is None]
    for process in paused:
        process.stop()
    yield
    for process in paused:
        process.start()


def sweep_until_terminal(workflow_id: str, timeout: float = 60) -> Workflow:
    """Polls like beat would: runs the sweeper until the workflow is terminal."""
    from enrichment.services.execution import workflows_sweep

    def terminal():
        workflow = Workflow.objects.get(pk=workflow_id)
        if workflow.is_terminal:
            return workflow
        workflows_sweep()
        return None

    return wait_until(terminal, timeout=timeout, interval=0.3)


@pytest.fixture
def funded(workspace):
    def fund(amount: int = 100_000):
        credits_grant(workspace=workspace, amount=amount, reason="test", reference=f"t{amount}")

    fund()
    return workspace


def wait_terminal(workflow_id: str, timeout: float = 60) -> Workflow:
    def terminal():
        workflow = Workflow.objects.get(pk=workflow_id)
        return workflow if workflow.is_terminal else None

    return wait_until(terminal, timeout=timeout, interval=0.1)


def assert_settled(workflow: Workflow) -> None:
    """The invariants every finished workflow must hold (SPEC §4, §7)."""
    workflow.refresh_from_db()
    assert workflow.is_terminal
    items = WorkflowItem.objects.filter(workflow=workflow)
    assert items.exclude(status__in=TERMINAL_ITEM_STATUSES).count() == 0
    assert items.count() == workflow.total == workflow.processed
    charged = items.aggregate(total=Sum("credits_charged"))["total"] or 0
    assert workflow.credits_charged == charged
    if workflow.refund_status == "not_applicable":
        assert workflow.credits_charged + workflow.credits_refunded == workflow.credits_reserved
    entries = LedgerEntry.objects.filter(workflow_id=workflow.pk)
    assert entries.filter(kind="hold").count() == (1 if workflow.credits_reserved else 0)
    assert entries.filter(kind="charge").count() <= 1
    charges = entries.filter(kind="charge").aggregate(total=Sum("amount"))["total"] or 0
    assert charges == workflow.credits_charged


def assert_ledger_consistent(workspace) -> None:
    balance = balance_get(workspace=workspace)
    sums = LedgerEntry.objects.filter(workspace=workspace).aggregate(
        balance=Sum("balance_delta"), held=Sum("held_delta")
    )
    assert (balance.balance, balance.held) == (sums["balance"] or 0, sums["held"] or 0)
    assert balance.available >= 0
