"""Starting enrichment: what a request does before any worker sees it.

Each start writes the workflow, its items (one for a person; none for a bulk list, whose
planner expands it on a worker) and its credit hold in one transaction, then enqueues after the
commit. A broker that refuses the enqueue fails the workflow and releases the hold before the
API answers 502 (enrichment.services.lifecycle.workflow_enqueue).
"""

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.models import ApiKey, Workspace
from common.exceptions import EmptyLeadScope, NotFound, ValidationFailed
from credits import prices
from credits import selectors as credit_selectors
from credits import services as credits
from credits.models import Quote, Tool
from credits.prices import EnrichmentType
from enrichment import waterfall
from enrichment.chunk_layout import chunk_layout
from enrichment.models import ItemStatus, Workflow, WorkflowItem, WorkflowStatus, new_workflow_id
from enrichment.results import CompanyCohortEnriched, Plan, Preview, Started
from enrichment.selectors import (
    ACTIVE_FIELD_STATUSES,
    PERSON_FIELDS,
    PersonFieldEnrichment,
    person_field_enrichments,
)
from enrichment.services.company import company_cohort_enrich
from enrichment.services.lifecycle import workflow_enqueue
from leads.models import Cohort, Lead, LeadList, ListMembership
from leads.selectors import (
    cohort_get,
    cohort_select_ids,
    lead_list_get,
    parse_uuid,
    people_search_queryset,
)
from leads.services import lead_list_create, lead_resolve_person

MCP_RESULTS_LIST = "MCP Results"
# Types whose lookups include another type's: a finished `full` run also answers `partial`.
_COVERED_BY: dict[str, tuple[str, ...]] = {
    EnrichmentType.PARTIAL: (EnrichmentType.PARTIAL, EnrichmentType.FULL),
    EnrichmentType.PHONE_ONLY: (EnrichmentType.PHONE_ONLY, EnrichmentType.FULL),
    EnrichmentType.FULL: (EnrichmentType.FULL,),
}


def _plan(
    *,
    workspace: Workspace,
    enrichment_type: str,
    total: int,
    already: int,
    to_enrich: int,
    max_credits: int | None = None,
) -> Plan:
    cost = prices.reserve_cost(enrichment_type=enrichment_type, leads=to_enrich)
    reserved = cost if max_credits is None else min(cost, max_credits)
    return Plan(
        enrichment_type=enrichment_type,
        total=total,
        already_enriched=already,
        to_enrich=to_enrich,
        estimated_cost=cost,
        credits_reserved=reserved,
        available_credits=credits.balance_get(workspace=workspace).available,
    )


def _create(
    *,
    workspace: Workspace,
    kind: str,
    plan: Plan,
    lead_list: LeadList | None,
    quote: Quote | None = None,
    lead_ids: list | None = None,
    **fields: Any,
) -> Workflow:
    """Inside the caller's transaction: the workflow, its items when given, and the hold."""
    workflow = Workflow.objects.create(
        id=new_workflow_id(kind),
        workspace=workspace,
        kind=kind,
        enrichment_type=plan.enrichment_type,
        lead_list=lead_list,
        total=plan.to_enrich,
        credits_reserved=plan.credits_reserved,
        quote_id=quote.quote_id if quote else None,
        deadline=timezone.now() + timedelta(seconds=settings.SLUICE_WORKFLOW_DEADLINE_SECONDS),
        **fields,
    )
    if lead_ids is not None:
        layout = chunk_layout(total=len(lead_ids), size=settings.SLUICE_CHUNK_SIZE)
        WorkflowItem.objects.bulk_create(
            WorkflowItem(workflow=workflow, lead_id=lead_id, chunk_no=layout.chunk_no(i))
            for i, lead_id in enumerate(lead_ids)
        )
        workflow.planned, workflow.total = True, len(lead_ids)
        workflow.chunk_count = layout.chunk_count
        workflow.save(update_fields=["planned", "total", "chunk_count"])
    if plan.credits_reserved:
        hold = credits.hold_place(
            workspace=workspace,
            amount=plan.credits_reserved,
            reference=f"workflow:{workflow.pk}",
            workflow_id=workflow.pk,
            quote=quote,
        )
        workflow.hold = hold
        workflow.save(update_fields=["hold"])
    return workflow


def _enqueue_on_commit(workflow: Workflow) -> None:
    # After the commit (of an enclosing transaction too, if a caller has one), so a worker never
    # looks for a workflow it cannot see yet. Not robust: a refusal must reach the client as a
    # 502.
    transaction.on_commit(lambda: workflow_enqueue(workflow=workflow), robust=False)


def _start(workflow_factory) -> Workflow:
    with transaction.atomic():
        workflow = workflow_factory()
    _enqueue_on_commit(workflow)
    return workflow


# --- Lookups ----------------------------------------------------------------------------------


def _add_to_list(lead_list: LeadList, lead_ids: list) -> None:
    ListMembership.objects.bulk_create(
        [ListMembership(lead_list=lead_list, lead_id=lead_id) for lead_id in lead_ids],
        ignore_conflicts=True,
    )


# --- Person -----------------------------------------------------------------------------------


def _reusable_workflow(*, lead: Lead, enrichment_type: str) -> Workflow | None:
    """A pending/running run for this lead and data, or one finished within the reuse window:
    asking again returns it instead of charging again (docs/api.md)."""
    since = timezone.now() - timedelta(seconds=settings.SLUICE_REUSE_WINDOW_SECONDS)
    item = (
        WorkflowItem.objects.filter(
            lead=lead,
            workflow__kind=Workflow.Kind.PERSON,
            workflow__enrichment_type__in=_COVERED_BY[enrichment_type],
        )
        .exclude(status__in=(ItemStatus.FAILED, ItemStatus.CANCELLED))
        .filter(workflow__status__in=(WorkflowStatus.PENDING, WorkflowStatus.RUNNING))
        .select_related("workflow")
        .first()
    ) or (
        WorkflowItem.objects.filter(
            lead=lead,
            workflow__kind=Workflow.Kind.PERSON,
            workflow__enrichment_type__in=_COVERED_BY[enrichment_type],
            workflow__status=WorkflowStatus.COMPLETED,
            workflow__finished_at__gte=since,
        )
        .select_related("workflow")
        .order_by("-workflow__finished_at")
        .first()
    )
    return item.workflow if item else None


def person_enrichment_start(
    *,
    workspace: Workspace,
    lead_list_id: Any,
    person: dict[str, Any],
    enrichment_type: str,
    quote_id: str | None = None,
    preview: bool = False,
    output: str = Workflow.Output.OVERWRITE,
) -> Preview | Started:
    """One transaction writes the lead, its list membership, the workflow, its item and hold,
    or (a run to reuse) only the lead and membership; a refusal (402, 409, 404, 400) rolls all
    of it back. The enqueue runs after the commit."""
    if preview:
        return Preview(
            plan=_person_preview_plan(
                workspace=workspace,
                lead_list_id=lead_list_id,
                person=person,
                enrichment_type=enrichment_type,
            )
        )
    plan = _plan(
        workspace=workspace, enrichment_type=enrichment_type, total=1, already=0, to_enrich=1
    )
    with transaction.atomic():
        lead_list = lead_list_get(workspace=workspace, list_id=lead_list_id)
        lead = lead_resolve_person(workspace=workspace, person=person)
        _add_to_list(lead_list, [lead.pk])
        # Concurrent starts for the same lead queue on its row lock until this transaction
        # commits, then find this run and reuse it: without the lock each of them saw no run
        # yet and reserved (and could charge) the same lookup again.
        list(Lead.objects.select_for_update().filter(pk=lead.pk).values_list("pk", flat=True))
        reused = _reusable_workflow(lead=lead, enrichment_type=enrichment_type)
        if reused is not None:
            return Started(workflow=reused, plan=plan, reused=True)
        quote = None
        if quote_id:
            quote = credits.quote_redeem(
                workspace=workspace,
                quote_id=quote_id,
                tool=Tool.ENRICH_PERSON,
                params={"enrichment_type": enrichment_type},
                row_count=1,
                cost=plan.credits_reserved,
            )
        workflow = _create(
            workspace=workspace,
            kind=Workflow.Kind.PERSON,
            plan=plan,
            lead_list=lead_list,
            quote=quote,
            lead_ids=[lead.pk],
            output=output,
        )
        _enqueue_on_commit(workflow)
    return Started(workflow=workflow, plan=plan)


# What one field of a person costs to look up (and what its run asks the waterfall for).
FIELD_ENRICHMENT_TYPES: dict[str, str] = {
    "emails": EnrichmentType.PARTIAL,
    "phones": EnrichmentType.PHONE_ONLY,
}


def person_field_enrichment_start(
    *, workspace: Workspace, lead_id: str, field: str, api_key: ApiKey | None
) -> tuple[PersonFieldEnrichment, bool]:
    """Enriches one field (emails | phones) of one of the workspace's leads, by id; returns the
    enrichment and whether it was created now. A pending or finished enrichment of that field
    (whichever run made it) is returned as it is, free; a failed, timed-out or cancelled one is
    replaced by a new run, which reserves the field's price and is charged only for data found.
    The new run joins the workspace's "MCP Results" list."""
    if field not in PERSON_FIELDS:
        raise ValidationFailed(details={"field": [f"Expected one of {', '.join(PERSON_FIELDS)}."]})
    uid = parse_uuid(lead_id)
    if uid is None:
        raise ValidationFailed(details={"personId": [f"Not a person id: {lead_id!r}."]})
    enrichment_type = FIELD_ENRICHMENT_TYPES[field]
    plan = _plan(
        workspace=workspace, enrichment_type=enrichment_type, total=1, already=0, to_enrich=1
    )
    with transaction.atomic():
        # Concurrent starts for the same lead wait here, then see the run the first one made.
        locked = list(
            Lead.objects.select_for_update()
            .filter(workspace=workspace, pk=uid)
            .values_list("pk", flat=True)
        )
        if not locked:
            raise NotFound(f"No person {lead_id}.")
        current = _field_enrichment(workspace=workspace, lead_id=str(uid), field=field)
        if current is not None and current.status in ACTIVE_FIELD_STATUSES:
            return current, False
        lead_list = lead_list_create(workspace=workspace, name=MCP_RESULTS_LIST)[0]
        _add_to_list(lead_list, [uid])
        workflow = _create(
            workspace=workspace,
            kind=Workflow.Kind.PERSON,
            plan=plan,
            lead_list=lead_list,
            lead_ids=[uid],
            output=Workflow.Output.OVERWRITE,
            api_key=api_key,
        )
        _enqueue_on_commit(workflow)
        created = _field_enrichment(workspace=workspace, lead_id=str(uid), field=field)
    assert created is not None
    assert created.workflow_id == workflow.pk
    return created, True


def _field_enrichment(
    *, workspace: Workspace, lead_id: str, field: str
) -> PersonFieldEnrichment | None:
    found = person_field_enrichments(workspace=workspace, tasks=[(lead_id, field)])
    return found[0] if found else None


def _person_preview_plan(
    *, workspace: Workspace, lead_list_id: Any, person: dict[str, Any], enrichment_type: str
) -> Plan:
    """The price of a person enrichment, free when a run can be reused. A preview creates
    nothing, not even the lead or its membership: the same code path, rolled back."""
    with transaction.atomic():
        lead_list = lead_list_get(workspace=workspace, list_id=lead_list_id)
        lead = lead_resolve_person(workspace=workspace, person=person)
        _add_to_list(lead_list, [lead.pk])
        reused = _reusable_workflow(lead=lead, enrichment_type=enrichment_type)
        transaction.set_rollback(True)
    already = int(reused is not None)
    return _plan(
        workspace=workspace,
        enrichment_type=enrichment_type,
        total=1,
        already=already,  # a reusable run answers it for free
        to_enrich=1 - already,
    )


# --- Bulk list --------------------------------------------------------------------------------


def bulk_enrichment_start(
    *,
    workspace: Workspace,
    list_id: Any,
    enrichment_type: str,
    output: str,
    quote_id: str | None,
    max_credits: int | None = None,
    preview: bool = False,
    quote_required: bool = True,
    quote_binds_rows: bool = True,
) -> Preview | Started:
    """No per-lead work here: one count, one workflow row and one hold, whatever the size of
    the list; the planner expands it on a worker.

    csv-import's dispatch passes `quote_required=False` (Cleanlist verifies a quote there only
    if one is given) and `quote_binds_rows=False`: the import itself grows the list, so a quote
    taken before it is held to its tool, list, type, expiry, single use and cost cap, not to
    the row count."""
    lead_list = lead_list_get(workspace=workspace, list_id=list_id)
    missing = waterfall.missing_data_filter(enrichment_type, prefix="lead__", output=output)
    # Both counts in one pass over the list (a million-lead list is a second or more a pass).
    counts = ListMembership.objects.filter(lead_list=lead_list).aggregate(
        total=Count("id"), lacking=Count("id", filter=missing)
    )
    total, lacking = counts["total"], counts["lacking"]
    to_enrich = total if output == Workflow.Output.OVERWRITE else lacking
    plan = _plan(
        workspace=workspace,
        enrichment_type=enrichment_type,
        total=total,
        already=total - lacking,
        to_enrich=to_enrich,
        max_credits=max_credits,
    )
    if preview:
        return Preview(plan=plan)
    if to_enrich == 0:
        raise EmptyLeadScope(
            "Every lead in this list already holds the data asked for."
            if total
            else "This list has no leads.",
            details={"total": total, "already_enriched": total - lacking},
        )
    if not quote_id and quote_required:
        raise ValidationFailed(
            details={"quote_id": ["Required: get one from POST /credits/estimate (enrich_list)."]}
        )

    def create() -> Workflow:
        quote = None
        if quote_id:
            quote = credits.quote_redeem(
                workspace=workspace,
                quote_id=quote_id,
                tool=Tool.ENRICH_LIST,
                params={
                    "list_id": lead_list.pk,
                    "enrichment_type": enrichment_type,
                    "output": output,
                },
                row_count=(
                    total
                    if quote_binds_rows
                    else credit_selectors.quote_row_count(
                        workspace=workspace, quote_id=quote_id, default=total
                    )
                ),
                cost=plan.credits_reserved,
            )
        return _create(
            workspace=workspace,
            kind=Workflow.Kind.BULK,
            plan=plan,
            lead_list=lead_list,
            quote=quote,
            output=output,
            max_credits=max_credits,
            skipped_existing=total - to_enrich,
        )

    return Started(workflow=_start(create), plan=plan)


# --- By task (cohort) -------------------------------------------------------------------------


def task_enrichment_start(
    *,
    workspace: Workspace,
    task_id: str,
    data_points: list[str],
    entity_ids: list[str] | None,
    lead_list_id: Any | None,
    quote_id: str | None = None,
    max_credits: int | None = None,
    preview: bool = False,
) -> Preview | Started | CompanyCohortEnriched:
    cohort = cohort_get(workspace=workspace, task_id=task_id)
    ids = cohort_select_ids(cohort=cohort, entity_ids=entity_ids)
    if cohort.entity_kind == Cohort.EntityKind.COMPANY:
        return company_cohort_enrich(
            workspace=workspace, cohort=cohort, company_ids=ids, preview=preview
        )
    enrichment_type = prices.enrichment_type_from_data_points(data_points)

    def redeem(plan: Plan, lead_count: int) -> Quote | None:
        if not quote_id:
            return None
        return credits.quote_redeem(
            workspace=workspace,
            quote_id=quote_id,
            tool=Tool.ENRICH_TASK,
            params={
                "task_id": task_id,
                "entity_ids": entity_ids,
                "enrichment_type": enrichment_type,
            },
            row_count=lead_count,
            cost=plan.credits_reserved,
        )

    def link_cohort(workflow: Workflow) -> None:
        Cohort.objects.filter(pk=cohort.pk).update(workflow_id=workflow.pk)

    return _lead_ids_start(
        workspace=workspace,
        lead_ids=ids,
        enrichment_type=enrichment_type,
        output=Workflow.Output.OVERWRITE,
        lead_list_id=lead_list_id,
        max_credits=max_credits,
        preview=preview,
        empty_details={"task_id": task_id},
        redeem=redeem,
        on_created=link_cohort,
    )


def leads_enrichment_start(
    *,
    workspace: Workspace,
    lead_ids: Sequence[str],
    enrichment_type: str,
    output: str = Workflow.Output.OVERWRITE,
    lead_list_id: Any | None = None,
    max_credits: int | None = None,
    preview: bool = False,
) -> Preview | Started:
    """A run over leads named by id (the explicit scopes of the vendor dialects). Ids that are
    not this workspace's leads are left out, as a cohort's are; a malformed id is a 400. With
    `skip_existing`, leads that already hold the data are counted but not looked up."""
    malformed = [lead_id for lead_id in lead_ids if parse_uuid(lead_id) is None]
    if malformed:
        raise ValidationFailed(details={"lead_ids": [f"Not a lead id: {malformed[0]!r}."]})
    return _lead_ids_start(
        workspace=workspace,
        lead_ids=list(lead_ids),
        enrichment_type=enrichment_type,
        output=output,
        lead_list_id=lead_list_id,
        max_credits=max_credits,
        preview=preview,
        empty_details={"lead_ids": list(lead_ids)[:20]},
    )


def _lead_ids_start(
    *,
    workspace: Workspace,
    lead_ids: list[str],
    enrichment_type: str,
    output: str,
    lead_list_id: Any | None,
    max_credits: int | None,
    preview: bool,
    empty_details: dict[str, Any],
    redeem: Callable[[Plan, int], Quote | None] | None = None,
    on_created: Callable[[Workflow], None] | None = None,
) -> Preview | Started:
    """The run over a set of the workspace's leads that by-task and the dialects' explicit
    scopes share: one transaction writes the list (when none is named, the workspace's
    "MCP Results"), its memberships, the workflow, its items and the hold, or nothing."""
    in_scope = Lead.objects.filter(workspace=workspace, pk__in=lead_ids)
    all_ids = list(in_scope.values_list("pk", flat=True))
    if not all_ids:
        raise EmptyLeadScope(details=empty_details)
    to_enrich = all_ids
    if output != Workflow.Output.OVERWRITE:
        missing = waterfall.missing_data_filter(enrichment_type, output=output)
        to_enrich = list(in_scope.filter(missing).values_list("pk", flat=True))
    plan = _plan(
        workspace=workspace,
        enrichment_type=enrichment_type,
        total=len(all_ids),
        already=len(all_ids) - len(to_enrich),
        to_enrich=len(to_enrich),
        max_credits=max_credits,
    )
    if preview:
        return Preview(plan=plan)
    if not to_enrich:
        raise EmptyLeadScope(
            "Every lead in scope already holds the data asked for.",
            details={**empty_details, "total": len(all_ids), "already_enriched": len(all_ids)},
        )

    def create() -> Workflow:
        quote = redeem(plan, len(all_ids)) if redeem else None
        lead_list = (
            lead_list_get(workspace=workspace, list_id=lead_list_id)
            if lead_list_id
            else lead_list_create(workspace=workspace, name=MCP_RESULTS_LIST)[0]
        )
        _add_to_list(lead_list, all_ids)
        workflow = _create(
            workspace=workspace,
            kind=Workflow.Kind.TASK,
            plan=plan,
            lead_list=lead_list,
            quote=quote,
            lead_ids=to_enrich,
            entity_ids=[str(lead_id) for lead_id in to_enrich],
            output=output,
            max_credits=max_credits,
            skipped_existing=len(all_ids) - len(to_enrich),
        )
        if on_created:
            on_created(workflow)
        return workflow

    return Started(workflow=_start(create), plan=plan)


def filtered_list_enrichment_start(
    *,
    workspace: Workspace,
    list_id: Any,
    filters: dict[str, Any],
    enrichment_type: str,
    output: str = Workflow.Output.OVERWRITE,
    max_credits: int | None = None,
    preview: bool = False,
) -> Preview | Started:
    """A run over the members of a list that match a people-search filter (the grammar of
    `POST /search/people`): the matches are resolved once, at the start, and run as explicit
    leads, written back to that list."""
    members = people_search_queryset(workspace=workspace, filters={**filters, "list_id": list_id})
    lead_ids = [str(lead_id) for lead_id in members.values_list("pk", flat=True)]
    if not lead_ids:
        raise EmptyLeadScope(
            "No lead in this list matches the filter.", details={"list_id": str(list_id)}
        )
    return leads_enrichment_start(
        workspace=workspace,
        lead_ids=lead_ids,
        enrichment_type=enrichment_type,
        output=output,
        lead_list_id=list_id,
        max_credits=max_credits,
        preview=preview,
    )


# --- Other apps' kinds ------------------------------------------------------------------------


def workflow_start_for_leads(
    *,
    workspace: Workspace,
    kind: str,
    lead_list: LeadList,
    lead_ids: list,
    credits_reserved: int,
    quote: Quote | None,
    api_key: ApiKey | None = None,
) -> Workflow:
    """A workflow of another app's kind (a smart-agent run) over explicit leads: workflow,
    items and hold written inside the CALLER's transaction (which redeems the quote and adds
    its own rows), enqueued after that transaction commits."""
    plan = Plan(
        enrichment_type="",
        total=len(lead_ids),
        already_enriched=0,
        to_enrich=len(lead_ids),
        estimated_cost=credits_reserved,
        credits_reserved=credits_reserved,
        available_credits=0,
    )
    workflow = _create(
        workspace=workspace,
        kind=kind,
        plan=plan,
        lead_list=lead_list,
        quote=quote,
        lead_ids=lead_ids,
        api_key=api_key,
    )
    _enqueue_on_commit(workflow)
    return workflow
