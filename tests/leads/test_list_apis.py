import uuid

import pytest

from leads.models import Folder, Lead, LeadList, ListMembership
from tests.helpers import assert_error
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db

URL = "/api/v2/lead-lists"


def test_lead_list_create_returns_201_then_reuses_the_name_case_insensitively(api, workspace):
    # when
    first = api.post(URL, {"name": "Q3 Leads", "description": "outbound"}, format="json")
    second = api.post(URL, {"name": "q3 leads"}, format="json")
    # then
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["name"] == "Q3 Leads"
    assert body["description"] == "outbound"
    assert (body["lead_count"], body["enriched_count"], body["reused"]) == (0, 0, False)
    assert second.status_code == 200
    assert second.json()["list_id"] == body["list_id"]
    assert second.json()["reused"] is True
    assert LeadList.objects.filter(workspace=workspace).count() == 1


def test_lead_list_create_exact_name_only_and_per_workspace(api, other_api):
    api.post(URL, {"name": "Q3 Leads"}, format="json")
    assert api.post(URL, {"name": "Q3 Leads List"}, format="json").status_code == 201
    assert other_api.post(URL, {"name": "Q3 Leads"}, format="json").status_code == 201


def test_lead_list_create_validates_the_body(api):
    error = assert_error(api.post(URL, {"name": ""}, format="json"), 400, "validation_error")
    assert "name" in error["details"]
    error = assert_error(api.post(URL, {"name": "x" * 201}, format="json"), 400, "validation_error")
    assert "name" in error["details"]
    assert_error(api.post(URL, ["nope"], format="json"), 400, "validation_error")


def test_lead_list_create_with_folder_must_be_own_folder(api, workspace, other_workspace):
    mine = Folder.objects.create(workspace=workspace, name="Mine")
    theirs = Folder.objects.create(workspace=other_workspace, name="Theirs")
    created = api.post(URL, {"name": "Filed", "folder_id": str(mine.id)}, format="json")
    assert created.json()["folder_id"] == str(mine.id)
    response = api.post(URL, {"name": "Other", "folder_id": str(theirs.id)}, format="json")
    assert_error(response, 404, "not_found")
    assert not LeadList.objects.filter(name="Other").exists()
    # also when the name already exists: the folder is checked before reuse
    response = api.post(URL, {"name": "Filed", "folder_id": str(theirs.id)}, format="json")
    assert_error(response, 404, "not_found")


def test_lead_list_get_counts_leads_and_enriched_leads(api, workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=3)
    for lead, email, phone in [
        (LeadFactory(workspace=workspace), "a@x.com", None),
        (LeadFactory(workspace=workspace), None, "+15550001"),
        (LeadFactory(workspace=workspace), "", ""),
    ]:
        Lead.objects.filter(pk=lead.pk).update(email=email, phone=phone)
        ListMembership.objects.create(lead_list=lead_list, lead=lead)
    # when
    body = api.get(f"{URL}/{lead_list.id}").json()
    # then
    assert body["list_id"] == str(lead_list.id)
    assert (body["lead_count"], body["enriched_count"], body["reused"]) == (6, 2, False)
    assert body["created_at"].endswith("Z")


def test_lead_list_other_workspace_is_404_for_every_method(api, other_workspace):
    foreign = LeadListFactory(workspace=other_workspace, lead_count=1)
    lead_id = str(foreign.leads.first().id)
    path = f"{URL}/{foreign.id}"
    assert_error(api.get(path), 404, "not_found")
    assert_error(api.patch(path, {"name": "mine now"}, format="json"), 404, "not_found")
    assert_error(api.delete(path), 404, "not_found")
    assert_error(api.get(f"{path}/leads"), 404, "not_found")
    assert_error(
        api.post(f"{path}/leads", {"lead_ids": [lead_id]}, format="json"), 404, "not_found"
    )
    assert_error(
        api.delete(f"{path}/leads", {"lead_ids": [lead_id]}, format="json"), 404, "not_found"
    )
    foreign.refresh_from_db()
    assert foreign.name != "mine now"
    assert foreign.memberships.count() == 1


def test_lead_list_unknown_id_is_404(api):
    assert_error(api.get(f"{URL}/{uuid.uuid4()}"), 404, "not_found")


def test_lead_list_page_is_newest_first_with_live_counts_and_cursor(
    api, workspace, other_workspace
):
    lists = [LeadListFactory(workspace=workspace, lead_count=i) for i in range(5)]
    LeadListFactory(workspace=other_workspace)
    # when
    first = api.get(URL, {"limit": 2}).json()
    second = api.get(URL, {"limit": 2, "cursor": first["cursor"]}).json()
    third = api.get(URL, {"limit": 2, "cursor": second["cursor"]}).json()
    # then
    seen = [row["list_id"] for page in (first, second, third) for row in page["lists"]]
    assert seen == [str(lead_list.id) for lead_list in reversed(lists)]
    assert first["total"] == 5
    assert third["cursor"] is None
    counts = {row["list_id"]: row["lead_count"] for row in first["lists"]}
    assert counts == {str(lists[4].id): 4, str(lists[3].id): 3}


def test_lead_list_page_filters_by_own_folder(api, workspace, other_workspace):
    folder = Folder.objects.create(workspace=workspace, name="F")
    filed = LeadListFactory(workspace=workspace, folder=folder)
    LeadListFactory(workspace=workspace)
    body = api.get(URL, {"folder_id": str(folder.id)}).json()
    assert [row["list_id"] for row in body["lists"]] == [str(filed.id)]
    assert body["total"] == 1
    theirs = Folder.objects.create(workspace=other_workspace, name="T")
    assert_error(api.get(URL, {"folder_id": str(theirs.id)}), 404, "not_found")


@pytest.mark.parametrize("limit", [0, 101, "x"])
def test_lead_list_page_limit_out_of_range_is_400(api, limit):
    error = assert_error(api.get(URL, {"limit": limit}), 400, "validation_error")
    assert "limit" in error["details"]


def test_lead_list_page_tampered_cursor_is_400(api, workspace):
    LeadListFactory.create_batch(3, workspace=workspace)
    cursor = api.get(URL, {"limit": 1}).json()["cursor"]
    error = assert_error(api.get(URL, {"cursor": cursor[:-2] + "xx"}), 400, "validation_error")
    assert "cursor" in error["details"]


def test_lead_list_update_changes_only_present_fields(api, workspace):
    folder = Folder.objects.create(workspace=workspace, name="F")
    lead_list = LeadListFactory(workspace=workspace, description="keep", folder=folder)
    path = f"{URL}/{lead_list.id}"
    # rename only: description and folder untouched
    body = api.patch(path, {"name": "Renamed"}, format="json").json()
    assert (body["name"], body["description"], body["folder_id"]) == (
        "Renamed",
        "keep",
        str(folder.id),
    )
    # null clears the description and unfiles the list
    body = api.patch(path, {"description": None, "folder_id": None}, format="json").json()
    assert (body["name"], body["description"], body["folder_id"]) == ("Renamed", None, None)
    # renaming to its own name in another case is fine
    assert api.patch(path, {"name": "RENAMED"}, format="json").json()["name"] == "RENAMED"


def test_lead_list_update_rejects_empty_unknown_and_null_name(api, workspace):
    path = f"{URL}/{LeadListFactory(workspace=workspace).id}"
    assert_error(api.patch(path, {}, format="json"), 400, "validation_error")
    error = assert_error(api.patch(path, {"nmae": "typo"}, format="json"), 400, "validation_error")
    assert "nmae" in error["details"]
    assert_error(api.patch(path, {"name": None}, format="json"), 400, "validation_error")


def test_lead_list_update_onto_another_lists_name_is_409(api, workspace):
    LeadListFactory(workspace=workspace, name="Taken")
    lead_list = LeadListFactory(workspace=workspace, name="Mine")
    response = api.patch(f"{URL}/{lead_list.id}", {"name": "TAKEN"}, format="json")
    assert_error(response, 409, "conflict")
    lead_list.refresh_from_db()
    assert lead_list.name == "Mine"


def test_lead_list_update_with_foreign_folder_is_404(api, workspace, other_workspace):
    lead_list = LeadListFactory(workspace=workspace)
    theirs = Folder.objects.create(workspace=other_workspace, name="T")
    response = api.patch(f"{URL}/{lead_list.id}", {"folder_id": str(theirs.id)}, format="json")
    assert_error(response, 404, "not_found")


def test_lead_list_delete_keeps_leads_and_second_delete_is_404(api, workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=3)
    other_list = LeadListFactory(workspace=workspace)
    ListMembership.objects.create(lead_list=other_list, lead=lead_list.leads.first())
    # when
    response = api.delete(f"{URL}/{lead_list.id}")
    # then
    assert response.status_code == 200
    assert response.json()["list_id"] == str(lead_list.id)
    assert response.json()["deleted"] is True
    assert Lead.objects.filter(workspace=workspace).count() == 3
    assert other_list.memberships.count() == 1
    assert_error(api.delete(f"{URL}/{lead_list.id}"), 404, "not_found")


@pytest.mark.django_db(transaction=True)
def test_lead_list_create_concurrent_same_name_makes_one_list(workspace):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    from leads.services import lead_list_create

    barrier = Barrier(4)

    def create(name: str):
        try:
            barrier.wait(timeout=5)
            lead_list, reused = lead_list_create(workspace=workspace, name=name)
            return lead_list.id, reused
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(create, ["Race", "race", "RACE", "Race"]))
    assert len({list_id for list_id, _ in results}) == 1
    assert sorted(reused for _, reused in results) == [False, True, True, True]
    assert LeadList.objects.filter(workspace=workspace).count() == 1


def test_lead_lists_are_served_under_both_prefixes(api):
    created = api.post("/api/v1/public/lead-lists", {"name": "Via v1"}, format="json")
    assert created.status_code == 201
    fetched = api.get(f"/api/v2/lead-lists/{created.json()['list_id']}")
    assert fetched.json()["name"] == "Via v1"
