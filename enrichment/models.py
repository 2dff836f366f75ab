import secrets

from django.db import models
from django.db.models import Q

from accounts.models import ApiKey, Workspace
from common.models import TimestampedModel
from credits.models import Hold, RefundStatus
from credits.prices import EnrichmentType
from leads.models import Lead, LeadList


class WorkflowStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_WORKFLOW_STATUSES = (
    WorkflowStatus.COMPLETED,
    WorkflowStatus.FAILED,
    WorkflowStatus.CANCELLED,
)


class ItemStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"  # something was found
    NOT_FOUND = "not_found"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


TERMINAL_ITEM_STATUSES = (
    ItemStatus.COMPLETED,
    ItemStatus.NOT_FOUND,
    ItemStatus.FAILED,
    ItemStatus.SKIPPED,
    ItemStatus.CANCELLED,
)
# Queued and running items (every terminal status is written with finished_at). No index holds
# them (a result that left one could not be a HOT update): a chunk's are found through
# item_chunk, a run's open chunks as the sweeper walks them (leases.open_chunks).
OPEN_ITEM = Q(finished_at__isnull=True)


class Workflow(TimestampedModel):
    """One enrichment run. Status changes only through enrichment.services.workflow_transition."""

    class Kind(models.TextChoices):
        PERSON = "person"
        BULK = "bulk"
        TASK = "task"
        # A smart-agent run (the agents app): the same items, claims and settlement.
        AGENT = "agent"

    class Output(models.TextChoices):
        SKIP_EXISTING = "skip_existing"
        OVERWRITE = "overwrite"
        # Looks up what is missing or past its time to live (docs/privacy.md, "Freshness").
        REFRESH_STALE = "refresh_stale"

    id = models.CharField(primary_key=True, max_length=80, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="workflows")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(
        max_length=10, choices=WorkflowStatus.choices, default=WorkflowStatus.PENDING
    )
    enrichment_type = models.CharField(max_length=12, choices=EnrichmentType.choices)
    output = models.CharField(max_length=16, choices=Output.choices, default=Output.SKIP_EXISTING)
    lead_list = models.ForeignKey(
        LeadList, null=True, blank=True, on_delete=models.SET_NULL, related_name="workflows"
    )
    # The lead ids of a by-task run (a cohort subset); bulk runs read the list instead.
    entity_ids = models.JSONField(null=True, blank=True)
    # Counters, bumped with F() by the chunk that processed the items.
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    not_found = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    found_emails = models.PositiveIntegerField(default=0)
    found_phones = models.PositiveIntegerField(default=0)
    # What the processed items were charged, bumped in the transaction that writes their
    # charges: the settlement charges this, as it ends the run on `processed` (summing a
    # million items under the row's lock took 1.5 s at the run's end).
    items_charged = models.PositiveIntegerField(default=0)
    # Leads of the list left out because they already held the data (skip_existing).
    skipped_existing = models.PositiveIntegerField(default=0)
    planned = models.BooleanField(default=False)
    chunk_count = models.PositiveIntegerField(default=0)
    # Money: the hold pays for the run; the budget counter enforces max_credits while it runs.
    hold = models.ForeignKey(
        Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quote_id = models.CharField(max_length=200, null=True, blank=True)
    # The key that started the run, where the start records it (the Lance dialect's createdBy).
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    credits_reserved = models.PositiveIntegerField(default=0)
    credits_charged = models.PositiveIntegerField(default=0)
    credits_refunded = models.PositiveIntegerField(default=0)
    max_credits = models.PositiveIntegerField(null=True, blank=True)
    budget_claimed = models.PositiveIntegerField(default=0)
    refund_status = models.CharField(
        max_length=16, choices=RefundStatus.choices, default=RefundStatus.NOT_APPLICABLE
    )
    error = models.TextField(blank=True)
    # The workspace's waterfall configuration the run uses (0: the operator's defaults), pinned
    # by its first chunk, and what that chunk resolved: every order, `auto`'s with its reasons.
    waterfall_version = models.PositiveIntegerField(null=True, blank=True)
    waterfall = models.JSONField(null=True, blank=True)
    deadline = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    last_progress_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "status"], name="workflow_ws_status"),
            models.Index(fields=["status", "created_at"], name="workflow_status_created"),
        ]
        constraints = [
            models.CheckConstraint(
                name="workflow_settlement_balances",
                condition=Q(credits_charged__lte=models.F("credits_reserved")),
            ),
            models.CheckConstraint(
                name="workflow_processed_le_total",
                condition=Q(processed__lte=models.F("total")),
            ),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_WORKFLOW_STATUSES

    @property
    def progress(self) -> int:
        if self.status in TERMINAL_WORKFLOW_STATUSES:
            return 100
        return int(self.processed * 100 / self.total) if self.total else 0


def new_workflow_id(kind: str) -> str:
    prefixes: dict[str, str] = {Workflow.Kind.PERSON: "enrich", Workflow.Kind.AGENT: "agent"}
    prefix = prefixes.get(kind, "bulk-enrich")
    return f"{prefix}-{secrets.token_hex(12)}"


class WorkflowItem(models.Model):
    """One lead of a workflow. A chunk claims its items with a conditional update and renews the
    claim (`claimed_at`) while it runs; a claim not renewed for SLUICE_CLAIM_TTL_SECONDS belongs
    to a dead worker and is given back to the queue (enrichment/services/leases.py).

    No index holds a column a chunk writes (`status`, `claim_token`, `claimed_at`, the result,
    `finished_at`), and the table leaves room in its pages (migration 0009): a claim, a lease
    renewal, a release and the result rewrite the item in place (a HOT update, no index entry
    written), where each used to add an entry to six indexes (docs/benchmarks.md, "Item writes"
    and "Open chunks outside the item rows"). Queued and running items are the open ones
    (OPEN_ITEM); a chunk's items are found through `item_chunk`, and a chunk found with none
    open is recorded once (ClosedChunk) so that the sweeper does not read it again."""

    id = models.BigAutoField(primary_key=True)
    # No index of their own: the indexes below start with each of them, and every index costs a
    # write per result (and per claim, if it held a column the claim changes).
    workflow = models.ForeignKey(
        Workflow, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+", db_index=False)
    chunk_no = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.QUEUED)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    email = models.CharField(max_length=254, blank=True)
    email_status = models.CharField(max_length=10, blank=True)
    email_confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    provider = models.CharField(max_length=60, blank=True)
    attempts = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    credits_charged = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "lead"], name="workflow_item_unique_lead"),
        ]
        indexes = [
            # A chunk's items (its claim, renewals, results, give-up); a run's chunks (the
            # sweeper walks them, leases.open_chunks). No predicate: a partial index of open
            # items is left by every result, which then cannot be a HOT update.
            models.Index(fields=["workflow", "chunk_no"], name="item_chunk"),
            # A person's items (reuse of a person run, erasure, the lead's ON DELETE CASCADE).
            models.Index(fields=["lead"], name="item_lead"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id}/{self.lead_id}"


class ClosedChunk(models.Model):
    """A chunk of a planned run found with no open item left (by the sweeper's walk of open
    chunks, leases.open_chunks). An item never reopens and a planned run gets no new item, so
    the walk skips the chunk from then on instead of reading its finished items on every
    sweep. A chunk without a row is only looked at: rows are a saving, never a condition."""

    workflow = models.ForeignKey(
        Workflow, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    chunk_no = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "chunk_no"], name="closed_chunk_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id}/{self.chunk_no}"


class WebhookEndpoint(TimestampedModel):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=80)
    is_active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TimestampedModel):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.CharField(max_length=80)
    event_type = models.CharField(max_length=60)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id}"


class SweeperRun(models.Model):
    """When beat's sweeper last finished, one row per sweep task: beat is a single process, so
    /readyz, /metrics and the admin show when it stopped (ops/health.py)."""

    name = models.CharField(max_length=60, primary_key=True)
    finished_at = models.DateTimeField()
    report = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"{self.name} at {self.finished_at:%Y-%m-%d %H:%M:%S}"
