"""The Lance dialect, driven as Lance's own curl examples do: `POST|GET
/api/v1/operations/enrichment/{personId}?field=emails|phones` and `POST .../batch/query`."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from common.exceptions import InternalError
from compat.lance.apis import LanceApiView
from credits.models import Hold, LedgerEntry
from credits.selectors import balance_get
from credits.services import credits_grant
from enrichment.models import Workflow, WorkflowItem
from enrichment.services.lifecycle import workflow_cancel
from enrichment.waterfall import person_input
from leads.models import Lead, LeadList, ListMembership
from providers.adapters.sandbox import SandboxProvider
from providers.base import OutcomeKind
from providers.models import ResultCacheEntry
from tests.conftest import client_for
from tests.enrichment.conftest import (  # noqa: F401  (fixtures)
    SANDBOX_INSTANCES,
    _sandbox_settings,
    assert_ledger_consistent,
    assert_settled,
    funded,
    session_worker,
    wait_terminal,
    worker,
)
from tests.factories import ApiKeyFactory
from tests.leads.factories import LeadFactory

BASE = "/api/v1/operations/enrichment"
CONCURRENT = 10
SANDBOX = SandboxProvider(name="sandbox", config=SANDBOX_INSTANCES["sandbox"])
RECORD_KEYS = {
    "id",
    "createdAt",
    "updatedAt",
    "entityId",
    "entityType",
    "field",
    "status",
    "error",
    "dataFound",
    "createdBy",
    "orgId",
    "globalEnrichmentId",
    "creditTransactionId",
    "workflowId",
}


def _lance_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    error = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def _lead(workspace, *, email_found: bool | None = None, phone_found: bool | None = None) -> Lead:
    """A lead the sandbox answers as asked (it is deterministic by identity)."""
    for n in range(500):
        lead = LeadFactory.build(
            workspace=workspace,
            first_name="Ada",
            last_name=f"Lance{n}",
            full_name=f"Ada Lance{n}",
            company_name="Example",
            domain="example.com",
            linkedin_url=f"https://www.linkedin.com/in/ada-lance-{n}",
        )
        person = person_input(lead)
        email = SANDBOX.find_email(person)
        if email.kind == OutcomeKind.FOUND and (
            SANDBOX.verify_email(email.value).verdict == "invalid"
        ):
            continue
        phone = SANDBOX.find_phone(person).kind == OutcomeKind.FOUND
        if email_found is not None and (email.kind == OutcomeKind.FOUND) != email_found:
            continue
        if phone_found is not None and phone != phone_found:
            continue
        lead.save()
        return lead
    raise AssertionError("no such person in 500 tries")


# --- Trigger and read (no worker: the test transaction never commits, so runs stay pending) ---


@pytest.mark.django_db
@pytest.mark.usefixtures("funded")
def test_lance_post_answers_a_pending_record_and_reserves_the_field_price(make_client, workspace):
    client = make_client(workspace)
    lead = LeadFactory(workspace=workspace)
    before = balance_get(workspace=workspace)

    response = client.post(f"{BASE}/{lead.pk}?field=phones")

    assert response.status_code == 200, response.content
    record = response.json()
    assert set(record) == RECORD_KEYS
    assert record["entityId"] == str(lead.pk)
    assert record["entityType"] == "person"
    assert record["field"] == "phones"
    assert record["status"] == "pending"
    assert record["error"] is None
    assert record["dataFound"] is None
    assert record["createdBy"] == str(client.api_key.pk)
    assert record["orgId"] == str(workspace.pk)
    assert record["globalEnrichmentId"] is None
    assert record["creditTransactionId"] is None
    assert record["createdAt"].endswith("Z") or "+" in record["createdAt"]
    workflow = Workflow.objects.get(pk=record["workflowId"])
    assert workflow.kind == Workflow.Kind.PERSON
    assert workflow.enrichment_type == "phone_only"
    assert workflow.api_key_id == client.api_key.pk
    assert record["id"] == str(WorkflowItem.objects.get(workflow=workflow).pk)
    # the field's price is reserved (10 for phones), nothing charged yet
    after = balance_get(workspace=workspace)
    assert (after.balance, after.held) == (before.balance, before.held + 10)
    mcp = LeadList.objects.get(workspace=workspace, name="MCP Results")
    assert ListMembership.objects.filter(lead_list=mcp, lead=lead).exists()

    emails = client.post(f"{BASE}/{lead.pk}?field=emails").json()
    assert emails["field"] == "emails"
    assert emails["id"] != record["id"]
    assert Workflow.objects.get(pk=emails["workflowId"]).enrichment_type == "partial"
    assert balance_get(workspace=workspace).held == before.held + 11


@pytest.mark.django_db
@pytest.mark.usefixtures("funded")
def test_lance_post_again_returns_the_pending_enrichment_without_credits(make_client, workspace):
    client = make_client(workspace)
    lead = LeadFactory(workspace=workspace)
    first = client.post(f"{BASE}/{lead.pk}?field=emails").json()
    held = balance_get(workspace=workspace).held

    again = client.post(f"{BASE}/{lead.pk}?field=emails")
    read = client.get(f"{BASE}/{lead.pk}?field=emails")

    assert again.status_code == 200
    assert again.json() == first
    assert read.status_code == 200
    assert read.json() == first
    assert balance_get(workspace=workspace).held == held
    assert Hold.objects.filter(workspace=workspace).count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("funded")
def test_lance_failed_timeout_and_cancelled_enrichments_are_replaced(make_client, workspace):
    client = make_client(workspace)
    lead = LeadFactory(workspace=workspace)
    first = client.post(f"{BASE}/{lead.pk}?field=emails").json()

    # pending past its run's deadline reads as timeout, and a new POST replaces it
    Workflow.objects.filter(pk=first["workflowId"]).update(
        deadline=timezone.now() - timedelta(seconds=1)
    )
    timed_out = client.get(f"{BASE}/{lead.pk}?field=emails").json()
    assert timed_out["status"] == "timeout"
    assert timed_out["error"]
    second = client.post(f"{BASE}/{lead.pk}?field=emails").json()
    assert second["status"] == "pending"
    assert second["id"] != first["id"]
    assert second["workflowId"] != first["workflowId"]

    # cancelled
    workflow_cancel(workflow=Workflow.objects.get(pk=second["workflowId"]))
    assert client.get(f"{BASE}/{lead.pk}?field=emails").json()["status"] == "cancelled"
    third = client.post(f"{BASE}/{lead.pk}?field=emails").json()
    assert third["status"] == "pending"
    assert third["id"] != second["id"]

    # failed
    WorkflowItem.objects.filter(pk=third["id"]).update(status="failed", error="provider down")
    failed = client.get(f"{BASE}/{lead.pk}?field=emails").json()
    assert (failed["status"], failed["error"], failed["dataFound"]) == (
        "failed",
        "provider down",
        None,
    )
    fourth = client.post(f"{BASE}/{lead.pk}?field=emails").json()
    assert fourth["status"] == "pending"
    assert fourth["id"] != third["id"]
    assert Workflow.objects.filter(workspace=workspace).count() == 4


@pytest.mark.django_db
@pytest.mark.usefixtures("funded")
def test_lance_get_without_an_enrichment_is_404(make_client, workspace):
    client = make_client(workspace)
    lead = LeadFactory(workspace=workspace)

    _lance_error(client.get(f"{BASE}/{lead.pk}?field=emails"), 404, "NOT_FOUND")
    client.post(f"{BASE}/{lead.pk}?field=emails")
    _lance_error(client.get(f"{BASE}/{lead.pk}?field=phones"), 404, "NOT_FOUND")


@pytest.mark.django_db
@pytest.mark.usefixtures("funded")
def test_lance_validation_errors_are_400(make_client, workspace):
    client = make_client(workspace)
    lead = LeadFactory(workspace=workspace)

    _lance_error(client.post(f"{BASE}/{lead.pk}"), 400, "VALIDATION_ERROR")
    _lance_error(client.post(f"{BASE}/{lead.pk}?field=summary"), 400, "VALIDATION_ERROR")
    _lance_error(client.get(f"{BASE}/{lead.pk}"), 400, "VALIDATION_ERROR")
    _lance_error(client.post(f"{BASE}/not-a-uuid?field=emails"), 400, "VALIDATION_ERROR")
    _lance_error(client.get(f"{BASE}/not-a-uuid?field=emails"), 400, "VALIDATION_ERROR")
    batch = f"{BASE}/batch/query"
    for body in (
        {},
        {"tasks": []},
        {"tasks": [{"entityId": str(lead.pk), "field": "emails"}] * 201},
        {"tasks": [{"field": "emails"}]},
        {"tasks": "emails"},
    ):
        _lance_error(client.post(batch, body, format="json"), 400, "VALIDATION_ERROR")
    _lance_error(client.get(batch), 405, "METHOD_NOT_ALLOWED")
    assert not Workflow.objects.filter(workspace=workspace).exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("funded")
def test_lance_without_a_valid_key_is_401(client, workspace):
    lead = LeadFactory(workspace=workspace)

    for response in (
        client.post(f"{BASE}/{lead.pk}?field=emails"),
        client.get(f"{BASE}/{lead.pk}?field=emails"),
        client.post(
            f"{BASE}/{lead.pk}?field=emails", HTTP_AUTHORIZATION="Bearer clapi_not_a_real_key"
        ),
        client.post(
            f"{BASE}/batch/query",
            {"tasks": [{"entityId": str(lead.pk), "field": "emails"}]},
            content_type="application/json",
        ),
    ):
        _lance_error(response, 401, "UNAUTHORIZED")
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Workflow.objects.exists()


@pytest.mark.django_db
def test_lance_without_credits_is_402_and_writes_nothing(make_client, workspace):
    client = make_client(workspace)
    lead = LeadFactory(workspace=workspace)

    _lance_error(client.post(f"{BASE}/{lead.pk}?field=phones"), 402, "INSUFFICIENT_CREDITS")

    assert not Workflow.objects.filter(workspace=workspace).exists()
    assert not Hold.objects.filter(workspace=workspace).exists()
    assert not LeadList.objects.filter(workspace=workspace).exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("funded")
def test_lance_scopes_are_403(make_client, workspace):
    reader = make_client(workspace, scopes=["enrich:read"])
    lead = LeadFactory(workspace=workspace)

    _lance_error(reader.post(f"{BASE}/{lead.pk}?field=emails"), 403, "FORBIDDEN")
    _lance_error(reader.get(f"{BASE}/{lead.pk}?field=emails"), 404, "NOT_FOUND")
    writer = make_client(workspace, scopes=["enrich:write"])
    _lance_error(writer.get(f"{BASE}/{lead.pk}?field=emails"), 403, "FORBIDDEN")


@pytest.mark.django_db
@pytest.mark.usefixtures("funded")
def test_lance_another_workspaces_person_is_404(make_client, other_workspace, workspace):
    client = make_client(workspace)
    lead = LeadFactory(workspace=workspace)
    record = client.post(f"{BASE}/{lead.pk}?field=emails").json()
    credits_grant(workspace=other_workspace, amount=100, reason="test", reference="other")
    other = make_client(other_workspace)

    _lance_error(other.post(f"{BASE}/{lead.pk}?field=emails"), 404, "NOT_FOUND")
    _lance_error(other.get(f"{BASE}/{lead.pk}?field=emails"), 404, "NOT_FOUND")
    tasks = {"tasks": [{"entityId": str(lead.pk), "field": "emails"}]}
    assert other.post(f"{BASE}/batch/query", tasks, format="json").json() == []
    # an unknown person too
    unknown = "550e8400-e29b-41d4-a716-446655440000"
    _lance_error(other.post(f"{BASE}/{unknown}?field=emails"), 404, "NOT_FOUND")
    assert not Workflow.objects.filter(workspace=other_workspace).exists()
    assert client.get(f"{BASE}/{lead.pk}?field=emails").json() == record


@pytest.mark.django_db
@pytest.mark.usefixtures("funded")
def test_lance_batch_query_answers_the_tasks_that_have_a_record(make_client, workspace):
    client = make_client(workspace)
    enriched, never = LeadFactory(workspace=workspace), LeadFactory(workspace=workspace)
    record = client.post(f"{BASE}/{enriched.pk}?field=phones").json()
    holds = Hold.objects.filter(workspace=workspace).count()
    balance = balance_get(workspace=workspace)

    response = client.post(
        f"{BASE}/batch/query",
        {
            "tasks": [
                {"entityId": str(enriched.pk), "field": "phones"},
                {"entityId": str(enriched.pk), "field": "emails"},
                {"entityId": str(never.pk), "field": "emails"},
                {"entityId": str(enriched.pk), "field": "summary", "entityType": "company"},
                {"entityId": "660e8400-e29b-41d4-a716-446655440002", "field": "phones"},
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json() == [record]
    # read-only and free
    assert Hold.objects.filter(workspace=workspace).count() == holds
    assert balance_get(workspace=workspace) == balance
    limit = [{"entityId": str(enriched.pk), "field": "phones"}] * 200
    assert len(client.post(f"{BASE}/batch/query", {"tasks": limit}, format="json").json()) == 200


@pytest.mark.django_db
def test_lance_schema_is_served_and_lists_only_lance(client):
    response = client.get(f"{BASE}/schema", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    paths = set(response.json()["paths"])
    assert paths == {f"{BASE}/batch/query", f"{BASE}/{{person_id}}"}


# --- With a worker ----------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("funded", "worker")
def test_lance_emails_found_finishes_charges_and_is_reused(make_client, workspace):
    client = make_client(workspace)
    lead = _lead(workspace, email_found=True)
    before = balance_get(workspace=workspace)

    started = client.post(f"{BASE}/{lead.pk}?field=emails").json()
    workflow = wait_terminal(started["workflowId"])
    record = client.get(f"{BASE}/{lead.pk}?field=emails").json()

    assert record["status"] == "finished"
    assert record["dataFound"] is True
    assert record["error"] is None
    assert record["id"] == started["id"]
    assert record["createdAt"] == started["createdAt"]
    assert record["updatedAt"] >= record["createdAt"]
    charge = LedgerEntry.objects.get(workflow_id=workflow.pk, kind="charge")
    assert record["creditTransactionId"] == str(charge.pk)
    assert charge.amount == 1
    assert_settled(workflow)
    after = balance_get(workspace=workspace)
    assert (after.balance, after.held) == (before.balance - 1, before.held)
    lead.refresh_from_db()
    assert lead.email

    # finished: returned as it is, free
    again = client.post(f"{BASE}/{lead.pk}?field=emails").json()
    assert again == record
    assert balance_get(workspace=workspace) == after
    assert Workflow.objects.filter(workspace=workspace).count() == 1
    assert_ledger_consistent(workspace)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("funded", "worker")
def test_lance_phones_not_found_is_finished_and_free(make_client, workspace):
    client = make_client(workspace)
    lead = _lead(workspace, phone_found=False)
    before = balance_get(workspace=workspace)

    started = client.post(f"{BASE}/{lead.pk}?field=phones").json()
    workflow = wait_terminal(started["workflowId"])
    record = client.get(f"{BASE}/{lead.pk}?field=phones").json()

    assert (record["status"], record["dataFound"], record["creditTransactionId"]) == (
        "finished",
        False,
        None,
    )
    assert record["globalEnrichmentId"] is None
    assert_settled(workflow)
    assert workflow.credits_reserved == 10
    assert workflow.credits_charged == 0
    assert balance_get(workspace=workspace) == before


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("funded", "worker")
def test_lance_run_reads_through_the_cleanlist_status_endpoint(make_client, workspace):
    client = make_client(workspace)
    lead = _lead(workspace, email_found=True)

    started = client.post(f"{BASE}/{lead.pk}?field=emails").json()
    wait_terminal(started["workflowId"])
    status = client.get(f"/api/v2/enrichment/status/{started['workflowId']}")

    assert status.status_code == 200, status.content
    body = status.json()
    assert body["workflow_id"] == started["workflowId"]
    assert body["status"] == "completed"
    assert body["credits_charged"] == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("funded", "worker")
def test_lance_reads_a_run_started_through_cleanlist(make_client, workspace):
    client = make_client(workspace)
    lead = _lead(workspace, email_found=True)
    lead_list = LeadList.objects.create(workspace=workspace, name="Cleanlist")

    started = client.post(
        "/api/v2/enrichment/person",
        {"lead_list_id": str(lead_list.pk), "person_id": str(lead.pk)},
        format="json",
    )
    assert started.status_code == 202, started.content
    workflow = wait_terminal(started.json()["workflow_id"])
    record = client.get(f"{BASE}/{lead.pk}?field=emails").json()

    assert record["workflowId"] == workflow.pk
    assert (record["status"], record["dataFound"]) == ("finished", True)
    assert record["createdBy"] is None  # the Cleanlist start does not record its key
    batch = client.post(
        f"{BASE}/batch/query",
        {"tasks": [{"entityId": str(lead.pk), "field": "emails"}]},
        format="json",
    ).json()
    assert batch == [record]
    # the finished Cleanlist run answers a Lance POST too, free
    balance = balance_get(workspace=workspace)
    assert client.post(f"{BASE}/{lead.pk}?field=emails").json() == record
    assert balance_get(workspace=workspace) == balance


@pytest.mark.django_db
@pytest.mark.usefixtures("funded")
def test_lance_idempotency_key_replays_the_first_answer(make_client, workspace):
    client = make_client(workspace)
    lead, other = LeadFactory(workspace=workspace), LeadFactory(workspace=workspace)

    first = client.post(f"{BASE}/{lead.pk}?field=emails", HTTP_IDEMPOTENCY_KEY="lance-1")
    replay = client.post(f"{BASE}/{lead.pk}?field=emails", HTTP_IDEMPOTENCY_KEY="lance-1")
    reused = client.post(f"{BASE}/{other.pk}?field=emails", HTTP_IDEMPOTENCY_KEY="lance-1")

    assert replay.status_code == 200
    assert replay.json() == {**first.json(), "idempotent_replayed": True}
    # the same key for another person is a different request
    _lance_error(reused, 409, "CONFLICT")
    assert Hold.objects.filter(workspace=workspace).count() == 1


def test_lance_unexpected_errors_read_as_internal_error():
    body = LanceApiView().render_error(InternalError())

    assert body == {"error": {"code": "INTERNAL_ERROR", "message": InternalError.default_message}}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("funded", "worker")
def test_lance_concurrent_posts_make_one_enrichment(workspace):
    api_key = ApiKeyFactory(workspace=workspace)
    lead = _lead(workspace, email_found=True)
    barrier = threading.Barrier(CONCURRENT)
    responses = []
    lock = threading.Lock()

    def send() -> None:
        client = client_for(api_key)
        barrier.wait()
        try:
            response = client.post(f"{BASE}/{lead.pk}?field=emails")
        finally:
            connection.close()
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=send) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in responses] == [200] * CONCURRENT
    workflow = Workflow.objects.get(workspace=workspace)
    assert {r.json()["workflowId"] for r in responses} == {workflow.pk}
    assert Hold.objects.filter(workspace=workspace).count() == 1
    assert_settled(wait_terminal(workflow.pk))
    assert_ledger_consistent(workspace)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("funded", "worker")
def test_lance_replacing_a_failed_enrichment_answers_from_the_cache(make_client, workspace):
    client = make_client(workspace)
    lead = _lead(workspace, email_found=True)
    first = client.post(f"{BASE}/{lead.pk}?field=emails").json()
    wait_terminal(first["workflowId"])
    assert client.get(f"{BASE}/{lead.pk}?field=emails").json()["globalEnrichmentId"] is None
    # the item failed after the provider's answer was cached (an error while saving it, say)
    WorkflowItem.objects.filter(pk=first["id"]).update(status="failed", error="lost")

    second = client.post(f"{BASE}/{lead.pk}?field=emails").json()
    workflow = wait_terminal(second["workflowId"])
    record = client.get(f"{BASE}/{lead.pk}?field=emails").json()

    assert second["workflowId"] != first["workflowId"]
    assert (record["status"], record["dataFound"]) == ("finished", True)
    # the id of the cache entry the email was read from
    entry = ResultCacheEntry.objects.get(pk=int(record["globalEnrichmentId"]))
    assert (entry.data_point, entry.kind) == ("email", "found")
    assert_settled(workflow)
