"""A lookup that only re-confirms what a lead already holds, fresh, leaves the lead as it is
(its provenance names the run that found the value); a stale or different value is written."""

from datetime import timedelta

import pytest
from django.utils import timezone

from enrichment import waterfall
from enrichment.models import Workflow
from providers.base import (
    Attempt,
    DataPoint,
    EmailStatus,
    OutcomeKind,
    PersonInput,
    WaterfallResult,
)

DAY = timedelta(days=1)


def _outcome(*, email: str, found_at, source: str = "sandbox") -> waterfall.LeadOutcome:
    lead = waterfall.Row(
        id="lead-1", email="jane@acme.com", email_status="valid", email_confidence=80,
        email_source="sandbox", email_found_at=found_at, email_workflow_id="wf-first",
        email_verifier="sandbox", phone=None, phone_source="", phone_found_at=None,
        phone_workflow_id="", provider="sandbox", enriched_at=found_at, suppressed_at=None,
    )  # fmt: skip
    item = waterfall.Row(id=1, lead_id="lead-1", lead=lead, attempts=[])
    result = WaterfallResult(
        person=PersonInput(full_name="Jane Doe", domain="acme.com"),
        email=email, email_status=EmailStatus.VALID, email_confidence=80, email_provider=source,
        attempts=[Attempt(provider="sandbox", data_point=DataPoint.EMAIL_VERIFICATION,
                          outcome=OutcomeKind.FOUND, verdict=EmailStatus.VALID)],
    )  # fmt: skip
    plan = waterfall.LeadPlan(frozenset({DataPoint.EMAIL}))
    return waterfall.LeadOutcome(item, plan, result)


@pytest.mark.parametrize(
    ("email", "age_days", "source", "written"),
    [
        ("jane@acme.com", 10, "sandbox", False),  # the same, fresh: left as it is
        ("jane@acme.com", 100, "sandbox", True),  # the same but stale: its age is renewed
        ("jane.doe@acme.com", 10, "sandbox", True),  # another address
        ("jane@acme.com", 10, "hunter", True),  # another source
    ],
)
def test_apply_to_lead_skips_only_a_fresh_reconfirmation(
    settings, email, age_days, source, written
):
    settings.SLUICE_TTL_EMAIL_DAYS = 90
    now = timezone.now()
    found_at = now - age_days * DAY
    outcome = _outcome(email=email, found_at=found_at, source=source)
    outcome.apply_to_item(now)

    changed = outcome.apply_to_lead(Workflow(id="wf-second"), now)

    lead = outcome.item.lead
    assert changed is written
    if written:
        assert (lead.email, lead.email_found_at, lead.email_workflow_id) == (
            email,
            now,
            "wf-second",
        )
    else:
        assert (lead.email_found_at, lead.email_workflow_id) == (found_at, "wf-first")
