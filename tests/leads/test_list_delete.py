"""`DELETE /lead-lists/{id}`: what it answers is what the OpenAPI document says, and what the
official SDK (`cleanlist-ai` 2.0.0) reads: 200 with a `DeleteListResponse`."""

import pytest
from cleanlist_ai.models import DeleteListResponse
from rest_framework.test import APIClient

from leads.models import LeadList, ListMembership
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db


def _documented_delete_list() -> dict:
    spec = APIClient().get("/api/v2/schema", {"format": "json"}, HTTP_HOST="localhost").json()
    operation = spec["paths"]["/api/v2/lead-lists/{list_id}"]["delete"]
    assert operation["operationId"] == "delete_list"
    return {"spec": spec, "responses": operation["responses"]}


def test_list_delete_answers_the_documented_status_and_body(api, workspace):
    # given
    lead_list = LeadListFactory(workspace=workspace)
    documented = _documented_delete_list()
    # when
    response = api.delete(f"/api/v2/lead-lists/{lead_list.id}")
    # then 200 with a body, documented as such (no 204 "no body")
    assert response.status_code == 200, response.content
    success = {code for code in documented["responses"] if code.startswith("2")}
    assert success == {"200"}
    schema_ref = documented["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = documented["spec"]["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    body = response.json()
    assert set(component["required"]) <= set(body)
    # and the SDK's model reads it
    parsed = DeleteListResponse.from_dict(body)
    assert (parsed.list_id, parsed.deleted) == (str(lead_list.id), True)
    assert not LeadList.objects.filter(pk=lead_list.id).exists()


def test_remove_leads_from_list_is_documented_as_it_answers(api, workspace):
    # given a list with one lead
    lead_list = LeadListFactory(workspace=workspace)
    lead = LeadFactory(workspace=workspace)
    ListMembership.objects.create(lead_list=lead_list, lead=lead)
    spec = APIClient().get("/api/v2/schema", {"format": "json"}, HTTP_HOST="localhost").json()
    operation = spec["paths"]["/api/v2/lead-lists/{list_id}/leads"]["delete"]

    # when leads are removed
    response = api.delete(
        f"/api/v2/lead-lists/{lead_list.id}/leads", {"lead_ids": [str(lead.pk)]}, format="json"
    )

    # then the status it answers is the one success status documented (200 with a body)
    success = {code for code in operation["responses"] if code.startswith("2")}
    assert success == {str(response.status_code)} == {"200"}, response.content
