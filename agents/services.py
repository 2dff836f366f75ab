"""Smart-agent runs: starting one (quote, hold, workflow, items, in one transaction) and
processing a chunk of its leads on a worker.

A run is an enrichment workflow of kind `agent`: the enrichment machinery plans nothing (the
items are written at start), dispatches its chunks, claims their items, sweeps for lost work
and settles the hold exactly once. This app supplies what a chunk does with its leads
(`agent_chunk_process`, registered in AgentsConfig.ready).
"""

import logging
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import ApiKey, Workspace
from agents import kinds
from agents.exceptions import ApprovalRequired, ModelNotConfigured
from agents.llm import LanguageModel, get_model
from agents.models import AgentOutput, AgentRun
from common.bulk import rows_update
from common.exceptions import EmptyLeadScope, ValidationFailed
from credits import prices
from credits import services as credits
from credits.models import Tool
from credits.prices import AgentType
from enrichment.models import ItemStatus, Workflow, WorkflowItem
from enrichment.services.company import company_save_result
from enrichment.services.start import workflow_start_for_leads
from leads import canonical, suppression
from leads.exports import COLUMNS as BUILTIN_COLUMNS
from leads.models import Company, Lead, ListMembership
from leads.selectors import lead_list_get, list_column_values
from leads.services import list_column_add, list_column_write
from providers import engine
from providers.base import CompanyInput
from providers.selectors import waterfall_resolve

logger = logging.getLogger(__name__)

# An item whose lead already holds a value in the column and `overwrite` is false: counted as
# skipped, charged nothing, its result row shows the value kept.
KEPT = "kept the column's existing value (overwrite is false)"
SUPPRESSED = "suppressed"


def model_check(*, agent_type: str) -> LanguageModel | None:
    """The model a type will use; ModelNotConfigured (400) for a type that cannot run without
    one."""
    model = get_model()
    if model is None and agent_type in kinds.MODEL_REQUIRED:
        raise ModelNotConfigured(details={"agent_type": agent_type})
    return model


def smart_agent_rows(*, workspace: Workspace, params: dict) -> tuple[int, int]:
    """The estimate's row counter for `run_smart_agent` (credits.counting): the list's leads
    (404 for a list this workspace cannot see); a type that needs a missing model is refused
    here too, so an estimate never quotes a run that cannot start."""
    lead_list = lead_list_get(workspace=workspace, list_id=params["list_id"])
    model_check(agent_type=params["agent_type"])
    return ListMembership.objects.filter(lead_list=lead_list).count(), 0


def _column_check(column_name: str) -> None:
    column = column_name.strip()
    if not column or len(column) > 100:
        raise ValidationFailed(details={"column_name": ["1 to 100 characters."]})
    if column in BUILTIN_COLUMNS:
        raise ValidationFailed(
            details={"column_name": [f"{column!r} is a built-in column of the list's exports."]}
        )


def smart_agent_start(
    *,
    workspace: Workspace,
    api_key: ApiKey | None,
    list_id: uuid.UUID | str,
    agent_type: str | None,
    prompt: str | None,
    column_name: str,
    lead_scope: str,
    max_rows: int | None,
    quote_id: str,
    overwrite: bool,
) -> AgentRun:
    """Checks the request (list visible, model available, scope approved), redeems its quote
    and places the hold for every row in one transaction with the workflow, its items and the
    run; the first task is sent after the commit. Nothing is written when a check fails."""
    kind = prices.agent_type_normalize(agent_type)
    lead_list = lead_list_get(workspace=workspace, list_id=list_id)
    model = model_check(agent_type=kind)
    kinds.validate_request(agent_type=kind, prompt=prompt)
    _column_check(column_name)
    members = ListMembership.objects.filter(lead_list=lead_list).order_by("id")
    available = members.count()
    threshold = settings.SLUICE_AGENT_APPROVAL_THRESHOLD
    if lead_scope == AgentRun.LeadScope.ALL:
        if available > threshold:
            raise ApprovalRequired(
                f'This lead_scope "all" run covers {available} leads, over the approval '
                f'threshold of {threshold}: narrow it with lead_scope "subset" and max_rows.',
                details={"row_count": available, "threshold": threshold},
            )
        rows = available
    else:
        rows = min(max_rows or 100, available)
    if rows == 0:
        raise EmptyLeadScope("The list has no leads to run the agent on.")
    lead_ids = list(members.values_list("lead_id", flat=True)[:rows])
    cost = prices.agent_reserve_cost(agent_type=kind, rows=rows)
    with transaction.atomic():
        quote = credits.quote_redeem(
            workspace=workspace,
            quote_id=quote_id,
            tool=Tool.RUN_SMART_AGENT,
            params={"list_id": lead_list.pk, "agent_type": kind, "column_name": column_name},
            row_count=rows,
            cost=cost,
        )
        workflow = workflow_start_for_leads(
            workspace=workspace,
            kind=Workflow.Kind.AGENT,
            lead_list=lead_list,
            lead_ids=lead_ids,
            credits_reserved=cost,
            quote=quote,
            api_key=api_key,
        )
        run = AgentRun.objects.create(
            workflow=workflow,
            workspace=workspace,
            lead_list=lead_list,
            agent_type=kind,
            column_name=column_name,
            prompt=prompt or "",
            lead_scope=lead_scope,
            max_rows=max_rows if lead_scope == AgentRun.LeadScope.SUBSET else None,
            overwrite=overwrite,
            model_name=model.name if model is not None and _asks_model(kind) else "",
        )
        list_column_add(lead_list_id=lead_list.pk, column=column_name)
    return run


def _asks_model(agent_type: str) -> bool:
    return agent_type in kinds.MODEL_REQUIRED or agent_type in kinds.MODEL_POLISHED


# --- A chunk on a worker ----------------------------------------------------------------------


def _company_record(company: Company) -> dict[str, Any]:
    return {
        "name": company.name,
        "domain": company.domain or "",
        "industry": company.industry,
        "employee_count": company.employee_count,
        "employee_count_range": company.employee_count_range,
        "hq_location": company.hq_location,
        "funding_stage": company.funding_stage,
        "total_funding_usd": company.total_funding_usd,
        "tech_stack": company.tech_stack,
    }


def _companies_look_up(run: AgentRun, items: list[WorkflowItem]) -> None:
    """company_intel: a lead with a domain but no company record gets one from the company
    waterfall (outside any transaction; the run's price pays for it), saved to the workspace's
    companies and linked to the lead, as `POST /enrichment/company` would (the workspace's
    company waterfall, docs/providers.md)."""
    waterfall = waterfall_resolve(workspace_id=run.workspace_id) if items else None
    for item in items:
        lead = item.lead
        domain = canonical.domain(lead.domain)
        if lead.company_id or not domain:
            continue
        known = Company.objects.filter(workspace_id=lead.workspace_id, domain=domain).first()
        if known is None:
            query = CompanyInput(domain=domain, name=lead.company_name or None)
            try:
                result = engine.enrich_company(
                    query, workspace_id=str(lead.workspace_id), waterfall=waterfall
                )
            except Exception:  # a provider's outage leaves this lead briefed from its own fields
                logger.warning("company lookup failed for %s", domain, exc_info=True)
                continue
            if result is None:
                continue
            known = company_save_result(workspace=run.workspace, result=result)
        Lead.objects.filter(pk=lead.pk, company__isnull=True).update(company=known)
        lead.company = known


def _facts(items: list[WorkflowItem]) -> dict[int, kinds.LeadFacts]:
    company_ids = {item.lead.company_id for item in items if item.lead.company_id}
    companies = {
        company.pk: _company_record(company)
        for company in Company.objects.filter(pk__in=company_ids)
    }
    facts = {}
    for item in items:
        lead = item.lead
        company = companies.get(lead.company_id) if lead.company_id else None
        fields = {
            "first_name": lead.first_name,
            "last_name": lead.last_name,
            "full_name": lead.full_name or f"{lead.first_name} {lead.last_name}".strip(),
            "title": lead.title,
            "company": lead.company_name or (company or {}).get("name", ""),
            "domain": lead.domain or (company or {}).get("domain", ""),
            "industry": lead.industry or (company or {}).get("industry", ""),
            "location": lead.location,
        }
        facts[item.id] = kinds.LeadFacts(
            fields={k: v for k, v in fields.items() if v}, company=company
        )
    return facts


def _produce_all(
    run: AgentRun, todo: list[WorkflowItem], facts: dict[int, kinds.LeadFacts]
) -> dict[int, kinds.RowResult]:
    """Every lead's value, outside any transaction; model calls run a few at a time."""
    model = get_model() if _asks_model(run.agent_type) else None

    def one(item: WorkflowItem) -> kinds.RowResult:
        try:
            return kinds.produce(
                agent_type=run.agent_type, prompt=run.prompt, facts=facts[item.id], model=model
            )
        except Exception as exc:  # one lead's surprise must not lose the chunk's other rows
            logger.exception("agent %s failed on item %s", run.agent_type, item.id)
            return kinds.RowResult(ItemStatus.FAILED, error=f"internal error: {type(exc).__name__}")

    if model is None or len(todo) < 2:
        return {item.id: one(item) for item in todo}
    workers = max(1, min(settings.SLUICE_LLM_CONCURRENCY, len(todo)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent") as pool:
        return dict(zip((item.id for item in todo), pool.map(one, todo), strict=True))


def agent_chunk_process(*, workflow: Workflow, claim_token: str, items: list[WorkflowItem]) -> None:
    """The chunk processor of `agent` workflows (enrichment.chunk_processors)."""
    run = AgentRun.objects.get(workflow=workflow)
    kept: dict[str, Any] = {}
    if not run.overwrite and run.lead_list_id:
        kept = list_column_values(
            lead_list_id=run.lead_list_id,
            column=run.column_name,
            lead_ids=[item.lead_id for item in items],
        )
    # A suppressed person is never sent to a model or a provider (docs/privacy.md).
    suppressed = suppression.leads_suppressed(
        workspace_id=workflow.workspace_id, leads=[item.lead for item in items]
    )
    todo = [
        item for item in items if str(item.lead_id) not in kept and item.lead_id not in suppressed
    ]
    if run.agent_type == AgentType.COMPANY_INTEL:
        _companies_look_up(run, todo)
    results = _produce_all(run, todo, _facts(todo))
    for item in items:
        if item.lead_id in suppressed:
            results[item.id] = kinds.RowResult(ItemStatus.SKIPPED, error=SUPPRESSED)
        elif str(item.lead_id) in kept:
            results[item.id] = kinds.RowResult(
                ItemStatus.SKIPPED, value=kept[str(item.lead_id)], error=KEPT
            )
    _record(run, workflow, claim_token, items, results)


def _record(
    run: AgentRun,
    workflow: Workflow,
    claim_token: str,
    items: Iterable[WorkflowItem],
    results: dict[int, kinds.RowResult],
) -> None:
    """Values, the list's column, items and counters in one transaction, only for the items
    this claim still owns (a claim taken over by another worker is not ours to write)."""
    price = prices.agent_row_price(run.agent_type)
    now = timezone.now()
    with transaction.atomic():
        mine = set(
            WorkflowItem.objects.select_for_update()
            .filter(
                id__in=[item.id for item in items],
                claim_token=claim_token,
                status=ItemStatus.RUNNING,
            )
            .values_list("id", flat=True)
        )
        recorded, outputs, column = [], [], {}
        counts: dict[str, int] = {
            ItemStatus.COMPLETED: 0,
            ItemStatus.NOT_FOUND: 0,
            ItemStatus.FAILED: 0,
            ItemStatus.SKIPPED: 0,
        }
        for item in items:
            if item.id not in mine:
                continue
            result = results[item.id]
            item.status, item.error, item.finished_at = result.status, result.error[:500], now
            item.credits_charged = price if result.status == ItemStatus.COMPLETED else 0
            item.provider = run.model_name[:60]
            counts[result.status] += 1
            recorded.append(item)
            outputs.append(AgentOutput(item=item, value=result.value))
            if result.status == ItemStatus.COMPLETED:
                column[str(item.lead_id)] = result.value
        if not recorded:
            return
        rows_update(
            WorkflowItem,
            recorded,
            ["status", "error", "finished_at", "credits_charged", "provider"],
        )
        AgentOutput.objects.bulk_create(
            outputs, update_conflicts=True, unique_fields=["item"], update_fields=["value"]
        )
        if run.lead_list_id:
            list_column_write(
                lead_list_id=run.lead_list_id,
                column=run.column_name,
                values=column,
                overwrite=run.overwrite,
            )
        Workflow.objects.filter(pk=workflow.pk).update(
            processed=F("processed") + len(recorded),
            completed=F("completed") + counts[ItemStatus.COMPLETED],
            not_found=F("not_found") + counts[ItemStatus.NOT_FOUND],
            failed=F("failed") + counts[ItemStatus.FAILED],
            skipped=F("skipped") + counts[ItemStatus.SKIPPED],
            items_charged=F("items_charged") + sum(item.credits_charged for item in recorded),
            last_progress_at=now,
        )
