"""Between workflow items and the provider waterfall: what to look up for a lead, the most it
can cost, and how an answer lands on the item (and is charged) and on the lead."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from credits import prices
from credits.prices import EnrichmentType
from enrichment.models import ItemStatus, Workflow, WorkflowItem
from leads.models import Lead
from leads.selectors import lead_has_data_q
from providers import engine
from providers.base import DataPoint, PersonInput, WaterfallResult

REQUESTED: dict[str, frozenset[DataPoint]] = {
    EnrichmentType.PARTIAL: frozenset({DataPoint.EMAIL}),
    EnrichmentType.PHONE_ONLY: frozenset({DataPoint.PHONE}),
    EnrichmentType.FULL: frozenset({DataPoint.EMAIL, DataPoint.PHONE}),
}
LEAD_FIELDS = ["email", "email_status", "email_confidence", "phone", "provider", "enriched_at"]


def missing_data_filter(enrichment_type: str, *, prefix: str = "") -> Q:
    """Leads that lack some of the data this type asks for (the ones skip_existing enriches):
    the complement of what leads counts as holding it."""
    return ~lead_has_data_q(enrichment_type, prefix=prefix)


@dataclass(frozen=True)
class LeadPlan:
    wanted: frozenset[DataPoint]

    @property
    def max_cost(self) -> int:
        return prices.charge_for_found(
            emails_found=int(DataPoint.EMAIL in self.wanted),
            phones_found=int(DataPoint.PHONE in self.wanted),
        )


def plan_for(workflow: Workflow, lead: Lead) -> LeadPlan:
    requested = REQUESTED[workflow.enrichment_type]
    if workflow.output == Workflow.Output.OVERWRITE:
        return LeadPlan(requested)
    held = {DataPoint.EMAIL: bool(lead.email), DataPoint.PHONE: bool(lead.phone)}
    return LeadPlan(frozenset(dp for dp in requested if not held[dp]))


def person_input(lead: Lead) -> PersonInput:
    return PersonInput(
        first_name=lead.first_name,
        last_name=lead.last_name,
        full_name=lead.full_name,
        company_name=lead.company_name,
        domain=lead.domain,
        linkedin_url=lead.linkedin_url,
        email=lead.email,
        phone=lead.phone,
    )


@dataclass
class LeadOutcome:
    item: WorkflowItem
    plan: LeadPlan
    result: WaterfallResult | None

    @property
    def email(self) -> str | None:
        if self.result is None or DataPoint.EMAIL not in self.plan.wanted:
            return None
        return self.result.email

    @property
    def phone(self) -> str | None:
        if self.result is None or DataPoint.PHONE not in self.plan.wanted:
            return None
        return self.result.phone

    def apply_to_item(self, now: datetime) -> None:
        item, result = self.item, self.result
        item.finished_at = now
        if result is None:  # nothing left to look up for this lead
            item.status, item.error = ItemStatus.SKIPPED, "already holds the data"
            return
        item.attempts = [attempt.to_json() for attempt in result.attempts]
        item.email = self.email or ""
        item.email_status = str(result.email_status or "") if self.email else ""
        item.email_confidence = result.email_confidence if self.email else None
        item.phone = self.phone or ""
        item.provider = (
            (result.email_provider if self.email else None)
            or (result.phone_provider if self.phone else None)
            or ""
        )
        item.credits_charged = prices.charge_for_found(
            emails_found=int(bool(self.email)), phones_found=int(bool(self.phone))
        )
        if self.email or self.phone:
            item.status, item.error = ItemStatus.COMPLETED, ""
        elif result.error:
            item.status, item.error = ItemStatus.FAILED, result.error
        else:
            item.status, item.error = ItemStatus.NOT_FOUND, ""

    def apply_to_lead(self, workflow: Workflow, now: datetime) -> bool:
        """Writes what was found onto the lead; returns whether anything changed. Nothing is
        ever blanked: a miss leaves the lead as it was."""
        lead = self.item.lead
        if not (self.email or self.phone):
            return False
        if self.email:
            lead.email = self.email
            lead.email_status = self.item.email_status
            lead.email_confidence = self.item.email_confidence
        if self.phone:
            lead.phone = self.phone
        lead.provider = self.item.provider
        lead.enriched_at = now
        return True


def run(
    affordable: list[tuple[WorkflowItem, LeadPlan]], *, workspace_id: str, tag: str = ""
) -> list[LeadOutcome]:
    """Runs the waterfall for a chunk: one engine batch per distinct set of wanted data
    points (usually one), so cache reads and call records stay batched. The provider cache
    is the workspace's own (docs/providers.md)."""
    groups: dict[frozenset, list[tuple[WorkflowItem, LeadPlan]]] = defaultdict(list)
    outcomes = []
    for item, plan in affordable:
        if plan.wanted:
            groups[plan.wanted].append((item, plan))
        else:
            outcomes.append(LeadOutcome(item, plan, None))
    for wanted, members in groups.items():
        people = [person_input(item.lead) for item, _ in members]
        results = engine.run_batch(people, set(wanted), tag=tag, workspace_id=workspace_id)
        outcomes.extend(
            LeadOutcome(item, plan, result)
            for (item, plan), result in zip(members, results, strict=True)
        )
    return outcomes
