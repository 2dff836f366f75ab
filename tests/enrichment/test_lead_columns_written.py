"""A chunk writes on its leads the columns of what it changed on them (waterfall.lead_fields),
not every column it may write: an email-only run leaves a lead's phone as the table holds it."""

import pytest

from enrichment import waterfall
from enrichment.models import Workflow
from enrichment.services import execution
from leads.models import Lead
from tests.enrichment.factories import planned_run


def test_lead_fields_written_are_the_changes_columns_in_lead_fields_order():
    email_only = frozenset({"email", "email_status", "provider", "enriched_at"})
    written = waterfall.lead_fields_written([email_only, frozenset({"suppressed_at"})])
    assert written == ["email", "email_status", "provider", "enriched_at", "suppressed_at"]
    assert waterfall.lead_fields_written([]) == []


@pytest.mark.django_db(transaction=True)
def test_an_email_run_leaves_the_phone_a_lead_got_meanwhile(
    funded, settings, sole_consumer, monkeypatch
):
    # given a planned email-only run over leads without a phone (whose emails the sandbox finds)
    workflow = planned_run(funded, 10, settings, emails_found=True)
    run_slices = waterfall.run_slices

    def phone_written_meanwhile(*args, **kwargs):
        # after the chunk read its leads, something else writes their phone
        Lead.objects.filter(workspace=funded).update(phone="+14155550100", phone_source="user")
        yield from run_slices(*args, **kwargs)

    monkeypatch.setattr(waterfall, "run_slices", phone_written_meanwhile)

    # when the chunk writes the emails it found
    execution.chunk_run(workflow_id=workflow.pk, chunk_no=0)

    # then the leads it enriched hold the email, and still the phone it did not look up
    assert Workflow.objects.get(pk=workflow.pk).found_emails > 0
    leads = list(Lead.objects.filter(workspace=funded))
    assert any(lead.email for lead in leads)
    assert {(lead.phone, lead.phone_source) for lead in leads} == {("+14155550100", "user")}
