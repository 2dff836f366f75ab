"""Reads: where each enriched field of a lead came from, erasure receipts, list pages."""

from dataclasses import dataclass
from datetime import datetime

from accounts.models import Workspace
from common.exceptions import NotFound
from leads import freshness
from leads.models import Lead
from privacy.models import ErasureReceipt

IMPORTED = "import"


@dataclass(frozen=True)
class FieldProvenance:
    field: str
    has_value: bool
    # The provider that found it, or "import" for a value the user brought.
    source: str
    found_at: datetime | None
    workflow_id: str
    verifier: str
    verdict: str
    stale: bool


@dataclass(frozen=True)
class LeadProvenance:
    lead_id: str
    data_points: list[FieldProvenance]


def _field(
    name: str,
    *,
    value: object,
    source: str,
    found_at: datetime | None,
    workflow_id: str = "",
    verifier: str = "",
    verdict: str = "",
) -> FieldProvenance:
    has_value = bool(value)
    return FieldProvenance(
        field=name,
        has_value=has_value,
        source=source or (IMPORTED if has_value else ""),
        found_at=found_at,
        workflow_id=workflow_id,
        verifier=verifier,
        verdict=verdict,
        stale=freshness.is_stale(name, found_at),
    )


def lead_provenance(*, workspace: Workspace, lead_id: str) -> LeadProvenance:
    """A suppressed lead is not found: its data is never returned."""
    lead = (
        Lead.objects.filter(workspace=workspace, pk=lead_id, suppressed_at__isnull=True)
        .select_related("company")
        .first()
    )
    if lead is None:
        raise NotFound("No lead with this id.")
    company = lead.company
    fields = [
        _field(
            freshness.EMAIL,
            value=lead.email,
            source=lead.email_source,
            found_at=lead.email_found_at,
            workflow_id=lead.email_workflow_id,
            verifier=lead.email_verifier,
            verdict=lead.email_status,
        ),
        _field(
            freshness.PHONE,
            value=lead.phone,
            source=lead.phone_source,
            found_at=lead.phone_found_at,
            workflow_id=lead.phone_workflow_id,
        ),
        _field(
            freshness.COMPANY,
            value=company is not None and company.enriched_at is not None,
            source=company.provider if company is not None else "",
            found_at=company.enriched_at if company is not None else None,
        ),
    ]
    return LeadProvenance(lead_id=str(lead.pk), data_points=fields)


def erasure_receipt_get(*, workspace: Workspace, receipt_id: str) -> ErasureReceipt:
    receipt = ErasureReceipt.objects.filter(workspace=workspace, pk=receipt_id).first()
    if receipt is None:
        raise NotFound("No erasure receipt with this id.")
    return receipt
