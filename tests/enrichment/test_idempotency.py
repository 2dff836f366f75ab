"""Idempotency-Key on enrichment starts (Stripe semantics) and per-lead reuse."""

import threading

import pytest
from django.db import connection

from credits.models import Hold
from enrichment.models import Workflow
from tests.conftest import client_for
from tests.enrichment.conftest import assert_settled, wait_terminal
from tests.factories import ApiKeyFactory
from tests.helpers import assert_error
from tests.leads.factories import LeadListFactory

pytestmark = pytest.mark.django_db(transaction=True)

CONCURRENT = 50


def _person_body(lead_list, slug: str = "grace-hopper") -> dict:
    return {
        "lead_list_id": str(lead_list.pk),
        "linkedin_url": f"https://www.linkedin.com/in/{slug}",
        "first_name": "Grace",
        "last_name": "Hopper",
        "domain": "navy.example.com",
    }


@pytest.mark.worker
def test_idempotency_50_concurrent_identical_posts_make_one_workflow(funded, worker):
    # given 50 clients (threads, each with its own database connection) ready to send the
    # same request with the same key
    api_key = ApiKeyFactory(workspace=funded)
    body = _person_body(LeadListFactory(workspace=funded))
    barrier = threading.Barrier(CONCURRENT)
    responses = []
    lock = threading.Lock()

    def send() -> None:
        client = client_for(api_key)
        barrier.wait()
        try:
            response = client.post(
                "/api/v2/enrichment/person", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
            )
        finally:
            connection.close()
        with lock:
            responses.append(response)

    # when they all fire at once
    threads = [threading.Thread(target=send) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then one workflow and one hold; the others replay it or are told it is in flight
    assert len(responses) == CONCURRENT
    accepted = [r for r in responses if r.status_code == 202]
    conflicts = [r for r in responses if r.status_code == 409]
    assert len(accepted) + len(conflicts) == CONCURRENT
    workflow = Workflow.objects.get(workspace=funded)
    assert {r.json()["workflow_id"] for r in accepted} == {workflow.pk}
    assert sum(not r.json().get("idempotent_replayed") for r in accepted) == 1
    for response in conflicts:
        assert response.json()["error"]["code"] == "idempotency_conflict"
    assert Hold.objects.filter(workspace=funded).count() == 1
    # and the run itself goes through at once (its enqueue waited for the commit)
    assert_settled(wait_terminal(workflow.pk, timeout=30))
    replay = client_for(api_key).post(
        "/api/v2/enrichment/person", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert replay.status_code == 202
    assert replay.json()["idempotent_replayed"] is True
    assert replay.json()["workflow_id"] == workflow.pk


@pytest.mark.worker
def test_idempotency_same_key_other_body_is_409(api, funded, worker):
    # (the worker runs the enqueued lookup; waiting for it keeps the next flush from racing it)
    lead_list = LeadListFactory(workspace=funded)
    first = api.post(
        "/api/v2/enrichment/person",
        _person_body(lead_list),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert first.status_code == 202
    other = api.post(
        "/api/v2/enrichment/person",
        _person_body(lead_list, slug="alan-turing"),
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-2",
    )
    assert_error(other, 409, "idempotency_conflict")
    assert Workflow.objects.filter(workspace=funded).count() == 1
    assert Hold.objects.filter(workspace=funded).count() == 1


@pytest.mark.worker
def test_idempotency_person_reuse_while_pending_and_after_finishing(api, funded, worker):
    lead_list = LeadListFactory(workspace=funded)
    body = {**_person_body(lead_list), "enrichment_type": "partial"}
    first = api.post("/api/v2/enrichment/person", body, format="json")
    # while it is pending or running: the same workflow, nothing reserved again
    again = api.post("/api/v2/enrichment/person", body, format="json")
    assert again.json()["workflow_id"] == first.json()["workflow_id"]
    assert (again.json()["reused"], again.json()["credits_reserved"]) == (True, 0)
    wait_terminal(first.json()["workflow_id"])
    # after it finished, within the reuse window: still the same one, still free
    after = api.post(
        "/api/v2/enrichment/person",
        {**body, "linkedin_url": "linkedin.com/in/grace-hopper/"},  # another spelling
        format="json",
    )
    assert after.json()["workflow_id"] == first.json()["workflow_id"]
    assert after.json()["reused"] is True
    # a `full` run is another data point: a new workflow
    full = api.post("/api/v2/enrichment/person", {**body, "enrichment_type": "full"}, format="json")
    assert full.json()["workflow_id"] != first.json()["workflow_id"]
    assert Hold.objects.filter(workspace=funded).count() == 2
