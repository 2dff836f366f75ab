"""Call records written merged (`calls_record`: identical records of one second are one row with
their number in `calls`) read the same, through every reader, as one row per record."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.metrics import _provider_calls
from providers.analytics import provider_analytics
from providers.models import ProviderCall, ProviderCallHour, ProviderLatencyHour
from providers.rollups import call_rollup_advance
from providers.selectors import provider_call_stats
from providers.services import CallRecord, calls_record

pytestmark = pytest.mark.django_db


def _records(workspace_id: str) -> list[CallRecord]:
    """A chunk's worth: cache hits and latency-0 answers that repeat, real calls that do not,
    all in one second three hours ago (a closed hour the roll-up takes)."""
    second = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)
    at = [second + timedelta(microseconds=m) for m in range(0, 900_000, 9_000)]  # 100 times
    base = {"tag": "wf", "workspace_id": workspace_id, "provider_status": "found"}
    hit = CallRecord(provider="p1", data_point="email", outcome="found", latency_ms=0, cost=0.0,
                     cached=True, created_at=at[0], step=1, opens_lookup=True,
                     email_status="valid", accepted=True, **base)  # fmt: skip
    free = CallRecord(provider="p1", data_point="email", outcome="found", latency_ms=0, cost=1.5,
                      cached=False, created_at=at[0], step=1, opens_lookup=True,
                      email_status="risky", accepted=True, **base)  # fmt: skip
    verdict = CallRecord(provider="v", data_point="email_verification", outcome="found",
                         latency_ms=0, cost=0.5, cached=False, created_at=at[0],
                         **base)  # fmt: skip
    records = []
    for i in range(40):
        records.append(hit._replace(created_at=at[i]))
        records.append(verdict._replace(created_at=at[i + 40]))
    for i in range(15):
        records.append(free._replace(created_at=at[80 + i]))
    for ms in (120, 340, 340, 2_500):  # real calls: identical only when their latency is
        records.append(free._replace(latency_ms=ms, step=2, opens_lookup=False, created_at=at[99]))
    return records


def _unmerged(records: list[CallRecord]) -> None:
    ProviderCall.objects.bulk_create(ProviderCall(**r._asdict()) for r in records)


def _readings(workspace_id: str, now) -> dict:
    """What every reader of the call records says."""
    readings = {
        "stats": provider_call_stats(by_data_point=True),
        "stats_by_provider": provider_call_stats(),
        "metrics": sorted(_provider_calls(), key=lambda row: sorted(row.items())),
    }
    for data_point in ("email", "email_verification"):
        readings[f"analytics_{data_point}"] = provider_analytics(
            days=1, data_point=data_point, workspace_id=workspace_id, now=now
        )
    call_rollup_advance()
    readings["call_hours"] = sorted(
        ProviderCallHour.objects.values_list(
            "workspace_id", "data_point", "provider", "step", "cached", "outcome",
            "email_status", "accepted", "calls", "opened", "cost",
        )
    )  # fmt: skip
    readings["latency_hours"] = sorted(
        ProviderLatencyHour.objects.values_list("workspace_id", "data_point", "provider", "counts")
    )
    readings["analytics_rolled_up"] = provider_analytics(
        days=1, data_point="email", workspace_id=workspace_id, now=now
    )
    return readings


def test_calls_record_merges_identical_records_of_one_second(workspace):
    records = _records(str(workspace.pk))

    calls_record(calls=records)

    rows = list(ProviderCall.objects.order_by("created_at", "latency_ms", "provider"))
    # 40 hits, 40 verdicts, 15 latency-0 answers, and the real calls 120, 340 (x2) and 2,500 ms
    assert sorted(row.calls for row in rows) == [1, 1, 2, 15, 40, 40]
    assert sum(row.calls for row in rows) == len(records)
    hits = next(row for row in rows if row.cached)
    assert hits.created_at == records[0].created_at  # the earliest of the group
    answers = next(row for row in rows if row.calls == 15)
    assert answers.cost == pytest.approx(15 * 1.5)  # the cost of all its calls


def test_calls_record_keeps_records_of_different_seconds_apart(workspace):
    record = _records(str(workspace.pk))[0]

    calls_record(
        calls=[record, record._replace(created_at=record.created_at + timedelta(seconds=1))]
    )

    assert list(ProviderCall.objects.values_list("calls", flat=True)) == [1, 1]


def test_calls_record_parts_records_at_the_turn_of_a_second_and_merges_them_in_any_zone(
    workspace,
):
    # given records a microsecond either side of a second, and one of the first second given
    # in another time zone (the merge keys on the POSIX second, not on the datetime's fields)
    record = _records(str(workspace.pk))[0]
    second = record.created_at.replace(microsecond=0)
    last = record._replace(created_at=second + timedelta(microseconds=999_999))
    zone = timezone.get_fixed_timezone(-150)  # UTC-02:30
    same_second = record._replace(created_at=(second + timedelta(microseconds=5)).astimezone(zone))

    calls_record(
        calls=[last, record._replace(created_at=second + timedelta(seconds=1)), same_second]
    )

    assert sorted(
        ProviderCall.objects.values_list("created_at", "calls").order_by("created_at")
    ) == [(second + timedelta(microseconds=5), 2), (second + timedelta(seconds=1), 1)]


def test_every_reader_counts_merged_rows_as_the_records_they_stand_for(workspace):
    records, now = _records(str(workspace.pk)), timezone.now()
    _unmerged(records)
    one_row_each = _readings(str(workspace.pk), now)
    ProviderCall.objects.all().delete()
    ProviderCallHour.objects.all().delete()
    ProviderLatencyHour.objects.all().delete()

    calls_record(calls=records)

    assert ProviderCall.objects.count() < len(records) // 10
    assert _readings(str(workspace.pk), now) == one_row_each
