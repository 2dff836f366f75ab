from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from accounts.models import Workspace
from common.exceptions import NotFound
from common.pagination import decode_cursor, make_cursor
from credits.models import RefundStatus
from credits.prices import EnrichmentType
from enrichment.models import (
    TERMINAL_WORKFLOW_STATUSES,
    ItemStatus,
    WebhookEndpoint,
    Workflow,
    WorkflowItem,
    WorkflowStatus,
)
from leads.models import Cohort, Company

REFUND_MESSAGES: dict[str, str] = {
    RefundStatus.PENDING_REVIEW: (
        "The run failed on our side; the unused reservation is awaiting an operator's refund "
        "review and is not spendable until then."
    ),
    RefundStatus.APPROVED: "The unused reservation was refunded after review.",
    RefundStatus.REJECTED: "The refund of the unused reservation was declined after review.",
}


def workflow_get(*, workspace: Workspace, workflow_id: str) -> Workflow:
    """By workflow id or by the `cl-task_…` cohort handle it was dispatched on."""
    if "\x00" in workflow_id:
        # PostgreSQL cannot even compare a text holding NUL: no such id can exist.
        raise NotFound("No enrichment workflow with that id.")
    if workflow_id.startswith("cl-task_"):
        cohort = Cohort.objects.filter(workspace=workspace, pk=workflow_id).first()
        workflow_id = cohort.workflow_id if cohort and cohort.workflow_id else ""
    workflow = (
        Workflow.objects.filter(workspace=workspace, pk=workflow_id)
        .select_related("lead_list")
        .first()
    )
    if workflow is None:
        raise NotFound(f"No enrichment workflow {workflow_id or 'for that task'}.")
    return workflow


def workflow_person_item(workflow: Workflow) -> WorkflowItem | None:
    """A finished person run's one item, with its lead: the run's answer."""
    if workflow.kind != Workflow.Kind.PERSON or not workflow.is_terminal:
        return None
    return workflow.items.select_related("lead", "workflow").first()


def items_page(
    *, workflow: Workflow, status: str | None, cursor: str | None, limit: int
) -> tuple[list[WorkflowItem], str | None]:
    position = decode_cursor(cursor, kind=f"items:{workflow.pk}")
    items = WorkflowItem.objects.filter(workflow=workflow).order_by("id")
    if status:
        items = items.filter(status=status)
    if position:
        items = items.filter(id__gt=position["after"])
    page = list(items[: limit + 1])
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        next_cursor = make_cursor(kind=f"items:{workflow.pk}", after=page[-1].id)
    return page, next_cursor


def jobs_active(*, workspace: Workspace) -> QuerySet[Workflow]:
    return Workflow.objects.filter(
        workspace=workspace, status__in=(WorkflowStatus.PENDING, WorkflowStatus.RUNNING)
    ).order_by("-created_at")


_FIELD_TYPES: dict[str, tuple[str, ...]] = {
    "emails": (EnrichmentType.PARTIAL, EnrichmentType.FULL),
    "phones": (EnrichmentType.PHONE_ONLY, EnrichmentType.FULL),
}
_ITEM_STATUS: dict[str, str] = {
    ItemStatus.QUEUED: "pending",
    ItemStatus.RUNNING: "pending",
    ItemStatus.COMPLETED: "finished",
    ItemStatus.NOT_FOUND: "finished",
    ItemStatus.SKIPPED: "finished",
    ItemStatus.FAILED: "failed",
    ItemStatus.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class EnrichmentRecord:
    """The latest enrichment of one (entity, field): a person's from its workflow item, a
    company's from its firmographics."""

    id: str
    entity_id: str
    entity_type: str
    field: str
    status: str
    error: str | None
    data_found: bool | None
    workflow_id: str | None
    created_at: datetime
    updated_at: datetime | None


def enrichments_query(
    *, workspace: Workspace, tasks: list[dict[str, str]]
) -> list[EnrichmentRecord]:
    """The latest enrichment of each (entity, field) asked about; entities never enriched (or
    not the workspace's) are left out. Two queries in all."""
    person_ids = {t["entity_id"] for t in tasks if t["entity_type"] == "person"}
    company_ids = {t["entity_id"] for t in tasks if t["entity_type"] == "company"}
    latest: dict[tuple[str, str], WorkflowItem] = {}
    items = (
        WorkflowItem.objects.filter(workflow__workspace=workspace, lead_id__in=person_ids)
        .select_related("workflow")
        .order_by("id")
    )
    for item in items:
        for field, types in _FIELD_TYPES.items():
            if item.workflow.enrichment_type in types:
                latest[(str(item.lead_id), field)] = item
    companies = {
        str(c.pk): c
        for c in Company.objects.filter(
            workspace=workspace, pk__in=company_ids, enriched_at__isnull=False
        )
    }
    rows = []
    for task in tasks:
        entity_id, field = task["entity_id"], task["field"]
        if task["entity_type"] == "company":
            company = companies.get(entity_id)
            if company:
                rows.append(_company_record(company, field))
            continue
        latest_item = latest.get((entity_id, field))
        if latest_item:
            rows.append(_item_record(latest_item, field))
    return rows


def _item_record(item: WorkflowItem, field: str) -> EnrichmentRecord:
    found = item.email if field == "emails" else item.phone
    finished = item.status not in (ItemStatus.QUEUED, ItemStatus.RUNNING)
    return EnrichmentRecord(
        id=str(item.pk),
        entity_id=str(item.lead_id),
        entity_type="person",
        field=field,
        status=_ITEM_STATUS[item.status],
        error=item.error or None,
        data_found=bool(found) if finished and item.status != ItemStatus.FAILED else None,
        workflow_id=item.workflow_id,
        created_at=item.workflow.created_at,
        updated_at=item.finished_at or item.workflow.updated_at,
    )


def _company_record(company: Company, field: str) -> EnrichmentRecord:
    return EnrichmentRecord(
        id=str(company.pk),
        entity_id=str(company.pk),
        entity_type="company",
        field=field,
        status="finished",
        error=None,
        data_found=True,
        workflow_id=None,
        created_at=company.created_at,
        updated_at=company.enriched_at,
    )


def is_terminal_status(status: str) -> bool:
    return status in TERMINAL_WORKFLOW_STATUSES


def webhooks_active(*, workspace: Workspace) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(workspace=workspace, is_active=True).order_by(
        "created_at"
    )
