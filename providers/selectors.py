"""Reads: the result cache, operator marks, call statistics, a workspace's waterfall."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypedDict, cast
from uuid import UUID

from django.conf import settings
from django.db import connection
from django.db.models import Model, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from leads import freshness
from providers.base import ERROR_KINDS, DataPoint, OutcomeKind
from providers.configuration import (
    AUTO,
    ORDERED_DATA_POINTS,
    AutoChoice,
    ResolvedWaterfall,
    available_providers,
    operator_default,
)
from providers.models import (
    AutoOrder,
    ProviderCall,
    ProviderMark,
    ResultCacheEntry,
    WaterfallConfig,
)

# Keeps each `IN (…)` list well below SQLite's bound-parameter limit.
_CHUNK = 2000


class CachedAnswer(NamedTuple):
    """A live result-cache entry, as the engine reads it (a row, not a model instance)."""

    pk: int
    provider: str
    data_point: str
    identity_key: str
    kind: str
    value: Any
    confidence: int | None
    verdict: str
    provider_status: str


def cache_lookup(
    *, identity_keys: Iterable[str], providers: Iterable[str], data_points: Iterable[str]
) -> dict[tuple[str, str, str], CachedAnswer]:
    """Live cache entries for these identities, keyed by (provider, data point, identity key).
    One query (on SQLite one per 2,000 identities). An entry older than the time to live of
    the field it answers (leads.freshness) is not served, whatever the cache's own expiry."""
    keys = sorted(set(identity_keys))
    providers, data_points = sorted(set(providers)), sorted(set(data_points))
    if not keys or not providers or not data_points:
        return {}
    now = timezone.now()
    if connection.vendor != "postgresql":
        return _cache_lookup_portable(keys, providers, data_points, now)
    sql = _LOOKUP.format(table=connection.ops.quote_name(ResultCacheEntry._meta.db_table))
    born_after = [_born_after(data_point, now) for data_point in data_points]
    # The keys as one text (psycopg dumps a list parameter element by element in Python: ~1.5
    # µs a key); they are hex digits, so a comma cannot be part of one.
    with connection.cursor() as cursor:
        cursor.execute(sql, [",".join(keys), providers, data_points, now, data_points, born_after])
        rows = cursor.fetchall()
    found: dict[tuple[str, str, str], CachedAnswer] = {}
    for row in rows:
        value = row[5]
        if value is not None:
            # CachedAnswer(*row) with the value decoded, without the namedtuple's __new__.
            row = (*row[:5], _json_value(value), *row[6:])
        found[(row[1], row[2], row[3])] = _new_answer(CachedAnswer, row)
    return found


_new_answer = tuple.__new__  # the rows' columns are CachedAnswer's fields, in order


def _json_value(text: str) -> Any:
    """A jsonb value as PostgreSQL prints it (Django's loader hands jsonb over as text). A
    string without a backslash is the text between its quotes, since jsonb escapes every
    quote, backslash and control character of a string (and nothing else): most cached values
    are such strings (a found email), and json.loads cost ~1 µs each."""
    if text[0] == '"' and "\\" not in text:
        return text[1:-1]
    return json.loads(text)


# One index probe per key, whatever the table's size: the `LATERAL … OFFSET 0` keeps PostgreSQL
# from planning `identity_key = ANY(500 keys)` as a scan of the whole table, which it did for
# tables of up to a few hundred thousand entries (every entry compared with every key: ~20 µs
# of backend CPU a key against ~6; docs/benchmarks.md, "The result cache"). The keys come back
# as the text the caller gave, so rows need no UUID objects, and the columns in CachedAnswer's
# order.
_LOOKUP = (
    "SELECT e.id, e.provider, e.data_point, k.key, e.kind, e.value, e.confidence, e.verdict, "
    "e.provider_status "
    "FROM unnest(string_to_array(%s, ',')) AS k(key) CROSS JOIN LATERAL ("
    "SELECT id, provider, data_point, kind, value, confidence, verdict, provider_status, "
    "created_at FROM {table} "
    "WHERE identity_key = k.key::uuid AND provider = ANY(%s::text[]) "
    "AND data_point = ANY(%s::text[]) AND expires_at > %s OFFSET 0) AS e "
    "JOIN unnest(%s::text[], %s::timestamptz[]) AS fresh(data_point, born_after) "
    "ON fresh.data_point = e.data_point AND e.created_at > fresh.born_after"
)


def _cache_lookup_portable(
    keys: list[str], providers: list[str], data_points: list[str], now: datetime
) -> dict[tuple[str, str, str], CachedAnswer]:
    """cache_lookup through the ORM, `IN` lists of at most _CHUNK keys (SQLite)."""
    fresh = Q(pk__in=[])
    for data_point in data_points:
        fresh |= Q(data_point=data_point, created_at__gt=_born_after(data_point, now))
    found: dict[tuple[str, str, str], CachedAnswer] = {}
    for start in range(0, len(keys), _CHUNK):
        rows = (
            ResultCacheEntry.objects.filter(
                identity_key__in=keys[start : start + _CHUNK],
                provider__in=providers,
                data_point__in=data_points,
                expires_at__gt=now,
            )
            .filter(fresh)
            .values_list(*CachedAnswer._fields)
        )
        for row in rows:
            answer = CachedAnswer(*row)._replace(identity_key=row[3].hex)
            found[(answer.provider, answer.data_point, answer.identity_key)] = answer
    return found


# The field whose time to live bounds a cached answer's age, per data point.
_FIELD_OF = {
    DataPoint.EMAIL: freshness.EMAIL,
    DataPoint.EMAIL_VERIFICATION: freshness.EMAIL,
    DataPoint.PHONE: freshness.PHONE,
    DataPoint.COMPANY: freshness.COMPANY,
}


def _born_after(data_point: str, now: datetime) -> datetime:
    """The oldest a cached answer for this data point may be (its field's time to live)."""
    field = _FIELD_OF.get(DataPoint(data_point))
    return now - freshness.ttl(field) if field is not None else _EVER


_EVER = datetime.min.replace(tzinfo=UTC)


def active_marks() -> dict[str, ProviderMark]:
    """Marks in force: not cleared, and not past the end of their cool-down. Every chunk's
    engine batch asks, so the statement is written once per process (_model_sql): the ORM's
    building of it cost more than the query."""
    live = ProviderMark.objects.raw(
        _model_sql(ProviderMark, "cleared_at IS NULL AND (expires_at IS NULL OR expires_at > %s)"),
        [timezone.now()],
    )
    return {m.provider: m for m in live}


@functools.cache
def _model_sql(model: type[Model], where: str, tail: str = "") -> str:
    """`SELECT <every column> FROM <model's table> WHERE <where> <tail>` (tail: an ORDER BY, a
    LIMIT), for `model.objects.raw()`: the per-chunk reads of small tables, without the ORM's
    query building each time (`where` and `tail` name columns of the model)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(cast(str, field.column)) for field in model._meta.concrete_fields)
    return f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {where} {tail}"  # noqa: S608 - names from the model


def _percentile(values: list[int], fraction: float) -> float | None:
    """Linear interpolation, the same definition as PostgreSQL's `percentile_cont`."""
    if not values:
        return None
    values = sorted(values)
    position = (len(values) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


class ProviderCallStats(TypedDict):
    """One provider's row of provider_call_stats() (one per data point when split; otherwise
    `data_point` is ""); rates and latencies are None without calls to base them on."""

    provider: str
    data_point: str
    calls: int
    cache_hits: int
    cache_found: int
    found: int
    not_found: int
    errors: int
    cost: float
    hit_rate: float | None
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None


def _calls(condition: Q) -> Coalesce:
    """The call records among a group's rows that meet `condition`."""
    return Coalesce(Sum("calls", filter=condition), 0)


def provider_call_stats(
    *, since: datetime | None = None, tag: str | None = None, by_data_point: bool = False
) -> list[ProviderCallStats]:
    """Per provider: calls (excluding cache hits), cache hits (and how many of them were found),
    hit rate (found / answered calls), error rate (failed / calls), p50/p95 latency of real
    calls, credits spent. `tag` narrows it to one caller's calls (the enrichment engine tags
    them with the workflow id); `by_data_point` gives a row per provider and data point, so a
    provider that both finds and verifies emails shows its lookups apart from its verdicts."""
    qs = ProviderCall.objects.all()
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if tag is not None:
        qs = qs.filter(tag=tag)
    errors = [str(k) for k in ERROR_KINDS]
    group = ["provider", "data_point"] if by_data_point else ["provider"]
    rows = list(
        qs.values(*group)
        .annotate(
            # A row stands for `calls` records (ProviderCall).
            made=_calls(Q(cached=False)),  # not `calls`: that names the column
            cache_hits=_calls(Q(cached=True)),
            cache_found=_calls(Q(cached=True, outcome=OutcomeKind.FOUND)),
            found=_calls(Q(cached=False, outcome=OutcomeKind.FOUND)),
            not_found=_calls(Q(cached=False, outcome=OutcomeKind.NOT_FOUND)),
            errors=_calls(Q(cached=False, outcome__in=errors)),
            cost=Sum("cost", filter=Q(cached=False)),
        )
        .order_by(*group)
    )
    latencies = {
        (provider, data_point if by_data_point else ""): (p50, p95)
        for provider, data_point, p50, p95 in _latency_percentiles(
            qs.filter(cached=False), by_data_point=by_data_point
        )
    }
    stats: list[ProviderCallStats] = []
    for row in rows:
        answered = row["found"] + row["not_found"]
        data_point = row.get("data_point", "")
        p50, p95 = latencies.get((row["provider"], data_point), (None, None))
        stats.append(
            ProviderCallStats(
                provider=row["provider"],
                data_point=data_point,
                calls=row["made"],
                cache_hits=row["cache_hits"],
                cache_found=row["cache_found"],
                found=row["found"],
                not_found=row["not_found"],
                errors=row["errors"],
                cost=row["cost"] or 0.0,
                hit_rate=row["found"] / answered if answered else None,
                error_rate=row["errors"] / row["made"] if row["made"] else None,
                p50_ms=p50,
                p95_ms=p95,
            )
        )
    return stats


def provider_marks() -> dict[str, dict[str, str | None]]:
    """Providers stopped for every worker, for /readyz: the mark's kind and when it ends
    (null: until an operator clears it)."""
    return {
        name: {
            "status": "exhausted" if mark.kind == ProviderMark.Kind.OUT_OF_CREDITS else mark.kind,
            "until": mark.expires_at.isoformat() if mark.expires_at else None,
        }
        for name, mark in sorted(active_marks().items())
    }


def _latency_percentiles(
    qs: QuerySet[ProviderCall], *, by_data_point: bool
) -> list[tuple[str, str, float | None, float | None]]:
    """(provider, data point or "", p50, p95) of the calls' latencies (a row counts `calls`
    times)."""
    if connection.vendor == "postgresql":
        sql, params = qs.values(
            "provider", "data_point", "latency_ms", "calls"
        ).query.sql_with_params()
        group = "provider, data_point" if by_data_point else "provider"
        keys = group if by_data_point else "provider, ''"
        with connection.cursor() as cursor:
            # `sql` is Django's own compiled query; its parameters stay separate.
            percentiles = (
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), "
                "percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)"
            )
            query = (
                f"SELECT {keys}, {percentiles} FROM ({sql}) AS calls "  # noqa: S608
                f"CROSS JOIN generate_series(1, calls.calls) GROUP BY {group}"
            )
            cursor.execute(query, params)
            return [(p, d, float(a), float(b)) for p, d, a, b in cursor.fetchall()]
    # SQLite (embedded mode) has no percentile_cont: compute in Python.
    latencies: dict[tuple[str, str], list[int]] = {}
    rows = qs.values_list("provider", "data_point", "latency_ms", "calls").iterator()
    for provider, data_point, ms, calls in rows:
        key = (provider, data_point if by_data_point else "")
        latencies.setdefault(key, []).extend([ms] * calls)
    return [(p, d, _percentile(v, 0.5), _percentile(v, 0.95)) for (p, d), v in latencies.items()]


# --- a workspace's waterfall --------------------------------------------------------------------


def waterfall_config_current(*, workspace_id: UUID | str) -> WaterfallConfig | None:
    return WaterfallConfig.objects.filter(workspace_id=workspace_id).order_by("-version").first()


def waterfall_resolve(*, workspace_id: UUID | str, version: int | None = None) -> ResolvedWaterfall:
    """The waterfall a chunk runs: the workspace's configuration (`version`, else its latest;
    the operator's defaults when it has none), with the latest `auto` orders filled in. A
    provider the operator has since removed is dropped from the workspace's orders."""
    default = operator_default()
    # Read by every chunk (enrichment.waterfall.run_waterfall): statements written once.
    workspace = WaterfallConfig._meta.get_field("workspace").get_db_prep_value(
        workspace_id, connection
    )
    if version is None:
        latest = _model_sql(WaterfallConfig, "workspace_id = %s", "ORDER BY version DESC LIMIT 1")
        configs = WaterfallConfig.objects.raw(latest, [workspace])
    else:
        pinned = _model_sql(WaterfallConfig, "workspace_id = %s AND version = %s")
        configs = WaterfallConfig.objects.raw(pinned, [workspace, version])
    config = next(iter(configs), None)
    if config is None:  # version 0, or none written yet
        return default
    autos = {a.data_point: a for a in AutoOrder.objects.filter(workspace_id=workspace_id)}
    orders: dict[DataPoint, tuple[str, ...]] = {}
    choices: dict[DataPoint, AutoChoice] = {}
    for data_point in ORDERED_DATA_POINTS:
        offered = default.orders[data_point]
        chosen = getattr(config, str(data_point))
        if chosen == [AUTO]:
            auto = autos.get(str(data_point))
            ranked = [n for n in (auto.order if auto else []) if n in offered]
            order = tuple(ranked + [n for n in offered if n not in ranked])
            choices[data_point] = AutoChoice(
                order=order,
                reasons=tuple(auto.reasons) if auto else (),
                source=auto.source if auto else "prior",
                explore_share=settings.SLUICE_AUTO_ORDER_EXPLORE_SHARE,
            )
        else:
            order = tuple(n for n in chosen if n in offered)
        orders[data_point] = order
    orders[DataPoint.EMAIL_VERIFICATION] = (config.verifier,) if config.verifier else ()
    return ResolvedWaterfall(
        version=config.version,
        orders=orders,
        catch_all_policy=config.catch_all_policy,
        min_email_status=config.min_email_status,
        auto=choices,
    )


@dataclass(frozen=True)
class WaterfallDescription:
    """`GET /waterfall`: what the workspace chose (its latest version, else the operator's
    defaults), what it may choose from, and what a run would use now."""

    config: WaterfallConfig | None
    chosen: dict[str, list[str]]
    verifier: str
    catch_all_policy: str
    min_email_status: str
    available: dict[str, list[str]]
    effective: ResolvedWaterfall


def waterfall_describe(*, workspace_id: UUID | str) -> WaterfallDescription:
    config = waterfall_config_current(workspace_id=workspace_id)
    effective = waterfall_resolve(workspace_id=workspace_id)
    offered = available_providers()
    if config is None:
        chosen = {str(dp): list(effective.orders[dp]) for dp in ORDERED_DATA_POINTS}
        verifier = next(iter(effective.orders[DataPoint.EMAIL_VERIFICATION]), "")
    else:
        chosen = {str(dp): list(getattr(config, str(dp))) for dp in ORDERED_DATA_POINTS}
        verifier = config.verifier
    return WaterfallDescription(
        config=config,
        chosen=chosen,
        verifier=verifier,
        catch_all_policy=effective.catch_all_policy,
        min_email_status=effective.min_email_status,
        available={
            **{str(dp): list(offered[dp]) for dp in ORDERED_DATA_POINTS},
            "verifier": list(offered[DataPoint.EMAIL_VERIFICATION]),
        },
        effective=effective,
    )
