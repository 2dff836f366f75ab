"""Provider analytics (`GET /providers/analytics`, the admin, `/metrics`): per provider and for
the waterfall as a whole, from the call records of a time range.

Set-based, and cheap however many calls there were: closed hours are read from the hourly
roll-ups (`ProviderCallHour`, `ProviderLatencyHour`, a few hundred rows an hour), the hours not
rolled up yet from the call records over their (workspace, created_at) index range; both as
grouped queries, merged group by group (no Python per call record). Definitions
(docs/providers.md):

- calls: real calls (cache hits apart); found / not found: their answers; errors by kind;
- verified: found and accepted as found by the workspace's configuration when it was judged
  (for emails: the verifier's status passed the catch-all policy and the lowest status);
- catch-all share: found emails judged `risky`, over found emails;
- cost: the provider's own credits for the real calls; cost per verified hit = cost / verified;
- coverage after step k: leads found by the providers at positions 1..k of their waterfall
  (cache hits included), over the leads looked up;
- p50 / p95 latency of real calls: nearest rank (PostgreSQL's `percentile_disc`), read from a
  histogram whose buckets are 10 ms wide up to 1 s, 100 ms up to 10 s, 1 s beyond: the upper
  bound of the bucket holding that rank.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Case, F, IntegerField, Max, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, Ceil
from django.utils import timezone

from providers.base import ERROR_KINDS, DataPoint, EmailStatus, OutcomeKind
from providers.models import AutoOrder, ProviderCall, ProviderCallHour, ProviderLatencyHour
from providers.ranking import ProviderHistory, RankingHistory
from providers.selectors import active_marks

ERROR_KIND_NAMES = tuple(sorted(str(k) for k in ERROR_KINDS))


@dataclass
class ProviderFigures:
    provider: str
    calls: int
    cache_hits: int
    found: int
    verified: int
    catch_all: int
    not_found: int
    errors: dict[str, int]
    cost: float
    p50_ms: float | None
    p95_ms: float | None
    exhausted_until: datetime | None = None

    @property
    def catch_all_share(self) -> float | None:
        return self.catch_all / self.found if self.found else None

    @property
    def hit_rate(self) -> float | None:
        answered = self.found + self.not_found
        return self.verified / answered if answered else None

    @property
    def cost_per_verified_hit(self) -> float | None:
        return self.cost / self.verified if self.verified else None


@dataclass
class StepFigures:
    step: int
    hits: int
    coverage: float | None  # cumulative, over the leads looked up
    providers: list[str]  # who stood at this step, most frequent first


@dataclass
class Analytics:
    data_point: str
    since: datetime
    lookups: int
    verified: int
    cost: float
    providers: list[ProviderFigures]
    steps: list[StepFigures]
    exhausted: dict[str, datetime | None] = field(default_factory=dict)
    # The workspace's `auto` order for this data point and its reasons, if it uses one.
    auto: AutoOrder | None = None
    # Emails only: what the verifier's calls cost (part of the waterfall's cost per hit).
    verification_cost: float = 0.0

    @property
    def coverage(self) -> float | None:
        return self.steps[-1].coverage if self.steps else (0.0 if self.lookups else None)

    @property
    def cost_per_verified_hit(self) -> float | None:
        """The whole waterfall's: finders and verifier."""
        total = self.cost + self.verification_cost
        return total / self.verified if self.verified else None


# --- grouped counts: roll-ups for closed hours, call records for the rest ------------------------

# The key a call record is counted under (the roll-up's columns).
KEYS = ("provider", "step", "cached", "outcome", "email_status", "accepted")


def latency_bucket() -> Case:
    """A call's latency bucket (its upper bound in ms), as a database expression."""
    ms = F("latency_ms")

    def up(width: int) -> Cast:
        return Cast(Ceil(ms / Value(float(width))) * width, IntegerField())

    return Case(
        When(latency_ms__lte=1000, then=up(10)),
        When(latency_ms__lte=10_000, then=up(100)),
        default=up(1000),
        output_field=IntegerField(),
    )


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def rolled_until() -> datetime | None:
    """The end of the last hour rolled up (every call record before it is in the roll-ups)."""
    last = ProviderCallHour.objects.aggregate(last=Max("hour"))["last"]
    return last + timedelta(hours=1) if last else None


@dataclass(frozen=True)
class _Ranges:
    """[since, now] split into raw call-record ranges and one roll-up range of whole hours."""

    raw: list[tuple[datetime, datetime | None]]
    hours: tuple[datetime, datetime] | None


def _ranges(since: datetime) -> _Ranges:
    first_hour = hour_floor(since) + (
        timedelta(hours=1) if since != hour_floor(since) else timedelta()
    )
    until = rolled_until()
    if until is None or until <= first_hour:
        return _Ranges(raw=[(since, None)], hours=None)
    return _Ranges(raw=[(since, first_hour), (until, None)], hours=(first_hour, until))


def _scope(qs: QuerySet, *, data_point: str, workspace_id: UUID | str | None) -> QuerySet:
    qs = qs.filter(data_point=data_point)
    return qs if workspace_id is None else qs.filter(workspace_id=workspace_id)


def _raw(ranges: _Ranges, *, data_point: str, workspace_id: UUID | str | None) -> QuerySet:
    records = _scope(ProviderCall.objects.all(), data_point=data_point, workspace_id=workspace_id)
    within = Q()
    for start, end in ranges.raw:
        part = Q(created_at__gte=start) & (Q(created_at__lt=end) if end else Q())
        within |= part
    return records.filter(within)


def call_counts(
    *, since: datetime, data_point: str, workspace_id: UUID | str | None
) -> list[dict[str, Any]]:
    """Per key (KEYS): calls, leads opened, cost, over [since, now]."""
    ranges = _ranges(since)
    merged: dict[tuple, dict[str, Any]] = {}
    raw = (
        _raw(ranges, data_point=data_point, workspace_id=workspace_id)
        .values(*KEYS)
        .annotate(
            # A row stands for `calls` records (ProviderCall).
            records=Sum("calls"),
            opened=Sum("calls", filter=Q(opens_lookup=True)),
            cost=Sum("cost"),
        )
        .order_by()
    )
    parts: list[Any] = [raw]
    if ranges.hours:
        parts.append(
            _scope(ProviderCallHour.objects.all(), data_point=data_point, workspace_id=workspace_id)
            .filter(hour__gte=ranges.hours[0], hour__lt=ranges.hours[1])
            .values(*KEYS)
            .annotate(records=Sum("calls"), opened=Sum("opened"), cost=Sum("cost"))
            .order_by()
        )
    for part in parts:
        for row in part:  # one row per key and source: a few hundred at most
            key = tuple(row[k] or 0 if k == "step" else row[k] for k in KEYS)
            into = merged.setdefault(key, {**dict(zip(KEYS, key, strict=True)), "calls": 0,
                                            "opened": 0, "cost": 0.0})  # fmt: skip
            into["calls"] += row["records"] or 0
            into["opened"] += row["opened"] or 0
            into["cost"] += row["cost"] or 0.0
    return list(merged.values())


def latency_histogram(
    *, since: datetime, data_point: str, workspace_id: UUID | str | None
) -> dict[str, dict[int, int]]:
    """Per provider: real calls per latency bucket, over [since, now]."""
    ranges = _ranges(since)
    histogram: dict[str, dict[int, int]] = {}
    raw = (
        _raw(ranges, data_point=data_point, workspace_id=workspace_id)
        .filter(cached=False)
        .annotate(bucket=latency_bucket())
        .values("provider", "bucket")
        .annotate(n=Sum("calls"))
        .order_by()
    )
    rows: list[tuple[str, int, int]] = [(r["provider"], r["bucket"], r["n"]) for r in raw]
    if ranges.hours:
        hours = (
            _scope(
                ProviderLatencyHour.objects.all(), data_point=data_point, workspace_id=workspace_id
            )
            .filter(hour__gte=ranges.hours[0], hour__lt=ranges.hours[1])
            .values_list("provider", "counts")
        )
        # One row per hour and provider (720 a month each), each a few dozen buckets.
        rows += [(p, int(b), n) for p, counts in hours for b, n in counts.items()]
    for provider, bucket, n in rows:
        counts = histogram.setdefault(provider, {})
        counts[bucket] = counts.get(bucket, 0) + n
    return histogram


def nearest_rank(counts: dict[int, int], fraction: float) -> float | None:
    """The bucket bound holding the value of rank ceil(fraction x n) (1-based)."""
    total = sum(counts.values())
    if not total:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= rank:
            return float(bucket)
    return float(max(counts))


# --- the figures ---------------------------------------------------------------------------------


def provider_analytics(
    *,
    days: int = 30,
    data_point: str = DataPoint.EMAIL,
    workspace_id: UUID | str | None = None,
    now: datetime | None = None,
) -> Analytics:
    """The figures of the last `days` days for one data point; `workspace_id` None = every
    workspace (the operator's view)."""
    since = (now or timezone.now()) - timedelta(days=days)
    rows = call_counts(since=since, data_point=str(data_point), workspace_id=workspace_id)
    histogram = latency_histogram(
        since=since, data_point=str(data_point), workspace_id=workspace_id
    )
    marks = {
        name: mark.expires_at
        for name, mark in active_marks().items()
        if mark.kind == OutcomeKind.OUT_OF_CREDITS
    }
    by_provider: dict[str, ProviderFigures] = {}
    for row in rows:
        name = row["provider"]
        figures = by_provider.get(name)
        if figures is None:
            counts = histogram.get(name, {})
            figures = by_provider[name] = ProviderFigures(
                provider=name, calls=0, cache_hits=0, found=0, verified=0, catch_all=0,
                not_found=0, errors=dict.fromkeys(ERROR_KIND_NAMES, 0), cost=0.0,
                p50_ms=nearest_rank(counts, 0.5), p95_ms=nearest_rank(counts, 0.95),
                exhausted_until=marks.get(name),
            )  # fmt: skip
        n = row["calls"]
        if row["cached"]:
            figures.cache_hits += n
            continue
        figures.calls += n
        figures.cost += row["cost"]
        outcome = row["outcome"]
        if outcome == OutcomeKind.FOUND:
            figures.found += n
            figures.catch_all += n if row["email_status"] == EmailStatus.RISKY else 0
        elif outcome == OutcomeKind.NOT_FOUND:
            figures.not_found += n
        elif outcome in figures.errors:
            figures.errors[outcome] += n
        figures.verified += n if row["accepted"] else 0
    providers = [by_provider[name] for name in sorted(by_provider)]
    lookups, steps = _coverage(rows)
    verification_cost = 0.0
    if data_point == DataPoint.EMAIL:
        checks = call_counts(
            since=since, data_point=DataPoint.EMAIL_VERIFICATION, workspace_id=workspace_id
        )
        verification_cost = sum(row["cost"] for row in checks if not row["cached"])
    return Analytics(
        data_point=str(data_point),
        since=since,
        lookups=lookups,
        verified=sum(p.verified for p in providers),
        cost=sum(p.cost for p in providers),
        providers=providers,
        steps=steps,
        exhausted=marks,
        verification_cost=verification_cost,
        auto=AutoOrder.objects.filter(workspace_id=workspace_id, data_point=data_point).first()
        if workspace_id is not None
        else None,
    )


def _coverage(rows: list[dict[str, Any]]) -> tuple[int, list[StepFigures]]:
    """Leads looked up, and hits per step with the cumulative coverage."""
    lookups = 0
    hits: Counter[int] = Counter()
    seen: dict[int, Counter[str]] = {}  # per step: records per provider
    for row in rows:
        if not row["step"]:
            continue
        lookups += row["opened"]
        hits[row["step"]] += row["calls"] if row["accepted"] else 0
        seen.setdefault(row["step"], Counter())[row["provider"]] += row["calls"]
    steps, cumulative = [], 0
    for number in sorted(seen):
        cumulative += hits[number]
        providers = sorted(seen[number], key=lambda p: (-seen[number][p], p))
        coverage = cumulative / lookups if lookups else None
        steps.append(StepFigures(number, hits[number], coverage, providers))
    return lookups, steps


def auto_ranking_history(
    *, workspace_id: UUID | str, data_point: DataPoint, providers: Iterable[str]
) -> RankingHistory:
    """The recent call records an `auto` order is ranked from: the workspace's own when it has
    SLUICE_AUTO_ORDER_MIN_CALLS answered calls for this data point, else every workspace's."""
    names = list(providers)
    since = timezone.now() - timedelta(days=settings.SLUICE_AUTO_ORDER_WINDOW_DAYS)
    answered = (OutcomeKind.FOUND, OutcomeKind.NOT_FOUND)

    def figures(scope: UUID | str | None) -> dict[str, ProviderHistory]:
        totals: dict[str, ProviderHistory] = {}
        for row in call_counts(since=since, data_point=str(data_point), workspace_id=scope):
            if row["cached"] or row["outcome"] not in answered or row["provider"] not in names:
                continue
            was = totals.get(row["provider"], ProviderHistory(row["provider"], 0, 0, 0, 0.0))
            n = row["calls"]
            totals[row["provider"]] = ProviderHistory(
                provider=was.provider,
                calls=was.calls + n,
                found=was.found + (n if row["outcome"] == OutcomeKind.FOUND else 0),
                hits=was.hits + (n if row["accepted"] else 0),
                cost=was.cost + row["cost"],
            )
        return totals

    source = "workspace"
    scope: UUID | str | None = workspace_id
    rows = figures(workspace_id)
    if sum(r.calls for r in rows.values()) < settings.SLUICE_AUTO_ORDER_MIN_CALLS:
        source, scope = "operator", None
        rows = figures(None)
        if not rows:
            source = "prior"
    verify_cost = 0.0
    if data_point == DataPoint.EMAIL:
        checks = [
            row
            for row in call_counts(
                since=since, data_point=DataPoint.EMAIL_VERIFICATION, workspace_id=scope
            )
            if not row["cached"]
        ]
        n = sum(row["calls"] for row in checks)
        verify_cost = sum(row["cost"] for row in checks) / n if n else 0.0
    return RankingHistory(
        source=source,
        providers=tuple(rows.get(n, ProviderHistory(n, 0, 0, 0, 0.0)) for n in names),
        verify_cost=verify_cost,
    )
