"""What the enrichment services hand back to their callers: plain values, rendered only by the
API layer (enrichment/apis.py) through its serializers."""

from dataclasses import dataclass

from credits import prices
from enrichment.models import Workflow
from leads.models import Company


@dataclass(frozen=True)
class Plan:
    """What a start would do: the scope, what is already there, and its price."""

    enrichment_type: str
    total: int
    already_enriched: int
    to_enrich: int
    estimated_cost: int
    credits_reserved: int
    available_credits: int

    @property
    def sufficient(self) -> bool:
        return self.available_credits >= self.credits_reserved


@dataclass(frozen=True)
class Preview:
    """`?mode=preview`: the plan, priced; nothing was written."""

    plan: Plan


@dataclass(frozen=True)
class Started:
    """A run that is queued (or, when `reused`, an earlier run that already answers the call:
    nothing was reserved for this call)."""

    workflow: Workflow
    plan: Plan
    reused: bool = False


@dataclass(frozen=True)
class CompanyLookup:
    company_id: str
    company: Company | None  # None: no provider knows it (nothing charged)


@dataclass(frozen=True)
class CompanyCohortEnriched:
    """A company cohort is small and answered inline: one lookup per company, settled before
    the answer, no workflow."""

    plan: Plan
    lookups: list[CompanyLookup]

    @property
    def credits_charged(self) -> int:
        found = sum(1 for lookup in self.lookups if lookup.company is not None)
        return prices.company_cost(companies=found)
