from typing import Any

from django.db.models import QuerySet

from accounts.models import Workspace
from common.exceptions import NotFound
from common.pagination import decode_cursor, make_cursor
from enrichment.models import (
    TERMINAL_WORKFLOW_STATUSES,
    ItemStatus,
    Workflow,
    WorkflowItem,
    WorkflowStatus,
)
from leads.models import Cohort, Company

REFUND_MESSAGES = {
    "pending_review": (
        "The run failed on our side; the unused reservation is awaiting an operator's refund "
        "review and is not spendable until then."
    ),
    "approved": "The unused reservation was refunded after review.",
    "rejected": "The refund of the unused reservation was declined after review.",
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


def _person_result(workflow: Workflow) -> dict[str, Any] | None:
    if workflow.kind != Workflow.Kind.PERSON or not workflow.is_terminal:
        return None
    item = workflow.items.select_related("lead").first()
    if item is None:
        return None
    lead = item.lead
    return {
        "lead_id": str(lead.pk),
        "status": item.status,
        "full_name": lead.full_name or None,
        "first_name": lead.first_name or None,
        "last_name": lead.last_name or None,
        "email": lead.email,
        "email_status": lead.email_status or None,
        "phone": lead.phone,
        "linkedin_url": lead.linkedin_url,
        "title": lead.title or None,
        "company": lead.company_name or None,
        "enrichment_type": workflow.enrichment_type,
        "provider": item.provider or None,
    }


def workflow_status(workflow: Workflow) -> dict[str, Any]:
    """The status document (SPEC §5 + the SDK's WorkflowStatusResponse)."""
    return {
        "workflow_id": workflow.pk,
        "kind": workflow.kind,
        "status": workflow.status,
        "progress": workflow.progress,
        "total": workflow.total,
        "processed": workflow.processed,
        "completed": workflow.completed,
        # Cleanlist counts every lead that yielded nothing as failed; the split is in summary.
        "failed": workflow.not_found + workflow.failed,
        "found_emails": workflow.found_emails,
        "found_phones": workflow.found_phones,
        "enrichment_type": workflow.enrichment_type,
        "lead_list_id": str(workflow.lead_list_id) if workflow.lead_list_id else None,
        "summary": {
            "found": workflow.completed,
            "not_found": workflow.not_found,
            "errors": workflow.failed,
            "skipped": workflow.skipped,
            "cancelled": workflow.cancelled,
            "skipped_existing": workflow.skipped_existing,
            "found_emails": workflow.found_emails,
            "found_phones": workflow.found_phones,
        },
        "result": _person_result(workflow),
        "credits_reserved": workflow.credits_reserved,
        "credits_charged": workflow.credits_charged if workflow.is_terminal else 0,
        "credits_refunded": workflow.credits_refunded if workflow.is_terminal else 0,
        "refund_status": workflow.refund_status,
        "refund_message": REFUND_MESSAGES.get(workflow.refund_status),
        "error": workflow.error or None,
        "created_at": workflow.created_at,
        "started_at": workflow.started_at,
        "finished_at": workflow.finished_at,
    }


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


_FIELD_TYPES = {"emails": ("partial", "full"), "phones": ("phone_only", "full")}
_ITEM_STATUS = {
    ItemStatus.QUEUED: "pending",
    ItemStatus.RUNNING: "pending",
    ItemStatus.COMPLETED: "finished",
    ItemStatus.NOT_FOUND: "finished",
    ItemStatus.SKIPPED: "finished",
    ItemStatus.FAILED: "failed",
    ItemStatus.CANCELLED: "cancelled",
}


def enrichments_query(*, workspace: Workspace, tasks: list[dict[str, str]]) -> list[dict]:
    """The latest enrichment of each (entity, field) asked about; entities never enriched (or
    not the workspace's) are left out, as seeds/001 describes. Two queries in all."""
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
                rows.append(_company_row(company, field))
            continue
        item = latest.get((entity_id, field))
        if item:
            rows.append(_item_row(item, field))
    return rows


def _item_row(item: WorkflowItem, field: str) -> dict[str, Any]:
    found = item.email if field == "emails" else item.phone
    finished = item.status not in (ItemStatus.QUEUED, ItemStatus.RUNNING)
    return {
        "id": str(item.pk),
        "entity_id": str(item.lead_id),
        "entity_type": "person",
        "field": field,
        "status": _ITEM_STATUS[item.status],
        "error": item.error or None,
        "data_found": bool(found) if finished and item.status != ItemStatus.FAILED else None,
        "workflow_id": item.workflow_id,
        "created_at": item.workflow.created_at,
        "updated_at": item.finished_at or item.workflow.updated_at,
    }


def _company_row(company: Company, field: str) -> dict[str, Any]:
    return {
        "id": str(company.pk),
        "entity_id": str(company.pk),
        "entity_type": "company",
        "field": field,
        "status": "finished",
        "error": None,
        "data_found": True,
        "workflow_id": None,
        "created_at": company.created_at,
        "updated_at": company.enriched_at,
    }


def is_terminal_status(status: str) -> bool:
    return status in TERMINAL_WORKFLOW_STATUSES
