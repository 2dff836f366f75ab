from django.db import models
from django.db.models import Q

from common.models import TimestampedModel


class ProviderMark(TimestampedModel):
    """An operator-level stop: the provider said "out of credits" or "bad key", so no worker
    calls it again until an operator clears the mark in the admin (after topping up or fixing
    the key). At most one active mark per provider."""

    class Kind(models.TextChoices):
        OUT_OF_CREDITS = "out_of_credits", "Out of credits"
        AUTH_FAILED = "auth_failed", "Bad API key"

    provider = models.CharField(max_length=64)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    reason = models.TextField(blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider"],
                condition=Q(cleared_at__isnull=True),
                name="provider_mark_one_active_per_provider",
            ),
        ]

    def __str__(self) -> str:
        state = "cleared" if self.cleared_at else "active"
        return f"{self.provider}: {self.kind} ({state})"


class ResultCacheEntry(models.Model):
    """A provider's answer about one identity (found or not found), so a workspace never pays
    twice for the same person. Errors and rate-limit answers are never stored. The entry
    belongs to the workspace whose lookup stored it: `identity_key` hashes the workspace id
    with the identity (`WaterfallEngine._cache_key`), so no other workspace can read it."""

    provider = models.CharField(max_length=64)
    data_point = models.CharField(max_length=32)
    identity_key = models.CharField(max_length=64)
    kind = models.CharField(max_length=16)
    value = models.JSONField(null=True, blank=True)
    confidence = models.SmallIntegerField(null=True, blank=True)
    verdict = models.CharField(max_length=16, blank=True)
    provider_status = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["identity_key", "provider", "data_point"],
                name="result_cache_one_entry_per_key",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["found", "not_found"]), name="result_cache_answers_only"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.data_point}/{self.identity_key[:12]}: {self.kind}"


class ProviderCall(models.Model):
    """One provider call or cache hit, written in bulk per batch (stats, items view)."""

    provider = models.CharField(max_length=64)
    data_point = models.CharField(max_length=32)
    outcome = models.CharField(max_length=32)
    latency_ms = models.PositiveIntegerField(default=0)
    cost = models.FloatField(default=0)
    cached = models.BooleanField(default=False)
    provider_status = models.CharField(max_length=200, blank=True)
    # Free-form correlation id from the caller (e.g. the workflow id).
    tag = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["provider", "created_at"]),
            # Looked up by equality only: a plain index, without the LIKE twin `db_index` adds
            # to a CharField (a run writes a record per call, each index is a write).
            models.Index(fields=["tag"], name="provider_call_tag"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.data_point}: {self.outcome} ({self.latency_ms} ms)"
