"""Prometheus metrics, computed from the database at scrape time.

Web and worker processes come and go (gunicorn workers, prefork children on several hosts), so
in-process counters would each see a slice and reset on restart. The database already records
every workflow, provider call and ledger movement, so a scrape aggregates those rows instead:
any web process answers with the whole system's numbers, and the counters are monotonic because
provider calls and ledger entries are append-only. The aggregates are cached for
SLUICE_METRICS_CACHE_SECONDS (in the shared cache) so several scrapers cost one set of queries.
"""

from collections.abc import Iterator, Mapping
from typing import Any, TypedDict

import redis
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from credits.models import LedgerEntry
from enrichment.models import Workflow, WorkflowStatus
from enrichment.selectors import sweeper_status
from providers.analytics import provider_analytics
from providers.configuration import ORDERED_DATA_POINTS
from providers.models import ProviderCall
from providers.selectors import active_marks

# Upper bounds in milliseconds (reported in seconds, as Prometheus expects).
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
_CACHE_KEY = "ops:metrics:v1"
# Credits given back out of holds: the unused remainder at settlement or expiry (release) and
# remainders returned after an operator's refund review (refund).
_REFUND_KINDS = (LedgerEntry.Kind.RELEASE, LedgerEntry.Kind.REFUND)


class WorkflowCount(TypedDict):
    kind: str
    status: str
    n: int


# provider, outcome, cached, n, latency_sum and one `le_<ms>` count per latency bucket: keys
# built at run time, so a mapping rather than a TypedDict.
ProviderCallRow = Mapping[str, Any]


class LedgerTotal(TypedDict):
    kind: str
    total: int | None  # None: no entry of this kind


class WaterfallFigures(TypedDict):
    """The provider analytics of the last 24 hours, every workspace (providers.analytics)."""

    providers: list[dict[str, Any]]  # data_point, provider, cost_per_verified_hit, catch_all
    coverage: list[dict[str, Any]]  # data_point, step, coverage
    marks: list[dict[str, str]]  # provider, kind


class Snapshot(TypedDict):
    workflows: list[WorkflowCount]
    calls: list[ProviderCallRow]
    ledger: list[LedgerTotal]
    waterfall: WaterfallFigures


def _workflows() -> list[WorkflowCount]:
    rows = Workflow.objects.values("kind", "status").annotate(n=Count("id")).order_by()
    return list(rows)


def _provider_calls() -> list[ProviderCallRow]:
    # A call record row stands for `calls` identical records (providers.models.ProviderCall).
    buckets = {
        f"le_{ms}": Coalesce(Sum("calls", filter=Q(latency_ms__lte=ms)), 0)
        for ms in LATENCY_BUCKETS_MS
    }
    rows = (
        ProviderCall.objects.values("provider", "outcome", "cached")
        .annotate(n=Sum("calls"), latency_sum=Sum(F("latency_ms") * F("calls")), **buckets)
        .order_by()
    )
    return list(rows)


def _ledger() -> list[LedgerTotal]:
    rows = LedgerEntry.objects.values("kind").annotate(total=Sum("amount")).order_by()
    return list(rows)


def _waterfall() -> WaterfallFigures:
    figures = [provider_analytics(days=1, data_point=dp) for dp in ORDERED_DATA_POINTS]
    return {
        "providers": [
            {
                "data_point": f.data_point,
                "provider": p.provider,
                "cost_per_verified_hit": p.cost_per_verified_hit,
                "catch_all_share": p.catch_all_share,
            }
            for f in figures
            for p in f.providers
        ],
        "coverage": [
            {"data_point": f.data_point, "step": s.step, "coverage": s.coverage}
            for f in figures
            for s in f.steps
        ],
        "marks": [{"provider": n, "kind": m.kind} for n, m in sorted(active_marks().items())],
    }


def snapshot() -> Snapshot:
    """The aggregates every family is built from (cached briefly; see the module docstring)."""
    ttl = settings.SLUICE_METRICS_CACHE_SECONDS
    data: Snapshot | None = cache.get(_CACHE_KEY) if ttl > 0 else None
    if data is None:
        data = {
            "workflows": _workflows(),
            "calls": _provider_calls(),
            "ledger": _ledger(),
            "waterfall": _waterfall(),
        }
        if ttl > 0:
            cache.set(_CACHE_KEY, data, ttl)
    return data


class SluiceCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        data = snapshot()
        yield _workflow_family(data["workflows"])
        yield from _call_families(data["calls"])
        yield from _credit_families(data["ledger"])
        yield from _waterfall_families(data["waterfall"])
        queues = _queue_lengths()
        if queues is not None:
            yield queues
        yield _sweeper_family()


def _workflow_family(rows: list[WorkflowCount]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "sluice_workflows", "Enrichment workflows by kind and status.", labels=["kind", "status"]
    )
    counts = {(row["kind"], row["status"]): row["n"] for row in rows}
    # Every status is always exported (0 included) so alerts on e.g. `failed` have a series.
    for kind in Workflow.Kind.values:
        for status in WorkflowStatus.values:
            family.add_metric([kind, status], counts.get((kind, status), 0))
    return family


def _call_families(rows: list[ProviderCallRow]) -> Iterator[Metric]:
    calls = CounterMetricFamily(
        "sluice_provider_calls",
        "Provider lookups by provider, data point outcome and whether the result cache answered.",
        labels=["provider", "outcome", "cached"],
    )
    latency = HistogramMetricFamily(
        "sluice_provider_call_latency_seconds",
        "Latency of real provider calls (cache hits excluded), by provider and outcome.",
        labels=["provider", "outcome"],
    )
    for row in sorted(rows, key=lambda r: (r["provider"], r["outcome"], r["cached"])):
        cached = "true" if row["cached"] else "false"
        calls.add_metric([row["provider"], row["outcome"], cached], row["n"])
        if row["cached"]:
            continue
        buckets = [(_seconds_label(ms), row[f"le_{ms}"]) for ms in LATENCY_BUCKETS_MS]
        buckets.append(("+Inf", row["n"]))
        latency.add_metric(
            [row["provider"], row["outcome"]],
            buckets=buckets,
            sum_value=(row["latency_sum"] or 0) / 1000,
        )
    yield calls
    yield latency


def _waterfall_families(figures: WaterfallFigures) -> Iterator[Metric]:
    cost = GaugeMetricFamily(
        "sluice_provider_cost_per_verified_hit",
        "Provider cost per verified hit over the last 24 hours, by provider and data point.",
        labels=["provider", "data_point"],
    )
    catch_all = GaugeMetricFamily(
        "sluice_provider_catch_all_share",
        "Share of found emails judged risky (catch-all) over the last 24 hours.",
        labels=["provider"],
    )
    for row in figures["providers"]:
        if row["cost_per_verified_hit"] is not None:
            cost.add_metric([row["provider"], row["data_point"]], row["cost_per_verified_hit"])
        if row["data_point"] == "email" and row["catch_all_share"] is not None:
            catch_all.add_metric([row["provider"]], row["catch_all_share"])
    coverage = GaugeMetricFamily(
        "sluice_waterfall_coverage",
        "Share of leads found after each waterfall step over the last 24 hours (cumulative).",
        labels=["data_point", "step"],
    )
    for row in figures["coverage"]:
        if row["coverage"] is not None:
            coverage.add_metric([row["data_point"], str(row["step"])], row["coverage"])
    marked = GaugeMetricFamily(
        "sluice_provider_marked",
        "1 while a provider is stopped for every worker: out_of_credits (until its cool-down "
        "ends) or auth_failed (until an operator clears it).",
        labels=["provider", "kind"],
    )
    for mark in figures["marks"]:
        marked.add_metric([mark["provider"], mark["kind"]], 1)
    yield cost
    yield catch_all
    yield coverage
    yield marked


def _seconds_label(ms: int) -> str:
    return repr(ms / 1000)


def _credit_families(rows: list[LedgerTotal]) -> Iterator[Metric]:
    totals = {row["kind"]: row["total"] or 0 for row in rows}
    ledger = CounterMetricFamily(
        "sluice_credit_ledger_credits",
        "Credits moved by the ledger, by entry kind (grant, hold, charge, release, refund, "
        "adjustment).",
        labels=["kind"],
    )
    for kind in LedgerEntry.Kind.values:
        ledger.add_metric([kind], totals.get(kind, 0))
    yield ledger
    yield CounterMetricFamily(
        "sluice_credits_charged",
        "Credits charged for enrichment results.",
        value=totals.get(LedgerEntry.Kind.CHARGE, 0),
    )
    yield CounterMetricFamily(
        "sluice_credits_refunded",
        "Reserved credits given back (unused remainders released or refunded after review).",
        value=sum(totals.get(kind, 0) for kind in _REFUND_KINDS),
    )


def _sweeper_family() -> GaugeMetricFamily:
    """Read live, not from the cached snapshot: it is what an alert on a stopped beat watches
    (`time() - sluice_sweeper_last_run_timestamp_seconds > …`)."""
    status = sweeper_status()
    return GaugeMetricFamily(
        "sluice_sweeper_last_run_timestamp_seconds",
        "When beat's workflow sweeper last finished a sweep (Unix time; 0: never).",
        value=status.last_run_at.timestamp() if status.last_run_at else 0,
    )


def task_queues() -> list[str]:
    """The broker queues Sluice's tasks go to: the default one plus those tasks name
    (sluice_task's `queue`)."""
    # Every app's tasks, also in a web process that has not dispatched any yet (imported once).
    current_app.loader.import_default_modules()
    # `queue` is set only on the tasks that name one (celery's Task does not declare it).
    named: set[str] = {
        queue for task in current_app.tasks.values() if (queue := getattr(task, "queue", None))
    }
    return sorted({settings.CELERY_TASK_DEFAULT_QUEUE, *named})


def _queue_lengths() -> GaugeMetricFamily | None:
    """Messages waiting per queue: the signal for adding workers. Redis broker only; read live
    (one LLEN per queue) because a backlog changes faster than the cache window."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return None
    timeout = settings.SLUICE_HEALTH_TIMEOUT_S
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    family = GaugeMetricFamily(
        "sluice_celery_queue_length", "Tasks waiting in the broker, by queue.", labels=["queue"]
    )
    try:
        for queue in task_queues():
            family.add_metric([queue], client.llen(queue))
    except redis.RedisError:
        return None  # /healthz reports the broker; metrics still serve the database's numbers
    finally:
        client.close()
    return family


def render() -> bytes:
    """The exposition text for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SluiceCollector())
    return generate_latest(registry)
