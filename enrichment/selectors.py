import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import Col
from django.utils import timezone

from accounts.models import Workspace
from common.exceptions import NotFound
from common.pagination import decode_cursor, make_cursor
from credits.models import LedgerEntry, RefundStatus
from credits.prices import EnrichmentType
from enrichment.models import (
    OPEN_ITEM,
    TERMINAL_WORKFLOW_STATUSES,
    ItemStatus,
    SweeperRun,
    WebhookEndpoint,
    Workflow,
    WorkflowItem,
    WorkflowStatus,
)
from leads.models import Cohort, Company
from leads.selectors import parse_uuid

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
        .exclude(kind=Workflow.Kind.AGENT)  # smart-agent runs answer at /smart-agents
        .select_related("lead_list")
        .first()
    )
    if workflow is None:
        raise NotFound(f"No enrichment workflow {workflow_id or 'for that task'}.")
    return workflow


# What a status document shows (enrichment.serializers.WorkflowStatusSerializer and the dialects'
# run and job shapes): a poll reads only these columns.
STATUS_FIELDS = (
    "id", "workspace_id", "kind", "status", "enrichment_type", "output", "lead_list_id",
    "total", "processed", "completed", "not_found", "failed", "skipped", "cancelled",
    "found_emails", "found_phones", "skipped_existing", "credits_reserved", "credits_charged",
    "credits_refunded", "refund_status", "waterfall_version", "error", "created_at",
    "started_at", "finished_at",
)  # fmt: skip
# A backend's or a field's value converter: (value, expression, connection) -> value.
_Converter = Any


@dataclass(frozen=True)
class _WorkflowStatement:
    sql: str
    columns: tuple[Col, ...]
    attnames: tuple[str, ...]
    converters: tuple[tuple[_Converter, ...], ...]


@functools.cache
def _workflow_statement(
    fields: tuple[str, ...], where: tuple[tuple[str, str], ...]
) -> _WorkflowStatement:
    """A read of a workflow's `fields` (attnames) by `where` ((field, operator) pairs, each
    compared with a parameter), written once per process from the model, with the converters
    the ORM would apply."""
    meta = Workflow._meta
    # In the model's order, which Model.from_db expects of a partial row.
    columns = tuple(
        field.get_col(meta.db_table) for field in meta.concrete_fields if field.attname in fields
    )

    def quote(column: str | None) -> str:
        return connection.ops.quote_name(cast(str, column))  # a concrete field's, never None

    converters = tuple(
        tuple(connection.ops.get_db_converters(col) + col.get_db_converters(connection))
        for col in columns
    )
    names = ", ".join(quote(col.target.column) for col in columns)
    column = {field.name: field.column for field in meta.concrete_fields}
    conditions = " AND ".join(f"{quote(column[name])} {operator} %s" for name, operator in where)
    return _WorkflowStatement(
        sql=(
            f"SELECT {names} FROM {connection.ops.quote_name(meta.db_table)} "  # noqa: S608 - names from the model
            f"WHERE {conditions}"
        ),
        columns=columns,
        attnames=tuple(col.target.attname for col in columns),
        converters=converters,
    )


def _workflow_read(statement: _WorkflowStatement, params: list[Any]) -> Workflow | None:
    """The workflow `statement` finds, as the ORM would build it (the other columns load on
    first access, as with `.only()`), or None."""
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for value, col, converters in zip(row, statement.columns, statement.converters, strict=True):
        for converter in converters:
            value = converter(value, col, connection)
        values.append(value)
    return Workflow.from_db(connection.alias, statement.attnames, values)


def workflow_status_get(*, workspace: Workspace, workflow_id: str) -> Workflow:
    """`workflow_get` for a status poll, the API's most frequent read (a client polls every few
    seconds while its run lasts): only `STATUS_FIELDS` (no join; none of the JSON columns, whose
    lead ids of a by-task run can be thousands), by one statement written once per process,
    because the ORM's building of the query cost more than the rest of the view together.
    The other columns load on first access, as with `.only()`."""
    if "\x00" in workflow_id:
        raise NotFound("No enrichment workflow with that id.")
    if workflow_id.startswith("cl-task_"):
        cohort = Cohort.objects.filter(workspace=workspace, pk=workflow_id).first()
        workflow_id = cohort.workflow_id if cohort and cohort.workflow_id else ""
    statement = _workflow_statement(
        STATUS_FIELDS, (("id", "="), ("workspace", "="), ("kind", "<>"))
    )
    workspace_field = Workflow._meta.get_field("workspace")
    workflow = _workflow_read(
        statement,
        [
            workflow_id,
            workspace_field.get_db_prep_value(workspace.pk, connection),
            Workflow.Kind.AGENT,  # smart-agent runs answer at /smart-agents
        ],
    )
    if workflow is None:
        raise NotFound(f"No enrichment workflow {workflow_id or 'for that task'}.")
    return workflow


# What a chunk reads of its workflow (enrichment.services.execution.chunk_run), once a chunk:
# every column but the two JSON ones (a by-task run's lead ids, the pinned waterfall's
# snapshot), which nothing a chunk runs reads; they load on first access.
CHUNK_FIELDS = tuple(
    field.attname
    for field in Workflow._meta.concrete_fields
    if field.attname not in ("entity_ids", "waterfall")
)


def workflow_for_chunk(*, workflow_id: str) -> Workflow | None:
    """The workflow a chunk of it runs for, or None, by a statement written once per process
    (the ORM's building of `filter(pk=…).first()` cost a chunk ~1 ms of a worker's CPU)."""
    return _workflow_read(_workflow_statement(CHUNK_FIELDS, (("id", "="),)), [workflow_id])


def workflow_waterfall_version(*, workflow_id: str) -> int | None:
    """The waterfall configuration version the run pinned (None: not yet, or no such run),
    asked by every chunk (enrichment.waterfall.run_waterfall): one column, by a statement
    written once per process."""
    with connection.cursor() as cursor:
        cursor.execute(
            _workflow_statement(("waterfall_version",), (("id", "="),)).sql, [workflow_id]
        )
        row = cursor.fetchone()
    return row[0] if row else None


def workflow_person_item(workflow: Workflow) -> WorkflowItem | None:
    """A finished person run's one item, with its lead: the run's answer."""
    if workflow.kind != Workflow.Kind.PERSON or not workflow.is_terminal:
        return None
    # A suppressed person's data is never returned (leads.suppression).
    return (
        workflow.items.filter(lead__suppressed_at=None).select_related("lead", "workflow").first()
    )


def items_page(
    *, workflow: Workflow, status: str | None, cursor: str | None, limit: int
) -> tuple[list[WorkflowItem], str | None]:
    position = decode_cursor(cursor, kind=f"items:{workflow.pk}")
    # A suppressed person's data is never returned (leads.suppression).
    items = WorkflowItem.objects.filter(workflow=workflow, lead__suppressed_at=None).order_by("id")
    if status:
        items = items.filter(status=status)
        if status in (ItemStatus.QUEUED, ItemStatus.RUNNING):
            items = items.filter(OPEN_ITEM)
    if position:
        items = items.filter(id__gt=position["after"])
    page = list(items[: limit + 1])
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        next_cursor = make_cursor(kind=f"items:{workflow.pk}", after=page[-1].id)
    return page, next_cursor


def jobs_active(*, workspace: Workspace) -> QuerySet[Workflow]:
    return (
        Workflow.objects.filter(
            workspace=workspace, status__in=(WorkflowStatus.PENDING, WorkflowStatus.RUNNING)
        )
        .exclude(kind=Workflow.Kind.AGENT)
        .order_by("-created_at")
    )


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
    latest = _latest_field_items(workspace=workspace, lead_ids=person_ids)
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


# Per field: the data point an item's attempts name, and what `dataFound` reads.
_FIELD_DATA_POINT: dict[str, str] = {"emails": "email", "phones": "phone"}
PERSON_FIELDS = tuple(_FIELD_TYPES)
# What a new enrichment of one field may reuse (or must replace): the Lance dialect's rule.
ACTIVE_FIELD_STATUSES = ("pending", "finished")


@dataclass(frozen=True)
class PersonFieldEnrichment:
    """The latest enrichment of one field (emails | phones) of one of the workspace's leads,
    with who started it and what it cost: a workflow item seen through its run.

    `status` adds `timeout` to the item statuses: an item still queued or running after its
    run's deadline (the sweeper fails such runs on its next pass). `global_enrichment_id`
    names the cached provider answer the data came from, `credit_transaction_id` the ledger
    charge of the run that paid for it."""

    id: str
    entity_id: str
    field: str
    status: str
    error: str | None
    data_found: bool | None
    workflow_id: str
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    org_id: str
    global_enrichment_id: str | None
    credit_transaction_id: str | None


def person_field_enrichments(
    *, workspace: Workspace, tasks: list[tuple[str, str]]
) -> list[PersonFieldEnrichment]:
    """The latest enrichment of each (lead id, field) asked about, in the order asked; pairs
    never enriched, malformed ids and other workspaces' leads are left out. Two queries."""
    lead_ids = {str(parse_uuid(lead_id)) for lead_id, _ in tasks if parse_uuid(lead_id)}
    latest = _latest_field_items(workspace=workspace, lead_ids=lead_ids)
    charges = _charge_entries({item.workflow.hold_id for item in latest.values()})
    now = timezone.now()
    records = []
    for lead_id, field in tasks:
        uid = parse_uuid(lead_id)
        item = latest.get((str(uid), field)) if uid else None
        if item is not None:
            records.append(_person_field_record(item, field, charges=charges, now=now))
    return records


def person_field_enrichment_get(
    *, workspace: Workspace, lead_id: str, field: str
) -> PersonFieldEnrichment:
    records = person_field_enrichments(workspace=workspace, tasks=[(lead_id, field)])
    if not records:
        raise NotFound(f"No {field} enrichment for person {lead_id}.")
    return records[0]


def _latest_field_items(
    *, workspace: Workspace, lead_ids: set[str]
) -> dict[tuple[str, str], WorkflowItem]:
    latest: dict[tuple[str, str], WorkflowItem] = {}
    items = (
        WorkflowItem.objects.filter(
            workflow__workspace=workspace, lead_id__in=lead_ids, lead__suppressed_at=None
        )
        .select_related("workflow")
        .order_by("id")
    )
    for item in items:
        for field, types in _FIELD_TYPES.items():
            if item.workflow.enrichment_type in types:
                latest[(str(item.lead_id), field)] = item
    return latest


def _charge_entries(hold_ids: set[Any]) -> dict[Any, int]:
    """The charge entry of each settled hold (a hold charges at settlement, once)."""
    entries = LedgerEntry.objects.filter(
        hold_id__in={h for h in hold_ids if h}, kind=LedgerEntry.Kind.CHARGE
    ).order_by("id")
    charges: dict[Any, int] = {}
    for entry in entries:
        charges.setdefault(entry.hold_id, entry.pk)
    return charges


def _person_field_record(
    item: WorkflowItem, field: str, *, charges: dict[Any, int], now: datetime
) -> PersonFieldEnrichment:
    base = _item_record(item, field)
    workflow = item.workflow
    status = base.status
    if status == "pending" and workflow.deadline < now:
        status = "timeout"
    charge = charges.get(workflow.hold_id) if item.credits_charged else None
    return PersonFieldEnrichment(
        id=base.id,
        entity_id=base.entity_id,
        field=field,
        status=status,
        error=base.error if status != "timeout" else "The enrichment ran past its deadline.",
        data_found=base.data_found,
        workflow_id=workflow.pk,
        created_at=base.created_at,
        updated_at=base.updated_at or workflow.updated_at,
        created_by=str(workflow.api_key_id) if workflow.api_key_id else None,
        org_id=str(workflow.workspace_id),
        global_enrichment_id=_cached_answer(item, _FIELD_DATA_POINT[field]),
        credit_transaction_id=str(charge) if charge else None,
    )


def _cached_answer(item: WorkflowItem, data_point: str) -> str | None:
    """The id of the workspace's result-cache entry a found value was read from (None when a
    provider was called, or for answers recorded before entries were named)."""
    for attempt in item.attempts or []:
        if (
            attempt.get("cached")
            and attempt.get("outcome") == "found"
            and attempt.get("data_point") == data_point
            and attempt.get("cache_entry_id") is not None
        ):
            return str(attempt["cache_entry_id"])
    return None


def is_terminal_status(status: str) -> bool:
    return status in TERMINAL_WORKFLOW_STATUSES


def webhooks_active(*, workspace: Workspace) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(workspace=workspace, is_active=True).order_by(
        "created_at"
    )


# When this process started: a sweeper that never ran is judged from here.
_PROCESS_STARTED = timezone.now()


@dataclass(frozen=True)
class SweeperStatus:
    last_run_at: datetime | None  # None: no sweep has finished yet
    age_s: float  # since the last run (or since this process started, if none)
    stale: bool  # older than SLUICE_SWEEPER_STALE_SECONDS (never, when that is 0)


def sweeper_status(*, name: str = "enrichment.sweep_workflows") -> SweeperStatus:
    """Whether beat's sweeper still runs. Beat is a single process: when it stops, dead
    workers' chunks wait for a worker to start and lost messages are never re-sent."""
    last_run_at = SweeperRun.objects.filter(name=name).values_list("finished_at", flat=True).first()
    age_s = (timezone.now() - (last_run_at or _PROCESS_STARTED)).total_seconds()
    limit = settings.SLUICE_SWEEPER_STALE_SECONDS
    return SweeperStatus(last_run_at=last_run_at, age_s=age_s, stale=bool(limit) and age_s > limit)
