"""Writes: cache entries, call records and operator marks, in bulk."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.bulk import rows_insert, rows_upsert
from providers.models import ProviderCall, ProviderMark, ResultCacheEntry

logger = logging.getLogger(__name__)


def cache_store_many(*, entries: Sequence[ResultCacheEntry], ttl_seconds: int) -> None:
    """Upserts answers (found / not found); a fresh answer replaces an older one."""
    if not entries or ttl_seconds <= 0:
        return
    now = timezone.now()
    for entry in entries:
        entry.created_at = now
        entry.expires_at = now + timedelta(seconds=ttl_seconds)
    # Written in key order, so two workers upserting overlapping keys lock rows in the same
    # order; streamed with COPY (bench: the ORM's bulk_create cost ~1 s per 5,000 leads).
    rows_upsert(
        ResultCacheEntry,
        entries,
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


def cache_purge_expired() -> int:
    deleted, _ = ResultCacheEntry.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def calls_record(*, calls: Sequence[ProviderCall]) -> None:
    rows_insert(ProviderCall, calls)  # append-only: COPY straight into the table


def provider_mark_set(*, provider: str, kind: str, reason: str = "") -> ProviderMark:
    """Stops calls to `provider` for every worker until an operator clears the mark. Idempotent:
    an active mark is kept as it is."""
    try:
        with transaction.atomic():
            mark = ProviderMark.objects.create(provider=provider, kind=kind, reason=reason[:2000])
    except IntegrityError:
        return ProviderMark.objects.get(provider=provider, cleared_at__isnull=True)
    logger.warning("Provider %s marked %s: %s", provider, kind, reason)
    return mark


def provider_mark_clear(*, mark: ProviderMark, cleared_by: str = "") -> bool:
    """Clears an active mark; False when it was already cleared."""
    updated = ProviderMark.objects.filter(pk=mark.pk, cleared_at__isnull=True).update(
        cleared_at=timezone.now(), cleared_by=cleared_by[:150]
    )
    if updated:
        logger.info("Provider mark %s cleared by %s", mark, cleared_by or "?")
    return bool(updated)
