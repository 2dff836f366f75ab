"""Real threads, each with its own PostgreSQL connection, racing on one account / one hold.

The pool has 20 threads, not 100: PostgreSQL's max_connections (100) is shared by everything
running on this machine. Each thread waits at a barrier and then fires its share of the calls
back to back, so at any instant 20 transactions contend for the same row."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from common.exceptions import InsufficientCredits
from credits.models import Hold, LedgerEntry
from credits.services import balance_get, credits_grant, hold_place, hold_settle
from tests.credits.factories import grant, place
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def race(calls: list[Callable[[], object]]) -> list[object]:
    """Runs every call on the pool after all threads are ready; returns results or errors."""
    barrier = threading.Barrier(THREADS)
    chunks = [calls[i::THREADS] for i in range(THREADS)]

    def worker(chunk):
        outcomes = []
        try:
            barrier.wait(timeout=30)
            for call in chunk:
                try:
                    outcomes.append(call())
                except Exception as exc:
                    outcomes.append(exc)
        finally:
            connection.close()  # this thread's own connection
        return outcomes

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        return [outcome for chunk in pool.map(worker, chunks) for outcome in chunk]


def test_concurrent_holds_never_overspend():
    # given 50 credits
    workspace = WorkspaceFactory()
    grant(workspace, 50)
    # when 100 holds of 1 race
    outcomes = race(
        [
            (
                lambda n=n: hold_place(
                    workspace=workspace, amount=1, reference=f"race-{n}", workflow_id=f"wf-{n}"
                )
            )
            for n in range(100)
        ]
    )
    # then exactly 50 succeed and the other 50 are refused with 402's details
    placed = [o for o in outcomes if isinstance(o, Hold)]
    refused = [o for o in outcomes if isinstance(o, InsufficientCredits)]
    assert (len(placed), len(refused)) == (50, 50)
    assert all(r.details == {"required": 1, "balance": 0} for r in refused)
    totals = balance_get(workspace=workspace)
    assert (totals.balance, totals.held, totals.available) == (50, 50, 0)
    assert LedgerEntry.objects.filter(workspace=workspace, kind="hold").count() == 50


def test_concurrent_settles_of_one_hold_charge_once():
    workspace = WorkspaceFactory()
    grant(workspace, 100)
    hold = place(workspace, 11)
    outcomes = race([lambda: hold_settle(hold_id=hold.pk, charge=10) for _ in range(50)])
    assert all(isinstance(o, Hold) and (o.charged, o.refunded) == (10, 1) for o in outcomes)
    assert LedgerEntry.objects.filter(hold=hold, kind="charge").count() == 1
    assert LedgerEntry.objects.filter(hold=hold, kind="release").count() == 1
    totals = balance_get(workspace=workspace)
    assert (totals.balance, totals.held) == (90, 0)


def test_concurrent_retries_of_one_hold_and_one_grant_post_once():
    workspace = WorkspaceFactory()
    grant(workspace, 10)
    outcomes = race(
        [
            lambda: hold_place(workspace=workspace, amount=4, reference="same", workflow_id="w")
            for _ in range(THREADS)
        ]
        + [
            lambda: credits_grant(workspace=workspace, amount=5, reason="r", reference="inv")
            for _ in range(THREADS)
        ]
    )
    assert not [o for o in outcomes if isinstance(o, Exception)]
    assert len({o.pk for o in outcomes if isinstance(o, Hold)}) == 1
    totals = balance_get(workspace=workspace)
    assert (totals.balance, totals.held) == (15, 4)
    assert LedgerEntry.objects.filter(workspace=workspace).count() == 3
