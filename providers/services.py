"""Writes: cache entries, call records and operator marks, in bulk. (A workspace's waterfall:
`providers.waterfalls`; the call roll-ups: `providers.rollups`.)"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from common.bulk import tuples_insert, tuples_upsert
from providers.limits import get_limits
from providers.models import ProviderCall, ProviderMark, ResultCacheEntry

logger = logging.getLogger(__name__)


class CacheAnswer(NamedTuple):
    """A provider's answer to store in the result cache (a row, not a model instance: a
    worker writes hundreds per chunk)."""

    provider: str
    data_point: str
    identity_key: str
    kind: str
    value: Any
    confidence: int | None
    verdict: str
    provider_status: str


class CallRecord(NamedTuple):
    """One provider call or cache hit, as the ProviderCall row it becomes."""

    provider: str
    data_point: str
    outcome: str
    latency_ms: int
    cost: float
    cached: bool
    provider_status: str
    tag: str
    created_at: datetime
    # For the analytics (see ProviderCall): whose lookup, the finder's step in the lead's order,
    # whether it opened the lookup, the found email's judged status and whether it counted.
    workspace_id: str | None = None
    step: int | None = None
    opens_lookup: bool = False
    email_status: str = ""
    accepted: bool = False


def cache_store_many(*, entries: Sequence[CacheAnswer], ttl_seconds: int) -> None:
    """Stores answers (found / not found); a fresh answer replaces an older one in its entry."""
    if not entries or ttl_seconds <= 0:
        return
    now = timezone.now()
    # The batch's two timestamps as text, formatted once: COPY reads them as text anyway, and
    # psycopg formatting an aware datetime cost ~2 µs each, twice a row (docs/benchmarks.md).
    created, expires = now.isoformat(), (now + timedelta(seconds=ttl_seconds)).isoformat()
    # In key order, so two workers writing overlapping keys lock them in the same order.
    rows = sorted(
        (e.identity_key, e.provider, e.data_point, *e[3:], created, expires) for e in entries
    )
    if connection.vendor == "postgresql" and _cache_insert_new(rows):
        return
    tuples_upsert(
        ResultCacheEntry,
        _CACHE_FIELDS,
        rows,
        unique_fields=["identity_key", "provider", "data_point"],
        update_fields=[
            "kind",
            "value",
            "confidence",
            "verdict",
            "provider_status",
            "created_at",
            "expires_at",
        ],
    )


# The key first (the rows' sort order), then the answer and its two times.
_CACHE_FIELDS = ["identity_key", "provider", "data_point", *CacheAnswer._fields[3:], "created_at",
                 "expires_at"]  # fmt: skip
_CACHE_KEY = "result_cache_one_entry_per_key"  # ResultCacheEntry's unique constraint


def _cache_insert_new(rows: list[tuple]) -> bool:
    """COPYs the rows straight into the table, in a savepoint; False (nothing written) when one
    of their keys already has an entry. An answer is stored because the cache held none to
    serve, and most such keys have no entry at all (a first run's are all new): for them this
    costs PostgreSQL ~12 µs an entry against ~22 for the staging table and its
    `INSERT … ON CONFLICT` (docs/benchmarks.md, "PostgreSQL's share of a run"). A key with an
    entry (expired, older than its field's time to live, or written meanwhile by another
    worker) stops the COPY at the first such row, in key order: the batch then takes the
    upsert, having paid for the rows before it."""
    try:
        with transaction.atomic():  # the savepoint the batch's transaction goes on from
            tuples_insert(ResultCacheEntry, _CACHE_FIELDS, rows)
    except IntegrityError as error:
        if getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) != _CACHE_KEY:
            raise
        return False
    return True


def cache_purge_expired() -> int:
    deleted, _ = ResultCacheEntry.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


_AT = CallRecord._fields.index("created_at")
_COST = CallRecord._fields.index("cost")


def calls_record(*, calls: Sequence[CallRecord]) -> None:
    """Appends call records (COPY into the table). Records identical in every field but their
    time within the same second are one row, with their number in `calls`, the earliest
    time and the cost of all: a chunk's cache hits (or a sandbox's answers at latency 0) were
    a row per lead and per provider, each an insert into four indexes, for figures that only
    ever count them (docs/benchmarks.md)."""
    merged: dict[tuple, list] = {}
    for call in calls:
        at = call.created_at
        # The record's other fields and its second, as a POSIX second (a float's floor: its
        # wall-clock second, offsets being whole seconds): 0.6 µs a record against 1.6 for a
        # datetime with its microseconds cleared and a 14-field tuple (a rerun's chunk writes
        # two records a lead).
        key = (call[:_AT], call[_AT + 1 :], at.timestamp() // 1)
        if (row := merged.get(key)) is None:
            merged[key] = [call, 1]
        else:
            row[1] += 1
            if at < row[0].created_at:  # pool threads append out of order
                row[0] = call
    rows = [(*call[:_COST], call.cost * n, *call[_COST + 1 :], n) for call, n in merged.values()]
    tuples_insert(ProviderCall, [*CallRecord._fields, "calls"], rows)


def provider_mark_set(*, provider: str, kind: str, reason: str = "") -> ProviderMark:
    """Stops calls to `provider` for every worker until an operator clears the mark, or, for
    "out of credits", until the cool-down ends (SLUICE_PROVIDER_EXHAUSTED_COOLDOWN_S).
    Idempotent: an active mark is kept as it is."""
    now = timezone.now()
    expires_at = None
    if kind == ProviderMark.Kind.OUT_OF_CREDITS:
        expires_at = now + timedelta(seconds=settings.SLUICE_PROVIDER_EXHAUSTED_COOLDOWN_S)
    try:
        with transaction.atomic():
            # A mark whose cool-down ended is over: it must not hold the one active slot.
            ProviderMark.objects.filter(
                provider=provider, cleared_at__isnull=True, expires_at__lte=now
            ).update(cleared_at=F("expires_at"), cleared_by="cool-down")
            mark = ProviderMark.objects.create(
                provider=provider, kind=kind, reason=reason[:2000], expires_at=expires_at
            )
    except IntegrityError:
        return ProviderMark.objects.get(provider=provider, cleared_at__isnull=True)
    logger.warning("Provider %s marked %s: %s", provider, kind, reason)
    return mark


def provider_mark_clear(*, mark: ProviderMark, cleared_by: str = "") -> bool:
    """Clears an active mark; False when it was already cleared."""
    updated = ProviderMark.objects.filter(pk=mark.pk, cleared_at__isnull=True).update(
        cleared_at=timezone.now(), cleared_by=cleared_by[:150]
    )
    if updated and mark.kind == ProviderMark.Kind.OUT_OF_CREDITS:
        get_limits().reset(mark.provider)  # the shared "limited until" the answer set
    if updated:
        logger.info("Provider mark %s cleared by %s", mark, cleared_by or "?")
    return bool(updated)
