"""A lookup that only re-confirms what a lead already holds, fresh, leaves the lead as it is
(its provenance names the run that found the value); a stale or different value is written."""

from datetime import timedelta

import pytest
from django.utils import timezone

from enrichment import waterfall
from enrichment.models import Workflow
from leads import freshness
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


@pytest.mark.parametrize(
    ("past_ttl", "written"), [(timedelta(0), False), (timedelta(microseconds=1), True)]
)
def test_a_slices_freshness_bound_is_freshness_is_stale_to_the_microsecond(
    settings, past_ttl, written
):
    # given a value found exactly its time to live ago, or a microsecond more
    settings.SLUICE_TTL_EMAIL_DAYS = 90
    now = timezone.now()
    found_at = now - 90 * DAY - past_ttl
    outcome = _outcome(email="jane@acme.com", found_at=found_at)
    outcome.apply_to_item(now)

    # when the slice's bound, worked out once for its `now`, decides
    changed = outcome.apply_to_lead(Workflow(id="wf-second"), now, waterfall.fresh_since(now))

    # then it is stale exactly when freshness says so
    assert changed is written
    assert freshness.is_stale(freshness.EMAIL, found_at, now=now) is written
