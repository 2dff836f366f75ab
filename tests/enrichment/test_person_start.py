"""A person enrichment that fails writes nothing: not the lead, not its list membership, not a
workflow or a hold. One that succeeds writes them all together."""

import pytest

from credits.models import Hold
from credits.selectors import balance_get
from credits.services import credits_grant
from enrichment.models import Workflow
from leads.models import Lead, ListMembership
from tests.helpers import assert_error
from tests.leads.factories import LeadListFactory

pytestmark = pytest.mark.django_db

PERSON = "/api/v2/enrichment/person"


def _person(api, lead_list, **extra):
    body = {"lead_list_id": str(lead_list.pk), "email": "grace@navy.example", **extra}
    return api.post(PERSON, body, format="json")


def _nothing_written(workspace, lead_list) -> None:
    assert not Lead.objects.filter(workspace=workspace).exists()
    assert not ListMembership.objects.filter(lead_list=lead_list).exists()
    assert not Workflow.objects.filter(workspace=workspace).exists()
    assert not Hold.objects.filter(workspace=workspace).exists()


def test_person_start_without_credits_is_402_and_writes_nothing(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    before = balance_get(workspace=workspace)

    response = _person(api, lead_list)

    assert_error(response, 402, "insufficient_credits")
    _nothing_written(workspace, lead_list)
    assert balance_get(workspace=workspace) == before


def test_person_start_with_a_bad_quote_is_409_and_writes_nothing(api, workspace):
    credits_grant(workspace=workspace, amount=10, reason="test", reference="person-start")
    lead_list = LeadListFactory(workspace=workspace)

    response = _person(api, lead_list, quote_id="qte_not_a_real_quote")

    assert_error(response, 409, "quote_mismatch")
    _nothing_written(workspace, lead_list)


def test_person_start_writes_lead_membership_workflow_and_hold_together(api, workspace):
    credits_grant(workspace=workspace, amount=10, reason="test", reference="person-start")
    lead_list = LeadListFactory(workspace=workspace)

    response = _person(api, lead_list)

    assert response.status_code == 202, response.content
    lead = Lead.objects.get(workspace=workspace)
    assert ListMembership.objects.filter(lead_list=lead_list, lead=lead).exists()
    workflow = Workflow.objects.get(pk=response.json()["workflow_id"])
    assert list(workflow.items.values_list("lead_id", flat=True)) == [lead.pk]
    assert workflow.hold is not None
    # asking again reuses the run: the same lead, no second hold
    again = _person(api, lead_list)
    assert (again.json()["workflow_id"], again.json()["reused"]) == (workflow.pk, True)
    assert Hold.objects.filter(workspace=workspace).count() == 1
