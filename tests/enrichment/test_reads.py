"""Read endpoints: status (headers, cohort handle), items, jobs, batch/query, tenancy."""

import pytest

from enrichment.models import Workflow
from leads.models import LeadList
from leads.services import cohort_create
from tests.enrichment.conftest import wait_terminal
from tests.enrichment.factories import list_quote, list_with_leads
from tests.helpers import assert_error


def _by_task(api, workspace, count: int = 3) -> tuple[dict, str]:
    lead_list = list_with_leads(workspace, count)
    cohort = cohort_create(
        workspace=workspace,
        entity_kind="person",
        entity_ids=[str(m.lead_id) for m in lead_list.memberships.all()],
        source="search_people",
    )
    response = api.post(
        "/api/v2/enrichment/by-task",
        {"task_id": cohort.pk, "data_points": ["Email"]},
        format="json",
    )
    assert response.status_code == 202
    return response.json(), cohort.pk


@pytest.mark.django_db
def test_reads_status_jobs_handle_and_mcp_list(api, funded, other_api):
    # (the test transaction never commits, so these runs stay pending: nothing is enqueued)
    first, handle = _by_task(api, funded)
    second, _ = _by_task(api, funded)

    status = api.get(f"/api/v2/enrichment/status/{first['workflow_id']}")
    assert status.status_code == 200
    assert status["Retry-After"] == "2"
    assert status.json()["status"] == "pending"
    by_handle = api.get(f"/api/v2/enrichment/status/{handle}")
    assert by_handle.json()["workflow_id"] == first["workflow_id"]
    # one "MCP Results" list, reused
    assert first["lead_list_id"] == second["lead_list_id"]
    assert LeadList.objects.filter(workspace=funded, name="MCP Results").count() == 1
    jobs = api.get("/api/v2/enrichment/jobs").json()["jobs"]
    assert {job["workflow_id"] for job in jobs} == {first["workflow_id"], second["workflow_id"]}

    # another workspace sees none of it
    for path in (
        f"/api/v2/enrichment/status/{first['workflow_id']}",
        f"/api/v2/enrichment/status/{handle}",
        f"/api/v2/enrichment/{first['workflow_id']}/items",
    ):
        assert_error(other_api.get(path), 404, "not_found")
    assert_error(
        other_api.post(f"/api/v2/enrichment/{first['workflow_id']}/cancel"), 404, "not_found"
    )
    assert other_api.get("/api/v2/enrichment/jobs").json()["jobs"] == []

    # terminal: no Retry-After, gone from jobs
    cancelled = api.post(f"/api/v2/enrichment/{first['workflow_id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    final = api.get(f"/api/v2/enrichment/status/{first['workflow_id']}")
    assert "Retry-After" not in final
    assert final.json()["credits_refunded"] == 3
    jobs = api.get("/api/v2/enrichment/jobs").json()["jobs"]
    assert [job["workflow_id"] for job in jobs] == [second["workflow_id"]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_reads_items_filter_and_cursor_and_batch_query(api, funded, other_api, worker):
    lead_list = list_with_leads(funded, 30)
    started = api.post(
        "/api/v2/enrichment/bulk",
        {"list_id": str(lead_list.pk), "quote_id": list_quote(funded, lead_list)},
        format="json",
    ).json()
    workflow = wait_terminal(started["workflow_id"])
    url = f"/api/v2/enrichment/{workflow.pk}/items"

    seen, cursor = [], None
    while True:
        page = api.get(url, {"limit": 7, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["lead_id"] for item in page["items"]]
        cursor = page["cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 30
    found = api.get(url, {"status": "completed", "limit": 500}).json()["items"]
    assert len(found) == workflow.completed
    assert all(item["status"] == "completed" and item["email"] for item in found)
    assert_error(api.get(url, {"cursor": "garbage"}), 400, "validation_error")
    assert_error(api.get(url, {"status": "bogus"}), 400, "validation_error")

    lead_ids = [str(m.lead_id) for m in lead_list.memberships.all()]
    tasks = [{"entity_id": lead_id, "field": "emails"} for lead_id in lead_ids]
    rows = api.post("/api/v2/enrichment/batch/query", {"tasks": tasks}, format="json").json()
    assert {row["entity_id"] for row in rows["enrichments"]} == set(lead_ids)
    assert {row["workflow_id"] for row in rows["enrichments"]} == {workflow.pk}
    # another workspace's ids are simply left out
    theirs = other_api.post("/api/v2/enrichment/batch/query", {"tasks": tasks}, format="json")
    assert theirs.json()["enrichments"] == []
    too_many = [tasks[0]] * 201
    assert_error(
        api.post("/api/v2/enrichment/batch/query", {"tasks": too_many}, format="json"),
        400,
        "validation_error",
    )
    assert Workflow.objects.filter(workspace=funded).count() == 1


def test_reads_status_cancel_path_is_404_for_both_of_its_readings(api):
    # `/enrichment/status/cancel` is the status of "cancel" and the cancel of "status": neither
    # workflow exists, whichever method asks
    get = api.get("/api/v2/enrichment/status/cancel")
    post = api.post("/api/v2/enrichment/status/cancel")

    assert_error(get, 404, "not_found")
    assert_error(post, 404, "not_found")
