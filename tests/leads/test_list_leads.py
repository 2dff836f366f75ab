import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.scopes import ALL_SCOPES, LISTS_WRITE
from common.models import IdempotencyRecord
from leads.models import Cohort, ListMembership
from leads.services import cohort_create
from tests.helpers import assert_error
from tests.leads.factories import CompanyFactory, LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db


def _leads_url(lead_list) -> str:
    return f"/api/v2/lead-lists/{lead_list.id}/leads"


def _ids(page) -> list[str]:
    return [row["lead_id"] for row in page["leads"]]


def test_list_leads_page_returns_sdk_rows_total_cursor_and_cohort(api, workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=3)
    # when
    body = api.get(_leads_url(lead_list), {"limit": 2}).json()
    # then
    assert body["list_id"] == str(lead_list.id)
    assert body["total"] == 3
    assert body["cursor"]
    row = body["leads"][0]
    first = lead_list.memberships.order_by("id").first().lead
    assert row["lead_id"] == str(first.id)
    assert row["company"] == first.company_name
    assert {"first_name", "last_name", "full_name", "email", "phone", "title", "location"} <= set(
        row
    )
    assert {"linkedin_url", "provider", "email_status"} <= set(row)
    cohort = Cohort.objects.get(id=body["task_id"])
    assert body["task_id"].startswith("cl-task_")
    assert cohort.workspace == workspace
    assert (cohort.entity_kind, cohort.source) == ("person", "list_leads")
    assert cohort.entity_ids == _ids(body)


def test_list_leads_pagination_is_stable_while_rows_are_added_and_removed(api, workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=10)
    order = [str(m.lead_id) for m in lead_list.memberships.order_by("id")]
    url = _leads_url(lead_list)
    # given a first page of four
    first = api.get(url, {"limit": 4}).json()
    assert _ids(first) == order[:4]
    # when a lead on the first page and one on the next page are removed, and one is added
    api.delete(url, {"lead_ids": [order[1], order[5]]}, format="json")
    newcomer = LeadFactory(workspace=workspace)
    api.post(url, {"lead_ids": [str(newcomer.id)]}, format="json")
    # then the next pages neither repeat nor skip a surviving lead, and the newcomer comes last
    second = api.get(url, {"limit": 4, "cursor": first["cursor"]}).json()
    third = api.get(url, {"limit": 4, "cursor": second["cursor"]}).json()
    assert _ids(second) == [order[4], *order[6:9]]
    assert _ids(third) == [order[9], str(newcomer.id)]
    assert third["cursor"] is None
    assert third["total"] == 9


def test_list_leads_cursor_of_another_list_or_tampered_is_400(api, workspace):
    one = LeadListFactory(workspace=workspace, lead_count=3)
    two = LeadListFactory(workspace=workspace, lead_count=3)
    cursor = api.get(_leads_url(one), {"limit": 1}).json()["cursor"]
    assert_error(api.get(_leads_url(two), {"cursor": cursor}), 400, "validation_error")
    assert_error(api.get(_leads_url(one), {"cursor": "garbage"}), 400, "validation_error")
    assert_error(api.get(_leads_url(one), {"cursor": cursor + "x"}), 400, "validation_error")


@pytest.mark.parametrize("limit", [0, 501, -1, "ten"])
def test_list_leads_limit_out_of_range_is_400(api, workspace, limit):
    lead_list = LeadListFactory(workspace=workspace)
    error = assert_error(api.get(_leads_url(lead_list), {"limit": limit}), 400, "validation_error")
    assert "limit" in error["details"]


def test_list_leads_add_by_ids_counts_duplicates_and_unknown_ids(api, workspace, other_workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=1)
    present = lead_list.leads.first()
    new = LeadFactory.create_batch(2, workspace=workspace)
    foreign = LeadFactory(workspace=other_workspace)
    body = {
        "lead_ids": [
            str(new[1].id),
            str(present.id),
            str(new[0].id),
            str(new[0].id),
            str(foreign.id),
            str(uuid.uuid4()),
        ]
    }
    # when
    response = api.post(_leads_url(lead_list), body, format="json")
    # then
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["list_id"] == str(lead_list.id)
    assert (result["added"], result["skipped_duplicates"], result["skipped_unknown"]) == (2, 1, 2)
    assert result["credits_charged"] == 0
    # the list keeps the request order
    order = list(lead_list.memberships.order_by("id").values_list("lead_id", flat=True))
    assert order == [present.id, new[1].id, new[0].id]
    assert not ListMembership.objects.filter(lead=foreign).exists()


def test_list_leads_add_body_validation(api, workspace):
    url = _leads_url(LeadListFactory(workspace=workspace))
    cohort = cohort_create(workspace=workspace, entity_kind="person", entity_ids=[], source="t")
    for body in (
        {},
        {"lead_ids": []},
        {"lead_ids": ["not-a-uuid"]},
        {"lead_ids": [str(uuid.uuid4())], "task_id": cohort.id},
        {"lead_ids": [str(uuid.uuid4())], "entity_ids": [str(uuid.uuid4())]},
        {"lead_ids": [str(uuid.uuid4()) for _ in range(1001)]},
        {"task_id": cohort.id, "entity_ids": ["x"] * 2001},
    ):
        assert_error(api.post(url, body, format="json"), 400, "validation_error")


def test_list_leads_add_by_cohort_and_subset(api, workspace):
    source = LeadListFactory(workspace=workspace, lead_count=4)
    target = LeadListFactory(workspace=workspace)
    page = api.get(_leads_url(source)).json()
    ids = _ids(page)
    # when a subset is added, then the whole cohort
    subset = api.post(
        _leads_url(target),
        {"task_id": page["task_id"], "entity_ids": [ids[2].upper(), ids[0]]},
        format="json",
    ).json()
    whole = api.post(_leads_url(target), {"task_id": page["task_id"]}, format="json").json()
    # then
    assert (subset["added"], subset["skipped_duplicates"]) == (2, 0)
    assert (whole["added"], whole["skipped_duplicates"]) == (2, 2)
    assert target.memberships.count() == 4


def test_list_leads_add_cohort_subset_violation_is_400_and_adds_nothing(api, workspace):
    source = LeadListFactory(workspace=workspace, lead_count=2)
    target = LeadListFactory(workspace=workspace)
    page = api.get(_leads_url(source)).json()
    outsider = LeadFactory(workspace=workspace)
    body = {"task_id": page["task_id"], "entity_ids": [_ids(page)[0], str(outsider.id)]}
    error = assert_error(api.post(_leads_url(target), body, format="json"), 400, "validation_error")
    assert "entity_ids" in error["details"]
    assert target.memberships.count() == 0


def test_list_leads_add_by_expired_foreign_unknown_or_company_cohort(
    api, workspace, other_workspace
):
    lead = LeadFactory(workspace=workspace)
    target = LeadListFactory(workspace=workspace)
    url = _leads_url(target)
    expired = cohort_create(
        workspace=workspace, entity_kind="person", entity_ids=[lead.id], source="t"
    )
    Cohort.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    foreign = cohort_create(
        workspace=other_workspace,
        entity_kind="person",
        entity_ids=[LeadFactory(workspace=other_workspace).id],
        source="t",
    )
    for task_id in (expired.id, foreign.id, "cl-task_unknown"):
        assert_error(api.post(url, {"task_id": task_id}, format="json"), 404, "not_found")
    companies = cohort_create(
        workspace=workspace,
        entity_kind="company",
        entity_ids=[CompanyFactory(workspace=workspace).id],
        source="t",
    )
    assert_error(api.post(url, {"task_id": companies.id}, format="json"), 400, "validation_error")
    assert target.memberships.count() == 0


def test_list_leads_add_is_idempotent_by_body_key_or_header(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    lead = LeadFactory(workspace=workspace)
    url = _leads_url(lead_list)
    body = {"lead_ids": [str(lead.id)], "idempotency_key": "add-1"}
    # when the same request is sent twice
    first = api.post(url, body, format="json").json()
    ListMembership.objects.filter(lead_list=lead_list).delete()  # would be re-added if re-run
    second = api.post(url, body, format="json").json()
    # then the first answer is replayed and nothing runs again
    assert first["added"] == 1
    assert "idempotent_replayed" not in first
    assert second == {**first, "idempotent_replayed": True}
    assert lead_list.memberships.count() == 0
    # the same key with another body is a conflict
    other = {"lead_ids": [str(LeadFactory(workspace=workspace).id)], "idempotency_key": "add-1"}
    assert_error(api.post(url, other, format="json"), 409, "idempotency_conflict")
    # the header works too, and must agree with a body key
    header_body = {"lead_ids": [str(lead.id)]}
    api.post(url, header_body, format="json", HTTP_IDEMPOTENCY_KEY="h-1")
    replay = api.post(url, header_body, format="json", HTTP_IDEMPOTENCY_KEY="h-1").json()
    assert replay["idempotent_replayed"] is True
    mismatch = {**header_body, "idempotency_key": "h-2"}
    response = api.post(url, mismatch, format="json", HTTP_IDEMPOTENCY_KEY="h-1")
    assert_error(response, 400, "validation_error")


def test_list_leads_add_to_unknown_list_with_key_releases_the_key(api, workspace):
    lead = LeadFactory(workspace=workspace)
    body = {"lead_ids": [str(lead.id)], "idempotency_key": "k"}
    response = api.post(f"/api/v2/lead-lists/{uuid.uuid4()}/leads", body, format="json")
    assert_error(response, 404, "not_found")
    assert not IdempotencyRecord.objects.exists()


def test_list_leads_remove_ignores_unknown_ids_and_keeps_leads(api, workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=3)
    lead_ids = [str(m.lead_id) for m in lead_list.memberships.all()]
    body = {"lead_ids": [lead_ids[0], lead_ids[1], str(uuid.uuid4())]}
    # when
    response = api.delete(_leads_url(lead_list), body, format="json")
    # then
    assert response.status_code == 200
    assert response.json() == {"list_id": str(lead_list.id), "removed": 2}
    assert lead_list.memberships.count() == 1
    assert workspace.leads.count() == 3


def test_list_leads_remove_more_than_100_or_none_is_400(api, workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=1)
    too_many = {"lead_ids": [str(uuid.uuid4()) for _ in range(101)]}
    error = assert_error(
        api.delete(_leads_url(lead_list), too_many, format="json"), 400, "validation_error"
    )
    assert "lead_ids" in error["details"]
    assert_error(api.delete(_leads_url(lead_list), {}, format="json"), 400, "validation_error")
    assert lead_list.memberships.count() == 1


def test_list_leads_write_needs_lists_write(make_client, workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=1)
    reader = make_client(workspace, scopes=[s for s in ALL_SCOPES if s != LISTS_WRITE])
    lead_id = str(lead_list.leads.first().id)
    body = {"lead_ids": [lead_id]}
    assert_error(
        reader.delete(_leads_url(lead_list), body, format="json"), 403, "insufficient_scope"
    )
    assert reader.get(_leads_url(lead_list)).status_code == 200
