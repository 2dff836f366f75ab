"""The result cache's own rules, through the functions the engine writes and reads it with:
what it keeps, what it serves, what replaces what, what the purge removes, and that the
migration to the narrow key keeps every stored entry findable."""

import hashlib
import threading
import time
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from providers.engine import cache_key
from providers.models import ResultCacheEntry
from providers.selectors import cache_lookup
from providers.services import CacheAnswer, cache_purge_expired, cache_store_many

pytestmark = pytest.mark.django_db

DAY = 24 * 3600
JANE = cache_key(workspace_id="ws-1", identity="li:jane-doe")
BOB = cache_key(workspace_id="ws-1", identity="li:bob")


def _answer(key: str, *, kind: str = "found", value=None, verdict: str = "", data_point="email"):
    return CacheAnswer("sandbox", data_point, key, kind, value, 80, verdict, "ok")


def _lookup(*keys: str, data_points=("email",)):
    return cache_lookup(identity_keys=keys, providers=["sandbox"], data_points=data_points)


def test_cache_serves_what_was_stored_found_and_not_found_with_the_entry_id():
    company = {"name": "Acme", "size": [1, 2]}
    cache_store_many(
        entries=[
            _answer(JANE, value="jane@acme.example", verdict="valid"),
            _answer(BOB, kind="not_found"),
            _answer(JANE, value=company, data_point="company"),
        ],
        ttl_seconds=DAY,
    )

    found = _lookup(JANE, BOB, data_points=("email", "company"))

    assert {k: (a.kind, a.value, a.verdict) for k, a in found.items()} == {
        ("sandbox", "email", JANE): ("found", "jane@acme.example", "valid"),
        ("sandbox", "email", BOB): ("not_found", None, ""),
        ("sandbox", "company", JANE): ("found", company, ""),
    }
    jane = found[("sandbox", "email", JANE)]
    entry = ResultCacheEntry.objects.get(pk=jane.pk)  # what an item's attempt names
    assert (entry.data_point, entry.identity_key.hex) == ("email", JANE)


def test_cache_keys_are_per_workspace():
    other = cache_key(workspace_id="ws-2", identity="li:jane-doe")
    cache_store_many(entries=[_answer(JANE, value="jane@acme.example")], ttl_seconds=DAY)

    assert other != JANE
    assert _lookup(other) == {}
    assert list(_lookup(JANE)) == [("sandbox", "email", JANE)]


def test_cache_asks_only_for_the_providers_and_data_points_named():
    cache_store_many(entries=[_answer(JANE, value="jane@acme.example")], ttl_seconds=DAY)

    assert cache_lookup(identity_keys=[JANE], providers=["hunter"], data_points=["email"]) == {}
    assert _lookup(JANE, data_points=("phone",)) == {}
    assert _lookup() == {}


def test_a_fresh_answer_replaces_the_older_one_in_the_same_entry():
    cache_store_many(entries=[_answer(JANE, kind="not_found")], ttl_seconds=60)
    [before] = ResultCacheEntry.objects.all()

    cache_store_many(entries=[_answer(JANE, value="jane@acme.example")], ttl_seconds=DAY)

    [after] = ResultCacheEntry.objects.all()
    assert after.pk == before.pk  # an id an earlier item named still names this entry
    assert (after.kind, after.value) == ("found", "jane@acme.example")
    assert after.expires_at > before.expires_at + timedelta(hours=23)
    assert _lookup(JANE)[("sandbox", "email", JANE)].kind == "found"


def test_a_batch_with_some_keys_already_stored_writes_all_of_them():
    # given an older answer for Jane (new keys go straight in; a key with an entry does not)
    carol = cache_key(workspace_id="ws-1", identity="li:carol")
    cache_store_many(entries=[_answer(JANE, kind="not_found")], ttl_seconds=60)
    [before] = ResultCacheEntry.objects.all()

    # when a batch holds her fresh answer among new ones, inside the batch's transaction
    with transaction.atomic():
        cache_store_many(
            entries=[
                _answer(BOB, kind="not_found"),
                _answer(JANE, value="jane@acme.example"),
                _answer(carol, value="carol@acme.example"),
            ],
            ttl_seconds=DAY,
        )
        ResultCacheEntry.objects.count()  # the transaction is still usable

    # then every answer is stored once, Jane's in her old entry
    entries = {e.identity_key.hex: e for e in ResultCacheEntry.objects.all()}
    assert {k: (e.kind, e.value) for k, e in entries.items()} == {
        JANE: ("found", "jane@acme.example"),
        BOB: ("not_found", None),
        carol: ("found", "carol@acme.example"),
    }
    assert entries[JANE].pk == before.pk
    assert entries[JANE].expires_at > before.expires_at + timedelta(hours=23)


@pytest.mark.django_db(transaction=True)
def test_a_key_another_worker_is_storing_meanwhile_ends_in_one_entry_with_the_later_answer():
    # given another worker's batch, not committed yet, that stored Jane's answer
    stored, release, errors = threading.Event(), threading.Event(), []

    def in_thread(work):
        def run():
            try:
                work()
            except Exception as error:  # re-raised below, in the test's thread
                errors.append(error)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def other_worker():
        with transaction.atomic():
            cache_store_many(entries=[_answer(JANE, kind="not_found")], ttl_seconds=60)
            stored.set()
            release.wait(timeout=60)

    def this_worker():
        with transaction.atomic():
            cache_store_many(
                entries=[_answer(BOB, kind="not_found"), _answer(JANE, value="jane@acme.example")],
                ttl_seconds=DAY,
            )

    other = in_thread(other_worker)
    assert stored.wait(timeout=60)

    # when this worker stores Jane and Bob, waiting for the other's commit
    this = in_thread(this_worker)
    _wait_for_a_lock_wait()
    release.set()
    other.join()
    this.join()

    # then each key has one entry, Jane's holding the answer committed last
    assert errors == []
    entries = {e.identity_key.hex: e for e in ResultCacheEntry.objects.all()}
    assert {k: (e.kind, e.value) for k, e in entries.items()} == {
        JANE: ("found", "jane@acme.example"),
        BOB: ("not_found", None),
    }


def _wait_for_a_lock_wait() -> None:
    """Until a session of this database waits for a lock (a worker's write waiting for
    another's commit)."""
    with connection.cursor() as cursor:
        for _ in range(600):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("no session waited for a lock")


def test_the_cache_keeps_answers_only():
    with pytest.raises(IntegrityError):
        cache_store_many(entries=[_answer(JANE, kind="transient_error")], ttl_seconds=DAY)


def test_a_time_to_live_of_zero_stores_nothing():
    cache_store_many(entries=[_answer(JANE, value="jane@acme.example")], ttl_seconds=0)

    assert not ResultCacheEntry.objects.exists()


def test_an_expired_entry_is_not_served_and_the_purge_removes_only_expired_ones():
    cache_store_many(
        entries=[_answer(JANE, value="jane@acme.example"), _answer(BOB, value="bob@acme.example")],
        ttl_seconds=DAY,
    )
    ResultCacheEntry.objects.filter(identity_key=BOB).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert list(_lookup(JANE, BOB)) == [("sandbox", "email", JANE)]
    assert cache_purge_expired() == 1
    assert [e.identity_key.hex for e in ResultCacheEntry.objects.all()] == [JANE]


@pytest.mark.django_db(transaction=True)
def test_the_narrow_key_migration_keeps_stored_entries_findable():
    # given an entry stored before the migration, under the full 64-digit hash
    executor = MigrationExecutor(connection)
    before, after = [("providers", "0004_providercall_calls")], executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    identity = "ws-1\nli:jane-doe"
    old_key = hashlib.sha256(identity.encode()).hexdigest()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO providers_resultcacheentry (provider, data_point, identity_key, kind, "
            "value, confidence, verdict, provider_status, created_at, expires_at) VALUES "
            "('sandbox', 'email', %s, 'found', '\"jane@acme.example\"', 80, 'valid', 'ok', %s, %s)",
            [old_key, now, now + timedelta(days=1)],
        )

    # when the migration runs
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    # then the engine's key for the same person finds it
    found = _lookup(JANE)
    assert found[("sandbox", "email", JANE)].value == "jane@acme.example"
