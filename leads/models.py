import secrets
import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from accounts.models import Workspace
from common.models import TimestampedModel


class Company(TimestampedModel):
    """Firmographics, shaped like the SDK's `CompanyRecord`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="companies")
    name = models.CharField(max_length=300, blank=True)
    domain = models.CharField(max_length=253, null=True, blank=True)
    ticker = models.CharField(max_length=20, blank=True)
    industry = models.CharField(max_length=200, blank=True)
    industries = models.JSONField(default=list, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    employee_count_range = models.CharField(max_length=40, blank=True)
    revenue_range = models.CharField(max_length=40, blank=True)
    hq_location = models.CharField(max_length=300, blank=True)
    funding_stage = models.CharField(max_length=60, blank=True)
    total_funding_usd = models.BigIntegerField(null=True, blank=True)
    tech_stack = models.JSONField(default=list, blank=True)
    linkedin_url = models.CharField(max_length=300, blank=True)
    provider = models.CharField(max_length=60, blank=True)
    enriched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "companies"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "domain"],
                condition=Q(domain__isnull=False),
                name="company_domain_unique_per_workspace",
            ),
        ]
        indexes = [
            models.Index(Lower("name"), "workspace", name="company_name_ci"),
            # Search pages newest first with a (created_at, id) keyset.
            models.Index(fields=["workspace", "-created_at", "-id"], name="company_recent"),
        ]

    def __str__(self) -> str:
        return self.name or self.domain or str(self.id)


# A lead's provenance columns (below), for the code that writes or shows them together.
PROVENANCE_FIELDS = (
    "email_source",
    "email_found_at",
    "email_workflow_id",
    "email_verifier",
    "phone_source",
    "phone_found_at",
    "phone_workflow_id",
)


class Lead(TimestampedModel):
    """A person. Deduplicated within a workspace on `identity_key` (see leads.canonical:
    LinkedIn profile, else email, else name + company domain)."""

    class EmailStatus(models.TextChoices):
        VALID = "valid"
        RISKY = "risky"
        INVALID = "invalid"
        UNKNOWN = "unknown"

    # An enriched lead is rewritten in place (a HOT update, no index entry) when its page has
    # room for the new version and no index holds a column the enrichment writes: so no index
    # on `email` (or `phone`, the provenance, `enriched_at`), and the table keeps free room in
    # its pages (leads migration 0006, docs/benchmarks.md "Lead writes"). Every other write (each
    # imported row) inserts into every index of this table, so it keeps none that another one
    # covers: `workspace` leads the composite indexes and the identity constraint below, and
    # `created_at` is only ever read per workspace (`lead_recent`); nor one no query reads
    # (`domain`: a search by domain also matches the company's, and the suppression list's
    # domain entries also match emails, so both read the workspace's leads whatever the
    # indexes). docs/benchmarks.md, "The import's fifth pass".
    created_at = models.DateTimeField(auto_now_add=True)
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="leads", db_index=False
    )
    identity_key = models.CharField(max_length=400)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    full_name = models.CharField(max_length=300, blank=True)
    title = models.CharField(max_length=300, blank=True)
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    company_name = models.CharField(max_length=300, blank=True)
    domain = models.CharField(max_length=253, blank=True)
    industry = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=300, blank=True)
    linkedin_url = models.CharField(max_length=300, null=True, blank=True)
    email = models.CharField(max_length=254, null=True, blank=True)
    email_status = models.CharField(max_length=10, choices=EmailStatus.choices, blank=True)
    email_confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    phone = models.CharField(max_length=20, null=True, blank=True)
    # Which provider found the email/phone, and when (empty for imported values).
    provider = models.CharField(max_length=60, blank=True)
    enriched_at = models.DateTimeField(null=True, blank=True)
    # Provenance per data point (docs/privacy.md): who found it, when, in which run, and who
    # verified it. Empty for imported values; `*_found_at` is what freshness is measured from.
    email_source = models.CharField(max_length=60, blank=True)
    email_found_at = models.DateTimeField(null=True, blank=True)
    email_workflow_id = models.CharField(max_length=80, blank=True)
    email_verifier = models.CharField(max_length=60, blank=True)
    phone_source = models.CharField(max_length=60, blank=True)
    phone_found_at = models.DateTimeField(null=True, blank=True)
    phone_workflow_id = models.CharField(max_length=80, blank=True)
    # Set while the person matches the suppression list (leads.suppression): never enriched,
    # never returned by a read, contact fields left out of exports.
    suppressed_at = models.DateTimeField(null=True, blank=True)
    # Imported columns we have no field for, kept so an export gives them back.
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "identity_key"], name="lead_identity_unique_per_workspace"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "linkedin_url"], name="lead_linkedin"),
            # Search pages newest first with a (created_at, id) keyset.
            models.Index(fields=["workspace", "-created_at", "-id"], name="lead_recent"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.identity_key


class Folder(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="folders")
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name


class LeadList(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="lead_lists")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    folder = models.ForeignKey(
        Folder, null=True, blank=True, on_delete=models.SET_NULL, related_name="lead_lists"
    )
    leads = models.ManyToManyField(Lead, through="ListMembership", related_name="lead_lists")
    # The list's own columns (a smart agent's output), in the order they were added; each
    # lead's value is in its membership's `custom_values`.
    custom_columns = models.JSONField(default=list, db_default=[], blank=True)

    class Meta:
        constraints = [
            # Create is idempotent on the name, case-insensitively (Cleanlist's `reused: true`).
            models.UniqueConstraint(
                Lower("name"), "workspace", name="lead_list_name_ci_unique_per_workspace"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="lead_list_recent"),
        ]

    def __str__(self) -> str:
        return self.name


class ListMembership(models.Model):
    """A lead in a list. The sequential id is the stable keyset for paging a list."""

    id = models.BigAutoField(primary_key=True)
    # Neither has an index of its own: `membership_page` leads with the list, `membership_unique`
    # with the lead (a lead's memberships: its deletion, erasure), and answers "is this lead in
    # this list" as well either way round. An import inserts into each index of this table once
    # per row (docs/benchmarks.md, "The import's fifth pass").
    lead_list = models.ForeignKey(
        LeadList, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    added_at = models.DateTimeField(auto_now_add=True)
    # This lead's values of the list's custom columns, by column name. A database default
    # too: the importers and list services insert memberships in SQL of their own.
    custom_values = models.JSONField(default=dict, db_default={}, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lead", "lead_list"], name="membership_unique"),
        ]
        # Pages of a list: `WHERE lead_list_id = … AND id > … ORDER BY id LIMIT …`.
        indexes = [models.Index(fields=["lead_list", "id"], name="membership_page")]

    def __str__(self) -> str:
        return f"{self.lead_id} in {self.lead_list_id}"


def new_cohort_id() -> str:
    return f"cl-task_{secrets.token_urlsafe(16)}"


class Cohort(models.Model):
    """A `cl-task_…` handle: the entity ids one search or list read returned, so a follow-up
    call (add to list, enrich by task) can name them without re-sending every id."""

    class EntityKind(models.TextChoices):
        PERSON = "person"
        COMPANY = "company"

    id = models.CharField(primary_key=True, max_length=64, default=new_cohort_id, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="cohorts")
    entity_kind = models.CharField(max_length=10, choices=EntityKind.choices)
    entity_ids = models.JSONField(default=list)
    source = models.CharField(max_length=40)  # e.g. "search_people", "list_leads"
    # Set when an enrichment is dispatched on this cohort, so status accepts the handle.
    workflow_id = models.CharField(max_length=80, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.id


class Suppression(models.Model):
    """One entry of the suppression list: a keyed hash (leads.suppression.digest) of a
    canonical value, never the value itself, so the list holds no personal data and outlives an
    erasure. `workspace` null: the operator-wide list, which applies to every workspace."""

    class Kind(models.TextChoices):
        EMAIL = "email"
        DOMAIN = "domain"
        LINKEDIN_URL = "linkedin_url"
        PHONE = "phone"
        PERSON = "person"  # the canonical identity (leads.canonical.person_identify)

    class Source(models.TextChoices):
        MANUAL = "manual"
        ERASURE = "erasure"

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="suppressions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    digest = models.CharField(max_length=64)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "digest"],
                condition=Q(workspace__isnull=False),
                name="suppression_unique_per_workspace",
            ),
            models.UniqueConstraint(
                fields=["digest"],
                condition=Q(workspace__isnull=True),
                name="suppression_unique_operator_wide",
            ),
        ]
        indexes = [
            models.Index(fields=["digest"], name="suppression_digest"),
            models.Index(fields=["workspace", "-id"], name="suppression_recent"),
        ]

    def __str__(self) -> str:
        scope = self.workspace_id or "operator"
        return f"{self.kind} {self.digest[:12]}… ({scope})"
