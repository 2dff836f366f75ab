"""Estimates whose rows come from the leads app: a lead list (enrich_list) and a search
cohort (enrich_task)."""

import pytest

from leads.services import cohort_create
from tests.helpers import assert_error
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def half_enriched_list(workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=3)
    for lead in LeadFactory.create_batch(2, workspace=workspace, email=None):
        lead.email = f"{lead.pk.hex[:8]}@known.example.com"
        lead.save()
        lead_list.memberships.create(lead=lead)
    return lead_list


def test_estimate_enrich_list_prices_only_leads_lacking_the_data(api, half_enriched_list):
    body = api.post(
        "/api/v2/credits/estimate",
        {"tool": "enrich_list", "list_id": str(half_enriched_list.pk), "scope": "partial"},
        format="json",
    ).json()
    assert (body["row_count"], body["already_enriched"], body["to_enrich"]) == (5, 2, 3)
    assert body["estimated_cost"] == 3
    assert body["quote_id"].startswith("qte_")


def test_estimate_enrich_list_overwrite_and_phone_scope(api, half_enriched_list):
    body = api.post(
        "/api/v2/credits/estimate",
        {
            "tool": "enrich_list",
            "list_id": str(half_enriched_list.pk),
            "scope": "phone-only",
            "extra": {"output": "overwrite"},
        },
        format="json",
    ).json()
    assert (body["to_enrich"], body["estimated_cost"]) == (5, 50)


def test_estimate_enrich_list_of_another_workspace_is_404(other_api, half_enriched_list):
    response = other_api.post(
        "/api/v2/credits/estimate",
        {"tool": "enrich_list", "list_id": str(half_enriched_list.pk)},
        format="json",
    )
    assert_error(response, 404, "not_found")


def test_estimate_enrich_task_counts_the_cohort_subset(api, workspace, other_api):
    leads = LeadFactory.create_batch(4, workspace=workspace)
    cohort = cohort_create(
        workspace=workspace,
        entity_kind="person",
        entity_ids=[str(lead.pk) for lead in leads],
        source="search_people",
    )
    body = api.post(
        "/api/v2/credits/estimate",
        {
            "tool": "enrich_task",
            "task_id": cohort.pk,
            "entity_ids": [str(leads[0].pk), str(leads[1].pk)],
            "data_points": ["Email", "Phone"],
        },
        format="json",
    ).json()
    assert (body["row_count"], body["estimated_cost"]) == (2, 22)
    outside = api.post(
        "/api/v2/credits/estimate",
        {"tool": "enrich_task", "task_id": cohort.pk, "entity_ids": ["nope"]},
        format="json",
    )
    assert_error(outside, 400, "validation_error")
    foreign = other_api.post(
        "/api/v2/credits/estimate", {"tool": "enrich_task", "task_id": cohort.pk}, format="json"
    )
    assert_error(foreign, 404, "not_found")
