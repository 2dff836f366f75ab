"""Synchronous company enrichment: one credit per company found, settled before the answer;
a company nobody knows costs nothing (404)."""

import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Workspace
from common.exceptions import NotFound, ValidationFailed
from credits import prices
from credits import services as credits
from enrichment.results import CompanyCohortEnriched, CompanyLookup, Plan, Preview
from leads import canonical
from leads.models import Cohort, Company
from providers import engine
from providers.base import CompanyInput, CompanyResult
from providers.selectors import waterfall_resolve

# A company cohort is answered inline; past this size the caller should page the cohort.
MAX_SYNC_COMPANIES = 100


def _company_save(*, workspace: Workspace, result: CompanyResult, existing: Company | None):
    """Upserts the firmographics into the workspace's company (by id, else by domain)."""
    record = result.as_record()
    # Every CompanyRecord field we store, except the ids (ours is the row's, not the provider's).
    values = {
        key: value
        for key, value in record.items()
        if key not in ("company_id", "domain") and value is not None
    }
    values.update(provider=result.provider or "", enriched_at=timezone.now())
    # A provider may answer with any length: cut each value to its column.
    for key, value in values.items():
        max_length = getattr(Company._meta.get_field(key), "max_length", None)
        if isinstance(value, str) and max_length:
            values[key] = value[:max_length]
    domain = canonical.domain(record.get("domain"))
    company = existing or (
        Company.objects.filter(workspace=workspace, domain=domain).first() if domain else None
    )
    if company is None:
        try:
            with transaction.atomic():
                return Company.objects.create(workspace=workspace, domain=domain, **values)
        except IntegrityError:
            company = Company.objects.get(workspace=workspace, domain=domain)
    if domain and not company.domain:
        values["domain"] = domain
    Company.objects.filter(pk=company.pk).update(**values)
    company.refresh_from_db()
    return company


def company_save_result(*, workspace: Workspace, result: CompanyResult) -> Company:
    """Saves a company waterfall answer obtained elsewhere (a smart agent's lookup, which its
    own run pays for) into the workspace's company with that domain, or a new one."""
    return _company_save(workspace=workspace, result=result, existing=None)


def _lookup(*, workspace: Workspace, query: CompanyInput, existing: Company | None):
    """One company under its own one-credit hold: charged if found, released if not. Never a
    network call inside a transaction: the hold commits first, the provider is called outside
    any transaction, and the answer is saved and the hold settled together afterwards."""
    hold = credits.hold_place(
        workspace=workspace,
        amount=prices.company_cost(),
        reference=f"company:{uuid.uuid4().hex}",
        workflow_id="",
    )
    try:
        result = engine.enrich_company(
            query,
            workspace_id=str(workspace.pk),
            waterfall=waterfall_resolve(workspace_id=workspace.pk),
        )
    except BaseException:
        credits.hold_release(hold_id=hold.pk)
        raise
    if result is None:
        credits.hold_release(hold_id=hold.pk)
        return None
    with transaction.atomic():
        company = _company_save(workspace=workspace, result=result, existing=existing)
        credits.hold_settle(hold_id=hold.pk, charge=prices.company_cost())
    return company


def company_enrich(*, workspace: Workspace, query: dict[str, Any]) -> Company:
    existing = None
    if query.get("company_id"):
        try:
            existing = Company.objects.get(workspace=workspace, pk=uuid.UUID(query["company_id"]))
        except (ValueError, Company.DoesNotExist):
            raise NotFound(f"No company {query['company_id']}.") from None
    domain = canonical.domain(query.get("domain")) or (existing.domain if existing else None)
    if query.get("domain") and not domain:
        raise ValidationFailed(details={"domain": ["Not a domain."]})
    lookup = CompanyInput(
        domain=domain,
        name=query.get("company_name") or (existing.name if existing else None),
        ticker=query.get("company_ticker") or (existing.ticker if existing else None),
    )
    company = _lookup(workspace=workspace, query=lookup, existing=existing)
    if company is None:
        raise NotFound("No provider knows this company; nothing was charged.")
    return company


def company_cohort_enrich(
    *, workspace: Workspace, cohort: Cohort, company_ids: list[str], preview: bool
) -> Preview | CompanyCohortEnriched:
    companies = list(Company.objects.filter(workspace=workspace, pk__in=company_ids))
    if len(companies) > MAX_SYNC_COMPANIES:
        raise ValidationFailed(
            details={"entity_ids": [f"At most {MAX_SYNC_COMPANIES} companies per call."]}
        )
    cost = prices.company_cost(companies=len(companies))
    plan = Plan(
        enrichment_type="company",
        total=len(companies),
        already_enriched=0,
        to_enrich=len(companies),
        estimated_cost=cost,
        credits_reserved=cost,
        available_credits=credits.balance_get(workspace=workspace).available,
    )
    if preview:
        return Preview(plan=plan)
    # One lookup at a time, each under its own hold and outside any transaction: a provider
    # call never holds a lock.
    lookups = [
        CompanyLookup(
            company_id=str(company.pk),
            company=_lookup(
                workspace=workspace,
                query=CompanyInput(domain=company.domain, name=company.name or None),
                existing=company,
            ),
        )
        for company in companies
    ]
    return CompanyCohortEnriched(plan=plan, lookups=lookups)
