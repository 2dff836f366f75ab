"""A process keeps its claims alive on lease threads that each keep their database connection
from one claim to the next (as long as CONN_MAX_AGE allows): a connection per claim cost a
backend's start and exit for every chunk. Each claim's owner lock is still held from before
the claim until its block ends, and given back then."""

import threading

import pytest
from django.db import connection, connections

from enrichment.services import leases

pytestmark = pytest.mark.django_db(transaction=True)


def _owner(token: str) -> int | None:
    """The backend holding the claim's owner lock, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.pid FROM pg_locks l, hashtextextended(%s, 0) AS h (key) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid = ((h.key >> 32) & 4294967295)::bigint::text::oid "
            "AND l.objid = (h.key & 4294967295)::bigint::text::oid",
            [token],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _claim_owner(token: str) -> int | None:
    """Holds a claim (no items) for a moment; returns the backend that held its owner lock."""
    with leases.claim_heartbeat(workflow_id="wf", chunk_no=0, token=token):
        return _owner(token)


@pytest.fixture
def kept_connections(monkeypatch):
    """Lease connections kept for a minute (as in a deployment; the tests close theirs at
    once), closed again afterwards so that no connection outlives the test."""
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    yield
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    closed = threading.Event()

    def close() -> None:
        connection.close()
        closed.set()

    threads = leases._threads()
    for _ in range(len(threads.idle)):
        closed.clear()
        threads.run(close)
        closed.wait(timeout=10)


def test_a_lease_thread_keeps_its_connection_and_gives_each_owner_lock_back(kept_connections):
    # when two claims are held one after the other
    first = _claim_owner("claim-a")
    second = _claim_owner("claim-b")

    # then each owner lock was held by a backend, the same one, and neither is held any more
    assert first is not None
    assert second == first
    assert _owner("claim-a") is None
    assert _owner("claim-b") is None


def test_two_claims_at_once_hold_their_owner_locks_on_two_connections(kept_connections):
    # when a claim is held while another is
    with leases.claim_heartbeat(workflow_id="wf", chunk_no=0, token="outer"):
        inner = _claim_owner("inner")
        outer = _owner("outer")

    # then each had its own backend, and both locks are given back
    assert None not in (inner, outer)
    assert inner != outer
    assert _owner("outer") is None
    assert _owner("inner") is None


def test_a_lease_connection_past_its_max_age_is_not_kept():
    # given the test settings' CONN_MAX_AGE of 0 (a connection per request)
    assert connections.settings["default"]["CONN_MAX_AGE"] == 0

    # when two claims are held one after the other
    first = _claim_owner("claim-a")
    second = _claim_owner("claim-b")

    # then each had a connection of its own, as before lease threads kept theirs
    assert None not in (first, second)
    assert first != second


def test_a_forked_process_starts_its_own_lease_threads(monkeypatch):
    # given this process's lease threads
    threads = leases._threads()

    # when asked for from another process (a pool process forked from this one)
    monkeypatch.setattr(leases.os, "getpid", lambda: threads.pid + 1)

    # then that process has threads of its own: its parent's did not come along
    assert leases._threads() is not threads
    assert leases._threads().idle == []
