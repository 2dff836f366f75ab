"""Shared pieces of the fault-injection tests (`test_fault_*.py`): the invariants every one of
them ends with, fault and invariant counters for the run summary, the sweeper as beat drives
it, and a private Redis server for the broker-restart test."""

import logging
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from contextlib import contextmanager

import redis
from django.db.models import Count, F, Q, Sum
from kombu import pools

from config.celery import app
from credits import prices
from credits.models import Hold, LedgerEntry
from credits.selectors import balance_get
from credits.services import credits_grant
from enrichment.models import TERMINAL_ITEM_STATUSES, ItemStatus, Workflow, WorkflowItem
from enrichment.services.start import bulk_enrichment_start
from tests.enrichment.factories import list_quote, list_with_leads
from tests.helpers import wait_until
from tests.workers import SANDBOX_ENV

logger = logging.getLogger(__name__)

# Counted by the tests, printed at the end of the run (see conftest) and quoted in
# docs/reliability.md.
FAULTS: Counter = Counter()
INVARIANTS: Counter = Counter()

# Small chunks so a crash strands only a few items; short claim and stall windows so recovery
# happens within the test. The sweeper runs in the test process with the same windows
# (`chaos_settings`).
CHAOS_WINDOWS = {"SLUICE_CHUNK_SIZE": 50, "SLUICE_CLAIM_TTL_SECONDS": 2,
                 "SLUICE_STALL_GRACE_SECONDS": 1}  # fmt: skip
CHAOS_ENV = {
    **SANDBOX_ENV,
    "SLUICE_SANDBOX_LATENCY_MS": "20",
    **{name: str(value) for name, value in CHAOS_WINDOWS.items()},
}


def count_fault(kind: str, n: int = 1) -> None:
    FAULTS[kind] += n


def fund(workspace, amount: int) -> None:
    credits_grant(workspace=workspace, amount=amount, reason="test", reference=f"chaos{amount}")


# --- Invariants -------------------------------------------------------------------------------


class _Checker:
    def __init__(self, label: str) -> None:
        self.label = label
        self.n = 0

    def __call__(self, condition: bool, message: object) -> None:
        self.n += 1
        assert condition, message


def assert_invariants(workspace, *, label: str) -> int:
    """The issue's invariants over every workflow of the workspace, counted under `label`:
    every workflow terminal; every item terminal exactly once; one settlement per workflow;
    charged + refunded = reserved (or the remainder under review after a failure of ours);
    charges = the data found; balance = sum of the ledger, never negative at any entry; no lead
    charged twice."""
    check = _Checker(label)
    workflows = list(Workflow.objects.filter(workspace=workspace))
    check(workflows, "no workflow to check")
    for wf in workflows:
        check(wf.is_terminal, (wf.pk, wf.status))
        items = WorkflowItem.objects.filter(workflow=wf)
        agg = items.aggregate(
            n=Count("id"),
            leads=Count("lead", distinct=True),
            open=Count("id", filter=~Q(status__in=TERMINAL_ITEM_STATUSES)),
            charged=Sum("credits_charged"),
            emails=Count("id", filter=~Q(email="")),
            phones=Count("id", filter=~Q(phone="")),
        )
        check(agg["open"] == 0, (wf.pk, "items not terminal", agg["open"]))
        check(agg["n"] == agg["leads"] == wf.total == wf.processed, (wf.pk, agg, wf.total))
        by_status = dict(items.values_list("status").annotate(n=Count("id")).order_by())
        for status in (ItemStatus.COMPLETED, ItemStatus.NOT_FOUND, ItemStatus.FAILED,
                       ItemStatus.SKIPPED, ItemStatus.CANCELLED):  # fmt: skip
            check(by_status.get(status, 0) == getattr(wf, status), (wf.pk, status, by_status))
        charged = agg["charged"] or 0
        check(wf.credits_charged == charged, (wf.pk, wf.credits_charged, charged))
        check((wf.found_emails, wf.found_phones) == (agg["emails"], agg["phones"]), wf.pk)
        found_price = prices.charge_for_found(
            emails_found=agg["emails"], phones_found=agg["phones"]
        )
        check(charged == found_price, (wf.pk, "charged", charged, "found", found_price))

        entries = LedgerEntry.objects.filter(workflow_id=wf.pk)
        kinds = Counter(entries.values_list("kind", flat=True))
        check(kinds["hold"] == (1 if wf.credits_reserved else 0), (wf.pk, kinds))
        check(kinds["charge"] <= 1 and kinds["release"] + kinds["refund"] <= 1, (wf.pk, kinds))
        ledger_charged = entries.filter(kind="charge").aggregate(s=Sum("amount"))["s"] or 0
        check(ledger_charged == wf.credits_charged, (wf.pk, ledger_charged))
        if not wf.hold_id:
            check(wf.credits_reserved == 0, wf.pk)
            continue
        hold = Hold.objects.get(pk=wf.hold_id)
        check(hold.state != Hold.State.OPEN, (wf.pk, "hold still open"))
        check(hold.amount == wf.credits_reserved and hold.charged == wf.credits_charged, wf.pk)
        if wf.refund_status == "pending_review":
            # Failed by our fault: the remainder stays reserved for an operator.
            check(wf.status == "failed" and hold.refund_status == "pending_review", wf.pk)
            check(hold.refunded == 0 and hold.amount > hold.charged, wf.pk)
        else:
            check(wf.credits_charged + wf.credits_refunded == wf.credits_reserved, wf.pk)
            check(hold.refunded == wf.credits_refunded, wf.pk)

    balance = balance_get(workspace=workspace)
    sums = LedgerEntry.objects.filter(workspace=workspace).aggregate(
        balance=Sum("balance_delta"), held=Sum("held_delta")
    )
    check((balance.balance, balance.held) == (sums["balance"], sums["held"]), (balance, sums))
    check(balance.available >= 0 and balance.held >= 0, balance)
    negative = LedgerEntry.objects.filter(workspace=workspace).filter(
        Q(held_after__lt=0) | Q(balance_after__lt=F("held_after"))
    )
    check(not negative.exists(), "a ledger entry left the balance below what was held")
    under_review = sum(
        h.amount - h.charged
        for h in Hold.objects.filter(workspace=workspace, refund_status="pending_review")
    )
    open_holds = Hold.objects.filter(workspace=workspace, state=Hold.State.OPEN)
    check(balance.held == under_review + sum(h.amount for h in open_holds), balance)
    # In these tests every lead belongs to one run only, so a lead charged in two items was
    # charged twice.
    twice = (
        WorkflowItem.objects.filter(workflow__workspace=workspace, credits_charged__gt=0)
        .values("lead")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    check(not twice.exists(), "a lead was charged twice")
    INVARIANTS[label] += check.n
    return check.n


# --- Runs -----------------------------------------------------------------------------------


def start_bulk(workspace, leads: int, *, emails_found: bool = False) -> Workflow:
    lead_list = list_with_leads(workspace, leads, emails_found=emails_found)
    return bulk_enrichment_start(
        workspace=workspace,
        list_id=lead_list.pk,
        enrichment_type="partial",
        output="skip_existing",
        quote_id=list_quote(workspace, lead_list),
    ).workflow


def processed(workflow_id: str) -> int:
    return Workflow.objects.values_list("processed", flat=True).get(pk=workflow_id)


def wait_progress(workflow_id: str, at_least: int, *, timeout: float) -> None:
    """Waits for the run to reach `at_least` processed leads, sweeping like beat meanwhile."""
    last_sweep = time.monotonic()

    def reached() -> bool:
        nonlocal last_sweep
        if processed(workflow_id) >= at_least:
            return True
        if time.monotonic() - last_sweep > 0.5:
            sweep_once()
            last_sweep = time.monotonic()
        return False

    wait_until(reached, timeout=timeout, interval=0.02)


# --- The sweeper, as beat drives it ------------------------------------------------------------


def sweep_once() -> None:
    """One beat tick. Beat logs a failed sweep and tries again on the next tick; so do we (the
    broker or the database may be the fault under test)."""
    from enrichment.services.execution import workflows_sweep

    try:
        workflows_sweep()
    except Exception as exc:
        logger.warning("sweep failed (retried on the next tick): %r", exc)


def sweep_until_all_terminal(workspace, *, timeout: float, interval: float = 0.5) -> None:
    def done() -> bool:
        if not Workflow.objects.filter(workspace=workspace, status__in=("pending", "running")):
            return True
        sweep_once()
        return False

    wait_until(done, timeout=timeout, interval=interval)


# --- A private Redis -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A throwaway `redis-server` on a free loopback port, never persisted, that a test may
    stop and start again on the same port (the shared Redis is never touched)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="sluice-redis-")
        self.process: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_timeout=0.5)
        wait_until(lambda: self._pings(client), timeout=20, interval=0.05)
        return self

    def _pings(self, client: redis.Redis) -> bool:
        if self.process.poll() is not None:
            raise AssertionError("redis-server exited")
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def celery_broker(url: str):
    """Points this process's Celery app (publishing, `control.ping`) at another broker."""
    conf = app.conf
    saved = conf.broker_url
    _drop_connections()
    conf.broker_url = url
    try:
        yield
    finally:
        _drop_connections()
        conf.broker_url = saved


def _drop_connections() -> None:
    # kombu keeps process-wide connection and producer pools per broker URL, and the app caches
    # them: reset both so the next publish connects to the broker now configured.
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
