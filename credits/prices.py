"""The price list, in one place (docs/credits.md). Every credit amount Sluice reserves or charges
is computed here; nothing else in the code base writes a price as a literal."""

from collections.abc import Iterable

from django.db import models

from common.exceptions import ValidationFailed


class EnrichmentType(models.TextChoices):
    """What a person enrichment looks up: the email, the phone, or both."""

    PARTIAL = "partial"
    PHONE_ONLY = "phone_only"
    FULL = "full"


# What each data point costs when it is found.
EMAIL_PRICE = 1
PHONE_PRICE = 10
COMPANY_PRICE = 1

# Credits per lead for each enrichment type: the most a lead can cost (everything asked for
# is found), which is what a workflow reserves.
PRICE_PER_LEAD: dict[str, int] = {
    EnrichmentType.PARTIAL: EMAIL_PRICE,
    EnrichmentType.PHONE_ONLY: PHONE_PRICE,
    EnrichmentType.FULL: EMAIL_PRICE + PHONE_PRICE,
}

_ALIASES = {"phone-only": EnrichmentType.PHONE_ONLY}


def normalize_enrichment_type(value: str, *, field: str = "enrichment_type") -> EnrichmentType:
    """`phone-only` (Cleanlist's bulk spelling) and `phone_only` are the same type; anything
    unknown is a validation error on `field`."""
    key = value.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in EnrichmentType.values:
        raise ValidationFailed(
            details={field: [f"Unknown type {value!r}; expected one of partial, phone_only, full."]}
        )
    return EnrichmentType(key)


def enrichment_type_from_data_points(data_points: Iterable[str]) -> EnrichmentType:
    """by-task person cohorts: Email+Phone → full, Phone → phone_only, anything else → partial."""
    points = {point.strip().lower() for point in data_points}
    if {"email", "phone"} <= points:
        return EnrichmentType.FULL
    if "phone" in points:
        return EnrichmentType.PHONE_ONLY
    return EnrichmentType.PARTIAL


def resolve_enrichment_type(
    *,
    enrichment_type: str | None = None,
    scope: str | None = None,
    data_points: Iterable[str] | None = None,
    include_phone: bool | None = None,
) -> EnrichmentType:
    """The one reading of a request's enrichment type, by precedence: `enrichment_type`, then
    `scope`, then `data_points`, then the legacy `include_phone` (true → phone_only, as the
    SDK documents for person enrichment), else partial."""
    if enrichment_type:
        return normalize_enrichment_type(enrichment_type)
    if scope:
        return normalize_enrichment_type(scope, field="scope")
    if data_points:
        return enrichment_type_from_data_points(data_points)
    if include_phone:
        return EnrichmentType.PHONE_ONLY
    return EnrichmentType.PARTIAL


class AgentType(models.TextChoices):
    """What a smart agent writes into a list column (the SDK's `agent_type` enum)."""

    CUSTOM_AI = "custom_ai"
    COLD_INTRO_EMAIL = "cold_intro_email"
    TITLE_NORMALIZER = "title_normalizer"
    COMPANY_INTEL = "company_intel"
    PAIN_POINT_HYPOTHESIS = "pain_point_hypothesis"


# Credits per row that produced a value, per agent type: the deterministic normaliser costs
# least; types that always need a language model cost more; the template and company brief
# types sit between (deterministic, polished by a model when one is configured).
AGENT_PRICE_PER_ROW: dict[str, int] = {
    AgentType.TITLE_NORMALIZER: 1,
    AgentType.COMPANY_INTEL: 2,
    AgentType.CUSTOM_AI: 2,
    AgentType.COLD_INTRO_EMAIL: 3,
    AgentType.PAIN_POINT_HYPOTHESIS: 3,
}


def agent_type_normalize(value: str | None) -> AgentType:
    """The SDK's default is `custom_ai`; anything unknown is a validation error."""
    key = (value or AgentType.CUSTOM_AI).strip().lower()
    if key not in AgentType.values:
        raise ValidationFailed(
            details={
                "agent_type": [
                    f"Unknown agent type; expected one of {', '.join(AgentType.values)}."
                ]
            }
        )
    return AgentType(key)


def agent_row_price(agent_type: str) -> int:
    return AGENT_PRICE_PER_ROW[agent_type_normalize(agent_type)]


def agent_reserve_cost(*, agent_type: str, rows: int) -> int:
    """The most a run over `rows` rows can cost (every row produces a value): its hold."""
    return agent_row_price(agent_type) * rows


def price_per_lead(enrichment_type: str) -> int:
    return PRICE_PER_LEAD[normalize_enrichment_type(enrichment_type)]


def reserve_cost(*, enrichment_type: str, leads: int) -> int:
    """The most `leads` leads of this type can cost: what a workflow holds up front."""
    return price_per_lead(enrichment_type) * leads


def charge_for_found(*, emails_found: int = 0, phones_found: int = 0) -> int:
    """What a workflow is charged at settlement: only for data actually found."""
    return emails_found * EMAIL_PRICE + phones_found * PHONE_PRICE


def company_cost(*, companies: int = 1) -> int:
    return companies * COMPANY_PRICE
