"""Hourly roll-ups of the provider call records, which the analytics read for closed hours
(`providers.analytics`; beat runs `call_rollup_advance`)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Min, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDay, TruncHour
from django.utils import timezone

from providers.analytics import hour_floor, latency_bucket, rolled_until
from providers.models import NO_WORKSPACE, ProviderCall, ProviderCallHour, ProviderLatencyHour

logger = logging.getLogger(__name__)


# Hours are rolled up once they ended this long ago: a chunk writes its call records when it
# ends, a few minutes after its first call at most (its claim expires after
# SLUICE_CLAIM_TTL_SECONDS), so an hour this old is complete.
ROLLUP_LAG = timedelta(hours=1)
# The most one run rolls up: the first run on a long history catches up a week per run.
ROLLUP_MAX_SPAN = timedelta(days=7)


def call_rollup_advance(*, now: datetime | None = None) -> int:
    """Beat: counts the call records of every hour that ended more than ROLLUP_LAG ago and is
    not rolled up yet (at most ROLLUP_MAX_SPAN of them) into ProviderCallHour /
    ProviderLatencyHour, with grouped queries.
    Returns the roll-up rows written. Two runs at once: the second's insert hits the unique
    constraint and writes nothing."""
    end = hour_floor((now or timezone.now()) - ROLLUP_LAG)
    start = rolled_until()
    if start is None:
        first = ProviderCall.objects.aggregate(first=Min("created_at"))["first"]
        if first is None:
            return 0
        start = hour_floor(first)
    end = min(end, start + ROLLUP_MAX_SPAN)
    if start >= end:
        return 0
    records = ProviderCall.objects.filter(created_at__gte=start, created_at__lt=end).annotate(
        hour=TruncHour("created_at"),
        ws=Coalesce("workspace_id", Value(uuid.UUID(NO_WORKSPACE))),
        at_step=Coalesce("step", 0),
    )
    counts = (
        records.values("hour", "ws", "data_point", "provider", "at_step", "cached", "outcome",
                       "email_status", "accepted")
        .annotate(
            n=Sum("calls"),  # a row stands for `calls` records (ProviderCall)
            opened=Coalesce(Sum("calls", filter=Q(opens_lookup=True)), 0),
            cost=Sum("cost"),
        )
        .order_by()
    )  # fmt: skip
    latencies = (
        records.filter(cached=False)
        .annotate(bucket=latency_bucket())
        .values("hour", "ws", "data_point", "provider", "bucket")
        .annotate(n=Sum("calls"))
        .order_by()
    )
    hours = [
        ProviderCallHour(
            hour=row["hour"], workspace_id=row["ws"], data_point=row["data_point"],
            provider=row["provider"], step=row["at_step"], cached=row["cached"],
            outcome=row["outcome"], email_status=row["email_status"], accepted=row["accepted"],
            calls=row["n"], opened=row["opened"], cost=row["cost"] or 0.0,
        )
        for row in counts
    ]  # fmt: skip
    buckets: dict[tuple, dict[str, int]] = {}
    for row in latencies:  # one per hour, provider and bucket
        key = (row["hour"], row["ws"], row["data_point"], row["provider"])
        buckets.setdefault(key, {})[str(row["bucket"])] = row["n"]
    histograms = [
        ProviderLatencyHour(hour=h, workspace_id=w, data_point=d, provider=p, counts=counts)
        for (h, w, d, p), counts in buckets.items()
    ]
    try:
        with transaction.atomic():
            ProviderCallHour.objects.bulk_create(hours, batch_size=2000)
            ProviderLatencyHour.objects.bulk_create(histograms, batch_size=2000)
            _latency_days_compact(before=end - LATENCY_DAILY_AFTER)
    except IntegrityError:
        logger.info("Call roll-up from %s already written by another run", start)
        return 0
    return len(hours) + len(histograms)


# Latency histograms older than this are merged into one row per day (at the day's first hour):
# a month of percentiles then reads a few hundred rows. Only the window's first day is counted
# whole or not at all; the call counts keep their hours.
LATENCY_DAILY_AFTER = timedelta(days=2)


def _latency_days_compact(*, before: datetime) -> None:
    day_end = before.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = ProviderLatencyHour.objects.filter(hour__lt=day_end).exclude(hour__hour=0)
    if not rows.exists():
        return
    days = (
        ProviderLatencyHour.objects.filter(hour__lt=day_end)
        .annotate(day=TruncDay("hour"))
        .filter(day__in=rows.annotate(day=TruncDay("hour")).values("day"))
    )
    merged: dict[tuple, dict[str, int]] = {}
    for row in days.values("day", "workspace_id", "data_point", "provider", "counts"):
        key = (row["day"], row["workspace_id"], row["data_point"], row["provider"])
        counts = merged.setdefault(key, {})
        for bucket, n in row["counts"].items():
            counts[bucket] = counts.get(bucket, 0) + n
    days.delete()
    ProviderLatencyHour.objects.bulk_create(
        [
            ProviderLatencyHour(hour=d, workspace_id=w, data_point=dp, provider=p, counts=c)
            for (d, w, dp, p), c in merged.items()
        ],
        batch_size=2000,
    )
