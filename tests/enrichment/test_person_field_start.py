"""person_field_enrichment_start: one field of one lead, reused while pending or finished."""

import pytest

from common.exceptions import NotFound, ValidationFailed
from enrichment.models import Workflow
from enrichment.selectors import person_field_enrichments
from enrichment.services.start import person_field_enrichment_start
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_person_field_start_creates_then_reuses(funded):
    lead = LeadFactory(workspace=funded)

    created, is_new = person_field_enrichment_start(
        workspace=funded, lead_id=str(lead.pk), field="phones", api_key=None
    )
    again, again_new = person_field_enrichment_start(
        workspace=funded, lead_id=str(lead.pk), field="phones", api_key=None
    )

    assert is_new is True
    assert again_new is False
    assert again == created
    assert created.status == "pending"
    assert created.created_by is None
    assert Workflow.objects.get(pk=created.workflow_id).enrichment_type == "phone_only"


def test_person_field_start_refuses_bad_input(funded, other_workspace):
    lead = LeadFactory(workspace=other_workspace)

    with pytest.raises(ValidationFailed):
        person_field_enrichment_start(
            workspace=funded, lead_id=str(lead.pk), field="summary", api_key=None
        )
    with pytest.raises(ValidationFailed):
        person_field_enrichment_start(workspace=funded, lead_id="x", field="emails", api_key=None)
    with pytest.raises(NotFound):
        person_field_enrichment_start(
            workspace=funded, lead_id=str(lead.pk), field="emails", api_key=None
        )
    assert not Workflow.objects.exists()


def test_person_field_enrichments_keep_the_order_asked_and_leave_out_the_rest(funded):
    first, second = LeadFactory(workspace=funded), LeadFactory(workspace=funded)
    for lead in (first, second):
        person_field_enrichment_start(
            workspace=funded, lead_id=str(lead.pk), field="emails", api_key=None
        )

    records = person_field_enrichments(
        workspace=funded,
        tasks=[
            (str(second.pk), "emails"),
            (str(first.pk), "phones"),
            ("not-a-uuid", "emails"),
            (str(first.pk), "emails"),
        ],
    )

    assert [(r.entity_id, r.field) for r in records] == [
        (str(second.pk), "emails"),
        (str(first.pk), "emails"),
    ]
