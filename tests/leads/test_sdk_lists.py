"""The official Cleanlist SDK (`cleanlist-ai` 2.0.0), unchanged, against a live Sluice: every
call must succeed and its response parse into the SDK's pydantic models."""

import pytest
from cleanlist_ai import Cleanlist
from cleanlist_ai.models import (
    AddByCohort,
    AddByLeadIds,
    Body,
    CreateListRequest,
    PublicLeadListUpdate,
    RemoveLeadsRequest,
)

from leads.models import ListMembership
from tests.factories import ApiKeyFactory
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk(live_server, workspace):
    api_key = ApiKeyFactory(workspace=workspace)
    with Cleanlist(access_token=api_key.raw_key, host=live_server.url) as client:
        yield client


def test_sdk_workspace_calls(sdk, workspace):
    me = sdk.workspace.whoami()
    assert me.organization_id == str(workspace.id)
    assert me.auth_type == "api_key"
    assert sdk.workspace.list_api_keys().keys
    assert sdk.workspace.usage_report(days=7, group_by="tool") is not None


def test_sdk_lead_list_lifecycle(sdk, workspace):
    lists = sdk.lead_lists
    # create, then create again under the same name in another case
    created = lists.create_list(CreateListRequest(name="SDK Leads", description="from the SDK"))
    assert (created.name, created.lead_count, created.reused) == ("SDK Leads", 0, False)
    # The SDK maps only 201 for create_list, so it is answered 201 on reuse too (other
    # clients get Cleanlist's documented 200; see common.api.status_for_client).
    reused = lists.create_list(CreateListRequest(name="sdk leads"))
    assert (reused.list_id, reused.reused) == (created.list_id, True)

    # list, get, update
    LeadListFactory(workspace=workspace, name="Other")
    page = lists.list_lists(limit=1)
    assert page.total == 2
    assert len(page.lists) == 1
    assert page.cursor
    second = lists.list_lists(limit=1, cursor=page.cursor)
    assert {page.lists[0].name, second.lists[0].name} == {"SDK Leads", "Other"}
    assert lists.get_list(created.list_id).description == "from the SDK"
    updated = lists.update_list(
        created.list_id, PublicLeadListUpdate(name="SDK Leads v2", description=None)
    )
    assert (updated.name, updated.description) == ("SDK Leads v2", None)

    # add by ids
    leads = LeadFactory.create_batch(3, workspace=workspace, email="x@example.com")
    added = lists.add_leads_to_list(
        created.list_id, Body(AddByLeadIds(lead_ids=[str(lead.id) for lead in leads]))
    )
    assert (added.added, added.skipped_duplicates) == (3, 0)

    # page the list's leads, then add that page's cohort to another list
    leads_page = lists.list_leads_in_list(created.list_id, limit=2)
    assert leads_page.total == 3
    assert [row.lead_id for row in leads_page.leads] == [str(lead.id) for lead in leads[:2]]
    assert leads_page.leads[0].email == "x@example.com"
    assert leads_page.task_id.startswith("cl-task_")
    rest = lists.list_leads_in_list(created.list_id, limit=2, cursor=leads_page.cursor)
    assert [row.lead_id for row in rest.leads] == [str(leads[2].id)]
    target = lists.create_list(CreateListRequest(name="Cohort target"))
    by_cohort = lists.add_leads_to_list(
        target.list_id,
        Body(AddByCohort(task_id=leads_page.task_id, entity_ids=[str(leads[1].id)])),
    )
    assert (by_cohort.added, by_cohort.skipped_duplicates) == (1, 0)
    again_cohort = lists.add_leads_to_list(
        target.list_id, Body(AddByCohort(task_id=leads_page.task_id, idempotency_key="c-1"))
    )
    assert (again_cohort.added, again_cohort.skipped_duplicates) == (1, 1)
    assert lists.get_list(target.list_id).lead_count == 2
    assert lists.get_list(created.list_id).enriched_count == 3

    # remove, delete
    removed = lists.remove_leads_from_list(
        created.list_id, RemoveLeadsRequest(lead_ids=[str(leads[0].id)])
    )
    assert (removed.list_id, removed.removed) == (created.list_id, 1)
    deleted = lists.delete_list(created.list_id)
    assert (deleted.list_id, deleted.deleted) == (created.list_id, True)
    assert not ListMembership.objects.filter(lead_list_id=created.list_id).exists()
    assert workspace.leads.count() == 3
