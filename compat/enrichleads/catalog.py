"""The Enrich Leads catalog: the vendor's enrichment ids over Sluice's enrichment types and the
one price table (credits.prices). Naming only; what each type looks up and costs is decided
there."""

from dataclasses import dataclass, field

from compat.enrichleads.exceptions import OutputTargetUnsupported, SubjectMismatch
from credits import prices
from credits.prices import EnrichmentType
from enrichment.models import Workflow

PERSON = "person"
COMPANY = "company"


@dataclass(frozen=True)
class InputProperty:
    type: str
    description: str


@dataclass(frozen=True)
class InputSchema:
    """The JSON Schema of a start's `input`: Sluice's enrichments take no parameters."""

    type: str = "object"
    properties: dict[str, InputProperty] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    additional_properties: bool = False


@dataclass(frozen=True)
class Enrichment:
    id: str
    name: str
    description: str
    subject: str
    enrichment_type: EnrichmentType | None  # None: not runnable over a lead scope
    credits_per_lead: int
    input_schema: InputSchema = field(default_factory=InputSchema)

    @property
    def credit_action(self) -> str:
        return f"enrichment.{self.id}"


CATALOG: tuple[Enrichment, ...] = (
    Enrichment(
        id="work_email",
        name="Work email",
        description="Finds and verifies the lead's work email address.",
        subject=PERSON,
        enrichment_type=EnrichmentType.PARTIAL,
        credits_per_lead=prices.price_per_lead(EnrichmentType.PARTIAL),
    ),
    Enrichment(
        id="mobile_phone",
        name="Mobile phone",
        description="Finds the lead's direct mobile phone number.",
        subject=PERSON,
        enrichment_type=EnrichmentType.PHONE_ONLY,
        credits_per_lead=prices.price_per_lead(EnrichmentType.PHONE_ONLY),
    ),
    Enrichment(
        id="email_and_phone",
        name="Work email and mobile phone",
        description="Both lookups for each lead.",
        subject=PERSON,
        enrichment_type=EnrichmentType.FULL,
        credits_per_lead=prices.price_per_lead(EnrichmentType.FULL),
    ),
    Enrichment(
        id="company_firmographics",
        name="Company firmographics",
        description=(
            "Industry, size, revenue, location and funding of a company. Leads are people, so "
            "no lead scope can carry it: use POST /api/v2/enrichment/company or a company "
            "cohort through POST /api/v2/enrichment/by-task."
        ),
        subject=COMPANY,
        enrichment_type=None,
        credits_per_lead=prices.company_cost(),
    ),
)

_BY_ID = {enrichment.id: enrichment for enrichment in CATALOG}
_BY_TYPE = {
    enrichment.enrichment_type: enrichment
    for enrichment in CATALOG
    if enrichment.enrichment_type is not None
}


def enrichment_find(enrichment_id: str) -> Enrichment | None:
    return _BY_ID.get(enrichment_id)


def runnable_type(enrichment: Enrichment) -> EnrichmentType:
    """What a run of `enrichment` over a lead scope looks up. Every lead scope holds people,
    so a company enrichment is refused before anything is resolved or priced."""
    if enrichment.enrichment_type is None:
        raise SubjectMismatch(
            f"{enrichment.id} enriches companies; the leads in a scope are people.",
            details={"enrichmentId": [f"Subject is {enrichment.subject}, the scope's is person."]},
        )
    return enrichment.enrichment_type


def output_mode(output: str) -> str:
    """Results land on the lead, the one place Sluice keeps them: overwritten, or looked up only
    where missing. Any other target is refused."""
    if output not in Workflow.Output.values:
        raise OutputTargetUnsupported(
            details={"output": [f"{output!r} is not overwrite or skip_existing."]}
        )
    return output


def enrichment_for_type(enrichment_type: str) -> Enrichment:
    """The catalog entry of a run's type, whichever API started the run."""
    return _BY_TYPE[EnrichmentType(enrichment_type)]
