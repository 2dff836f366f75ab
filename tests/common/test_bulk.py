import json
import uuid
from datetime import datetime, timedelta

import pytest
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from common.bulk import (
    JSONText,
    rows_insert,
    rows_update,
    rows_update_linked,
    rows_upsert,
    tuples_insert,
    tuples_upsert,
    values_rows,
)
from enrichment.models import ItemStatus
from providers.models import ProviderCall, ResultCacheEntry

pytestmark = pytest.mark.django_db


def _key(name: str) -> uuid.UUID:
    """A cache key spelled after `name` (its bytes, so keys sort as their names do)."""
    return uuid.UUID(name.encode().hex().ljust(32, "0"))


def _entry(identity: str, *, kind: str = "found", value=None, **fields) -> ResultCacheEntry:
    now = timezone.now()
    return ResultCacheEntry(
        provider="sandbox",
        data_point="email",
        identity_key=_key(identity),
        kind=kind,
        value=value,
        created_at=now,
        expires_at=now + timedelta(days=1),
        **fields,
    )


def _update_unlinked(entries, fields):
    """rows_update_linked of cache entries with no condition and no linked rows."""
    return rows_update_linked(
        ResultCacheEntry, entries, fields, only_if={}, linked_model=ProviderCall, linked=[],
        linked_fields=["outcome"],
    )  # fmt: skip


def test_rows_insert_writes_every_field_and_leaves_ids_to_the_database():
    now = timezone.now()
    calls = [
        ProviderCall(provider="hunter", data_point="email", outcome="found", latency_ms=12,
                     cost=1.5, cached=False, provider_status="ok\ttab", tag="t", created_at=now),
        ProviderCall(provider="hunter", data_point="email", outcome="not_found",
                     provider_status="", tag="t", created_at=now),
    ]  # fmt: skip

    rows_insert(ProviderCall, calls)

    stored = list(ProviderCall.objects.filter(tag="t").order_by("id"))
    assert [(c.outcome, c.latency_ms, c.cost, c.provider_status) for c in stored] == [
        ("found", 12, 1.5, "ok\ttab"),
        ("not_found", 0, 0.0, ""),
    ]
    assert stored[0].created_at == now


def test_rows_update_saves_only_the_named_fields_by_primary_key():
    rows_insert(ResultCacheEntry, [_entry("a", value={"x": 1}), _entry("b", confidence=10)])
    a, b = ResultCacheEntry.objects.order_by("identity_key")
    a.value, a.confidence, a.verdict = ["line\nbreak", None, {"q": "é"}], 99, "changed"
    b.value, b.confidence = None, None

    rows_update(ResultCacheEntry, [a, b], ["value", "confidence"])

    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.value, a.confidence, a.verdict) == (["line\nbreak", None, {"q": "é"}], 99, "")
    assert (b.value, b.confidence) == (None, None)


def test_rows_update_with_nothing_to_write_does_nothing():
    rows_update(ResultCacheEntry, [], ["value"])

    assert not ResultCacheEntry.objects.exists()


def test_rows_upsert_inserts_new_keys_and_updates_existing_ones():
    rows_insert(ResultCacheEntry, [_entry("a", kind="not_found", verdict="old")])

    rows_upsert(
        ResultCacheEntry,
        [_entry("a", value="a@x.com", verdict="valid"), _entry("b", value="b@x.com")],
        unique_fields=["identity_key", "provider", "data_point"],
        update_fields=["kind", "value", "verdict"],
    )

    rows = ResultCacheEntry.objects.order_by("identity_key").values_list(
        "identity_key", "kind", "value", "verdict"
    )
    assert list(rows) == [
        (_key("a"), "found", "a@x.com", "valid"),
        (_key("b"), "found", "b@x.com", ""),
    ]


def test_rows_upsert_twice_in_one_transaction_reuses_the_staging_table():
    keys = {"unique_fields": ["identity_key", "provider", "data_point"], "update_fields": ["value"]}
    with transaction.atomic():
        rows_upsert(ResultCacheEntry, [_entry("a", value=1)], **keys)
        rows_upsert(ResultCacheEntry, [_entry("b", value=2)], **keys)

    assert sorted(ResultCacheEntry.objects.values_list("value", flat=True)) == [1, 2]


def test_rows_insert_failure_leaves_nothing_written():
    rows = [_entry("a"), _entry("b", kind="error")]  # the second breaks a check constraint

    with pytest.raises(IntegrityError):
        rows_insert(ResultCacheEntry, rows)

    assert not ResultCacheEntry.objects.exists()


def test_rows_update_only_if_writes_the_rows_that_still_match_and_returns_them():
    # given two entries, one of which no longer has the verdict the writer expects
    rows_insert(ResultCacheEntry, [_entry("a", verdict="mine"), _entry("b", verdict="taken")])
    a, b = ResultCacheEntry.objects.order_by("identity_key")
    a.confidence, b.confidence = 1, 2

    # when both are written on condition of the verdict
    written = rows_update(ResultCacheEntry, [a, b], ["confidence"], only_if={"verdict": "mine"})

    # then only the matching one is written, and it is the one returned
    assert written == {a.pk}
    assert dict(ResultCacheEntry.objects.values_list("identity_key", "confidence")) == {
        _key("a"): 1,
        _key("b"): None,
    }


def test_rows_update_linked_writes_the_linked_rows_of_the_rows_written_only():
    # given two entries, one no longer with the verdict the writer expects, and a call record
    # to write with each
    rows_insert(ResultCacheEntry, [_entry("a", verdict="mine"), _entry("b", verdict="taken")])
    a, b = ResultCacheEntry.objects.order_by("identity_key")
    now = timezone.now()
    rows_insert(ProviderCall, [ProviderCall(provider="p", data_point="email", outcome="old",
                                            tag=tag, created_at=now) for tag in "ab"])  # fmt: skip
    call_a, call_b = ProviderCall.objects.order_by("tag")
    a.value, a.confidence, a.provider_status = [{"q": 'say "é"\\'}, None, "tab\t"], 7, "x,{y}"
    b.value, b.confidence = "b's", 8
    call_a.outcome, call_a.latency_ms, call_a.workspace_id = "found", 3, None
    call_b.outcome = "found"

    # when both are written on condition of the verdict, each with its call record
    written = rows_update_linked(
        ResultCacheEntry,
        [a, b],
        ["value", "confidence", "provider_status"],
        only_if={"verdict": "mine"},
        linked_model=ProviderCall,
        linked=[(a.pk, call_a), (b.pk, call_b)],
        linked_fields=["outcome", "latency_ms", "workspace_id"],
    )

    # then only the matching entry and its record are written, values as they were given
    assert written == {a.pk}
    assert list(ResultCacheEntry.objects.order_by("identity_key").values_list(
        "value", "confidence", "provider_status"
    )) == [(a.value, 7, "x,{y}"), (None, None, "")]  # fmt: skip
    assert list(ProviderCall.objects.order_by("tag").values_list("outcome", "latency_ms")) == [
        ("found", 3),
        ("old", 0),
    ]


def test_rows_update_linked_conditions_on_columns_of_any_type():
    # given two entries that differ in a key (uuid) and a confidence (smallint)
    rows_insert(ResultCacheEntry, [_entry("a", confidence=5), _entry("b", confidence=6)])
    a, b = ResultCacheEntry.objects.order_by("identity_key")
    a.verdict = b.verdict = "kept"

    # when both are written on condition of the first one's key and confidence
    written = rows_update_linked(
        ResultCacheEntry, [a, b], ["verdict"],
        only_if={"identity_key": _key("a"), "confidence": 5},
        linked_model=ProviderCall, linked=[], linked_fields=[],
    )  # fmt: skip

    # then only that one is
    assert written == {a.pk}
    verdicts = ResultCacheEntry.objects.order_by("identity_key").values_list("verdict", flat=True)
    assert list(verdicts) == ["kept", ""]


def test_rows_update_linked_writes_none_as_null_and_checks_lengths():
    rows_insert(ResultCacheEntry, [_entry("a", value={"x": 1}, verdict="mine")])
    (a,) = ResultCacheEntry.objects.all()
    a.value = None

    _update_unlinked([a], ["value"])

    assert ResultCacheEntry.objects.filter(value__isnull=True).count() == 1
    a.verdict = "x" * 17  # max_length 16: refused, never cut
    with pytest.raises(DataError), transaction.atomic():
        _update_unlinked([a], ["verdict"])


def test_rows_update_linked_sends_a_column_all_rows_share_once_and_writes_it_as_any_other():
    # given three entries written with values every one shares (a time, a string, a null),
    # one column that differs, and linked call records sharing a value too
    rows_insert(ResultCacheEntry, [_entry(name, verdict="mine") for name in "abc"])
    entries = list(ResultCacheEntry.objects.order_by("identity_key"))
    now = timezone.now()
    rows_insert(ProviderCall, [ProviderCall(provider="p", data_point="email", outcome="old",
                                            tag=tag, created_at=now) for tag in "abc"])  # fmt: skip
    calls = list(ProviderCall.objects.order_by("tag"))
    at = timezone.now() + timedelta(days=3)
    for confidence, entry in enumerate(entries):
        entry.expires_at, entry.provider_status, entry.value = at, "same", None
        entry.confidence = confidence
    for call in calls:
        call.outcome, call.latency_ms = "found", 7

    written = rows_update_linked(
        ResultCacheEntry,
        entries,
        ["expires_at", "provider_status", "value", "confidence"],
        only_if={"verdict": "mine"},
        linked_model=ProviderCall,
        linked=[(entry.pk, call) for entry, call in zip(entries, calls, strict=True)],
        linked_fields=["outcome", "latency_ms"],
    )

    # then every row is written and its key returned, as when each value went per row
    assert written == {entry.pk for entry in entries}
    assert list(ResultCacheEntry.objects.order_by("identity_key").values_list(
        "expires_at", "provider_status", "value", "confidence"
    )) == [(at, "same", None, 0), (at, "same", None, 1), (at, "same", None, 2)]  # fmt: skip
    assert set(ProviderCall.objects.values_list("outcome", "latency_ms")) == {("found", 7)}


def test_rows_update_linked_checks_the_length_of_a_value_all_rows_share():
    rows_insert(ResultCacheEntry, [_entry(name) for name in "ab"])
    entries = list(ResultCacheEntry.objects.all())
    for entry in entries:
        entry.verdict = "x" * 17  # max_length 16, sent once for both rows: refused, never cut

    with pytest.raises(DataError), transaction.atomic():
        _update_unlinked(entries, ["verdict"])


def test_rows_update_linked_writes_strings_and_integers_exactly_whatever_they_hold():
    # given strings PostgreSQL's and JSON's escapes both touch, a str enum, None and integers
    statuses = ['q"uote', "back\\slash", "tab\tnew\nline", "é ☃ 𝄞", "{a,b}", "", "NULL", "null"]
    rows_insert(ResultCacheEntry, [_entry(f"e{i}") for i in range(len(statuses) + 2)])
    entries = list(ResultCacheEntry.objects.order_by("identity_key"))
    values = [*statuses, ItemStatus.COMPLETED, "x"]
    confidences = [*range(-3, len(statuses) - 3), None, 32767]
    for entry, status, confidence in zip(entries, values, confidences, strict=True):
        entry.provider_status, entry.confidence = status, confidence

    _update_unlinked(entries, ["provider_status", "confidence"])

    assert list(
        ResultCacheEntry.objects.order_by("identity_key").values_list(
            "provider_status", "confidence"
        )
    ) == [(str(v), c) for v, c in zip(values, confidences, strict=True)]
    # an integer out of its column's range is refused, as a binary array's would be
    entries[0].confidence = 32768
    with pytest.raises(DataError), transaction.atomic():
        _update_unlinked(entries, ["confidence"])


def test_json_text_is_written_as_the_json_it_holds_not_as_a_string():
    # given JSON columns given as JSON text beside plain values, by both write paths
    value = {"q": 'say "é"', "n": [1, None, 2.5]}
    rows_insert(ResultCacheEntry, [_entry("a", value=JSONText('{"copied": [true]}'))])
    rows_insert(ResultCacheEntry, [_entry("b"), _entry("c")])
    _, b, c = ResultCacheEntry.objects.order_by("identity_key")
    b.value, c.value = JSONText(json.dumps(value)), ["plain", 1]

    _update_unlinked([b, c], ["value"])

    # then each holds the JSON value, and the text of a string column is still a string
    assert list(
        ResultCacheEntry.objects.order_by("identity_key").values_list("value", flat=True)
    ) == [
        {"copied": [True]},
        value,
        ["plain", 1],
    ]


def test_tuples_insert_and_upsert_write_plain_rows():
    now = timezone.now()
    later = now + timedelta(days=1)
    fields = ["provider", "data_point", "identity_key", "kind", "value", "verdict",
              "provider_status", "created_at", "expires_at"]  # fmt: skip
    keys = {"unique_fields": ["identity_key", "provider", "data_point"], "update_fields": ["value"]}
    tuples_insert(
        ResultCacheEntry,
        fields,
        [("sandbox", "email", _key("a"), "found", {"x": 1}, "", "", now, later)],
    )

    tuples_upsert(
        ResultCacheEntry,
        fields,
        [
            ("sandbox", "email", _key("b"), "found", "new", "", "", now, later),
            ("sandbox", "email", _key("a"), "found", ["changed"], "", "", now, later),
        ],
        **keys,
    )

    assert dict(ResultCacheEntry.objects.values_list("identity_key", "value")) == {
        _key("a"): ["changed"],
        _key("b"): "new",
    }


def test_values_rows_equal_the_orms_tuples_timestamps_json_and_nulls_included():
    # given cache entries with JSON values (a string, an object, none) and timestamps
    values = ["a@b.co", {"name": "Acme", "size": [1, 2]}, None]
    ResultCacheEntry.objects.bulk_create(_entry(f"k{i}", value=v) for i, v in enumerate(values))
    calls = [ProviderCall(provider="hunter", data_point="email", outcome="found",
                          created_at=timezone.now(), workspace_id=None, step=None)]  # fmt: skip
    rows_insert(ProviderCall, calls)
    cache = ResultCacheEntry.objects.order_by("identity_key").values_list(
        "id", "identity_key", "value", "created_at", "expires_at"
    )
    logged = ProviderCall.objects.values_list("created_at", "workspace_id", "step", "cached")

    for queryset in (cache, logged):
        # when read through values_rows and through the ORM
        fast, orm = list(values_rows(queryset)), list(queryset)

        # then the same values, of the same types, in the same time zone
        assert fast == orm
        assert [[type(v) for v in row] for row in fast] == [[type(v) for v in row] for row in orm]
        zones = [[v.tzinfo for v in row if isinstance(v, datetime)] for row in fast]
        assert zones == [[v.tzinfo for v in row if isinstance(v, datetime)] for row in orm]
        assert all(zone for row in zones for zone in row)
