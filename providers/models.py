from typing import Any

from django.db import models
from django.db.models import Q

from accounts.models import Workspace
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
    # An "out of credits" mark ends on its own after a cool-down (the provider may have been
    # topped up meanwhile); null = until an operator clears it.
    expires_at = models.DateTimeField(null=True, blank=True)
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


class BlockRangeIndex(models.Index):
    """A BRIN index on PostgreSQL, a plain index elsewhere (SQLite has no BRIN): for a column
    whose values arrive in about the order of the rows, where a BRIN index costs an insert
    almost nothing and still lets a range condition skip most of the table."""

    def create_sql(self, model: Any, schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        if schema_editor.connection.vendor == "postgresql":
            using = " USING brin"
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class ResultCacheEntry(models.Model):
    """A provider's answer about one identity (found or not found), so a workspace never pays
    twice for the same person. Errors and rate-limit answers are never stored. The entry
    belongs to the workspace whose lookup stored it: `identity_key` hashes the workspace id
    with the identity (`WaterfallEngine._cache_key`), so no other workspace can read it.

    Kept narrow for a worker's bulk writes and reads (docs/benchmarks.md, "The result cache"):
    the key is 128 bits of that hash as a `uuid` (16 bytes, compared without a collation), and
    the expiry, which only the purge reads, has a BRIN index (rows arrive in expiry order)."""

    provider = models.CharField(max_length=64)
    data_point = models.CharField(max_length=32)
    identity_key = models.UUIDField()
    kind = models.CharField(max_length=16)
    value = models.JSONField(null=True, blank=True)
    confidence = models.SmallIntegerField(null=True, blank=True)
    verdict = models.CharField(max_length=16, blank=True)
    provider_status = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [BlockRangeIndex(fields=["expires_at"], name="result_cache_expiry")]
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
        return f"{self.provider}/{self.data_point}/{str(self.identity_key)[:8]}: {self.kind}"


class ProviderCall(models.Model):
    """Provider calls or cache hits, written in bulk per batch (stats, items view, provider
    analytics and the `auto` order). A row stands for `calls` records identical in every column
    but their time within one second (`providers.services.calls_record`): a chunk's cache hits,
    or a sandbox's answers at latency 0, are a few rows, not one per lead. Readers count
    `Sum("calls")`, never rows."""

    provider = models.CharField(max_length=64)
    data_point = models.CharField(max_length=32)
    outcome = models.CharField(max_length=32)
    latency_ms = models.PositiveIntegerField(default=0)  # of each call
    cost = models.FloatField(default=0)  # of all the row's calls together
    calls = models.PositiveIntegerField(default=1, db_default=1)
    cached = models.BooleanField(default=False)
    provider_status = models.CharField(max_length=200, blank=True)
    # Free-form correlation id from the caller (e.g. the workflow id).
    tag = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(db_index=True)
    # The workspace whose lookup made the call (none for calls outside any workspace). A plain
    # column, not a foreign key: the log is append-only and written with COPY.
    workspace_id = models.UUIDField(null=True, blank=True)
    # 1-based position of the provider in the lead's waterfall for this data point (finders
    # only); `opens_lookup` marks the first record of a lead's lookup, so a set-based query
    # counts the leads looked up (coverage after each step).
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    opens_lookup = models.BooleanField(default=False)
    # A found email's status once the waterfall judged it (the verifier's verdict, else the
    # finder's), and whether the workspace's configuration accepted it as found.
    email_status = models.CharField(max_length=16, blank=True)
    accepted = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["provider", "created_at"]),
            # Looked up by equality only: a plain index, without the LIKE twin `db_index` adds
            # to a CharField (a run writes a record per call, each index is a write).
            models.Index(fields=["tag"], name="provider_call_tag"),
            models.Index(fields=["workspace_id", "created_at"], name="provider_call_ws_time"),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.data_point}: {self.outcome} ({self.latency_ms} ms)"


class CatchAllPolicy(models.TextChoices):
    """What a `risky` (catch-all domain) email is to a workspace."""

    ACCEPT = "accept", "Found (risky), charged"
    ACCEPT_UNCHARGED = "accept_uncharged", "Found (risky), not charged"
    REJECT = "reject", "Not found: the waterfall goes on"


class WaterfallConfig(TimestampedModel):
    """One version of a workspace's waterfall (append-only: a change writes version n+1, so a
    run can name the version it used). Orders hold provider names among those the operator
    configured, or `["auto"]` for an order learned from the call records. Version 0 is not
    stored: it means the operator's defaults from the environment."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="waterfall_configs"
    )
    version = models.PositiveIntegerField()
    email = models.JSONField()
    phone = models.JSONField()
    company = models.JSONField()
    verifier = models.CharField(max_length=64, blank=True)
    catch_all_policy = models.CharField(max_length=20, choices=CatchAllPolicy.choices)
    min_email_status = models.CharField(max_length=16)
    # Who wrote it (the API key's prefix), for the admin.
    changed_by = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "version"], name="waterfall_config_one_per_version"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="waterfall_config_version_1"),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id} v{self.version}"


class AutoOrder(TimestampedModel):
    """The latest `auto` order of one workspace and data point, recomputed by beat from the
    call records, with the figures behind it (`reasons`: one entry per provider)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    data_point = models.CharField(max_length=32)
    order = models.JSONField()
    reasons = models.JSONField()
    # Whose call records ranked it: the workspace's, the operator's (the workspace had too
    # few) or none yet (priors only: the operator's order).
    source = models.CharField(max_length=16)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "data_point"], name="auto_order_one_per_data_point"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id}/{self.data_point}: {','.join(self.order)}"


# The zero UUID stands for "no workspace" in the hourly roll-ups, whose key columns are never
# null (so a unique constraint covers them).
NO_WORKSPACE = "00000000-0000-0000-0000-000000000000"


class ProviderCallHour(models.Model):
    """Call records of one closed hour, counted per key (a few hundred rows per hour instead
    of one per call): analytics read these for closed hours and the call records only for the
    hours not rolled up yet (`providers.rollups.call_rollup_advance`, run by beat)."""

    hour = models.DateTimeField()
    workspace_id = models.UUIDField()
    data_point = models.CharField(max_length=32)
    provider = models.CharField(max_length=64)
    step = models.PositiveSmallIntegerField()  # 0: not a finder's step
    cached = models.BooleanField()
    outcome = models.CharField(max_length=32)
    email_status = models.CharField(max_length=16)
    accepted = models.BooleanField()
    calls = models.PositiveIntegerField()
    opened = models.PositiveIntegerField()  # records that opened a lead's lookup
    cost = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "hour", "workspace_id", "data_point", "provider", "step", "cached",
                    "outcome", "email_status", "accepted",
                ],
                name="provider_call_hour_one_per_key",
            ),
        ]  # fmt: skip
        indexes = [models.Index(fields=["workspace_id", "hour"], name="provider_call_hour_ws")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.provider}/{self.data_point}: {self.calls}"


class ProviderLatencyHour(models.Model):
    """Latency histogram of one closed hour's real calls of a provider (of a whole day once it is
    two days old, at the day's first hour): `counts` maps a bucket (its upper bound in ms, see
    `providers.analytics.latency_bucket`) to a number of calls."""

    hour = models.DateTimeField()
    workspace_id = models.UUIDField()
    data_point = models.CharField(max_length=32)
    provider = models.CharField(max_length=64)
    counts = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "workspace_id", "data_point", "provider"],
                name="provider_latency_hour_one_per_key",
            ),
        ]
        indexes = [models.Index(fields=["workspace_id", "hour"], name="provider_latency_hour_ws")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.provider}/{self.data_point}"
