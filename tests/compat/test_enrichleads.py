"""The Enrich Leads API under /api, driven with raw HTTP as its clients call it: a Bearer key, a
JSON body, the vendor's paths and field names."""

import json
import uuid
from typing import Any

import pytest
from django.test import Client

from accounts.scopes import ALL_SCOPES
from credits.models import Hold
from credits.selectors import balance_get
from credits.services import credits_grant
from enrichment.models import ItemStatus, Workflow, WorkflowStatus
from leads.models import LeadList, ListMembership
from tests import workers
from tests.enrichment import conftest as enrichment_conftest
from tests.enrichment.factories import list_quote
from tests.enrichment.test_lifecycle import _broker_down
from tests.factories import ApiKeyFactory
from tests.leads.factories import LeadFactory, LeadListFactory
from tests.workers import assert_ledger_consistent, assert_settled, wait_terminal

# The enrichment tests' fixtures: a funded workspace, the sandbox settings, the session worker.
funded = enrichment_conftest.funded
_sandbox_settings = enrichment_conftest._sandbox_settings
session_worker = workers.session_worker
worker = workers.worker


class Vendor:
    """A client of the vendor's API: every call carries `Authorization: Bearer <key>`."""

    def __init__(self, raw_key: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {raw_key}"} if raw_key else {}

    def get(self, path: str, **params: Any):
        return self.client.get(path, params, headers=self.headers)

    def post(self, path: str, body: dict[str, Any] | None = None, **headers: str):
        return self.client.post(
            path,
            json.dumps(body or {}),
            content_type="application/json",
            headers={**self.headers, **headers},
        )


def vendor_for(workspace, scopes=ALL_SCOPES) -> Vendor:
    return Vendor(ApiKeyFactory(workspace=workspace, scopes=list(scopes)).raw_key)


def assert_vendor_error(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["details"], dict)
    assert body["requestId"] == response["X-Request-ID"]
    return body


def explicit(lead_ids, enrichment_id="work_email", **fields) -> dict[str, Any]:
    return {
        "enrichmentId": enrichment_id,
        "scope": {"type": "explicit_leads", "leadIds": [str(i) for i in lead_ids]},
        "input": {},
        **fields,
    }


# --- Catalog ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enrichleads_catalog_lists_each_enrichment_with_subject_price_and_input_schema(workspace):
    response = vendor_for(workspace).get("/api/enrichments")

    assert response.status_code == 200
    enrichments = {entry["id"]: entry for entry in response.json()["enrichments"]}
    assert set(enrichments) == {
        "work_email",
        "mobile_phone",
        "email_and_phone",
        "company_firmographics",
    }
    assert {k: (v["subject"], v["creditsPerLead"]) for k, v in enrichments.items()} == {
        "work_email": ("person", 1),
        "mobile_phone": ("person", 10),
        "email_and_phone": ("person", 11),
        "company_firmographics": ("company", 1),
    }
    work_email = enrichments["work_email"]
    assert work_email["name"] == "Work email"
    assert work_email["creditAction"] == "enrichment.work_email"
    assert work_email["inputSchema"] == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }


@pytest.mark.django_db
def test_enrichleads_catalog_needs_a_key_with_lists_read(workspace):
    assert_vendor_error(Vendor(None).get("/api/enrichments"), 401, "UNAUTHORIZED")
    no_scope = vendor_for(workspace, scopes=["enrich:read"]).get("/api/enrichments")
    assert_vendor_error(no_scope, 403, "INSUFFICIENT_SCOPE")


@pytest.mark.django_db
def test_enrichleads_schema_is_public_and_documents_only_this_api(client):
    spec = client.get("/api/schema", {"format": "json"}).json()

    assert set(spec["paths"]) == {
        "/api/enrichments",
        "/api/enrichment",
        "/api/enrichment/{run_id}",
        "/api/enrichment/{run_id}/items",
        "/api/enrichment/{run_id}/cancel",
    }
    assert spec["info"]["title"] == "Enrich Leads API"
    for item in spec["paths"].values():
        for op in item.values():
            assert "Scope:" in op["description"]
            assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/EnrichLeadsError"
            }
    start = spec["paths"]["/api/enrichment"]["post"]["responses"]
    assert {"200", "202", "400", "402", "404", "409", "502"} <= set(start)
    assert "SUBJECT_MISMATCH" in start["400"]["description"]


# --- Start: answers and refusals (no worker: nothing is enqueued before the test's commit) ----


@pytest.mark.django_db
def test_enrichleads_preview_returns_count_and_cost_and_writes_nothing(funded):
    leads = LeadFactory.create_batch(3, workspace=funded)
    LeadFactory(workspace=funded, email="has@example.com", phone="+15550000001")
    holding = LeadFactory(workspace=funded, phone="+15550000000")
    before = balance_get(workspace=funded)

    response = vendor_for(funded).post(
        "/api/enrichment",
        explicit(
            [*(lead.pk for lead in leads), holding.pk],
            "mobile_phone",
            mode="preview",
            output="skip_existing",
        ),
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "enrichmentRunId": None,
        "runId": None,
        "enrichmentId": "mobile_phone",
        "mode": "preview",
        "leadCount": 3,
        "scopeLeadCount": 4,
        "skippedLeadCount": 1,
        "creditAction": "enrichment.mobile_phone",
        "creditsRequired": 30,
        "balance": before.available,
        "sufficient": True,
    }
    assert not Workflow.objects.exists()
    assert not LeadList.objects.filter(workspace=funded).exists()
    assert balance_get(workspace=funded) == before


@pytest.mark.django_db
def test_enrichleads_start_answers_the_run_and_holds_its_credits(funded):
    lead_list = LeadListFactory(workspace=funded, lead_count=2)
    lead_ids = list(
        ListMembership.objects.filter(lead_list=lead_list).values_list("lead_id", flat=True)
    )
    before = balance_get(workspace=funded)

    response = vendor_for(funded).post(
        "/api/enrichment",
        {
            "enrichmentId": "email_and_phone",
            "scope": {
                "type": "explicit_leads",
                "leadIds": [str(i) for i in lead_ids],
                "listId": str(lead_list.pk),
            },
            "input": {},
            "output": "overwrite",
        },
    )

    assert response.status_code == 202, response.content
    body = response.json()
    workflow = Workflow.objects.get(pk=body["enrichmentRunId"])
    assert body == {
        "enrichmentRunId": workflow.pk,
        "runId": workflow.pk,
        "enrichmentId": "email_and_phone",
        "mode": "persisted",
        "status": "queued",
        "reusedExistingRun": False,
        "leadCount": 2,
        "scopeLeadCount": 2,
        "skippedLeadCount": 0,
        "creditAction": "enrichment.email_and_phone",
        "creditsReserved": 22,
        "listId": str(lead_list.pk),
        "createdAt": body["createdAt"],
    }
    assert (workflow.enrichment_type, workflow.output, workflow.total) == ("full", "overwrite", 2)
    assert balance_get(workspace=funded).held == before.held + 22
    status = vendor_for(funded).get(f"/api/enrichment/{workflow.pk}")
    assert status.status_code == 200
    assert status["Retry-After"]
    run = status.json()
    assert (run["status"], run["leadCount"], run["listId"]) == ("queued", 2, str(lead_list.pk))
    assert run["credits"] == {
        "reserved": 22,
        "charged": 0,
        "refunded": 0,
        "creditAction": "enrichment.email_and_phone",
    }
    assert (run["counters"]["processed"], run["error"], run["finishedAt"]) == (0, None, None)


@pytest.mark.django_db
def test_enrichleads_same_idempotency_key_returns_the_same_run_reused(funded):
    lead = LeadFactory(workspace=funded)
    vendor = vendor_for(funded)
    body = explicit([lead.pk], idempotencyKey="retry-me-1")

    first = vendor.post("/api/enrichment", body)
    again = vendor.post("/api/enrichment", body)

    assert first.status_code == again.status_code == 202
    assert first.json()["reusedExistingRun"] is False
    assert again.json() == {**first.json(), "reusedExistingRun": True}
    other_body = vendor.post("/api/enrichment", {**body, "output": "skip_existing"})
    assert_vendor_error(other_body, 409, "IDEMPOTENCY_CONFLICT")
    assert Workflow.objects.count() == 1
    assert balance_get(workspace=funded).held == 1


@pytest.mark.django_db
def test_enrichleads_list_scope_enriches_every_member_without_a_quote(funded):
    lead_list = LeadListFactory(workspace=funded, lead_count=3)

    response = vendor_for(funded).post(
        "/api/enrichment",
        {
            "enrichmentId": "work_email",
            "scope": {"type": "list", "listId": str(lead_list.pk)},
            "input": {},
        },
    )

    assert response.status_code == 202, response.content
    workflow = Workflow.objects.get(pk=response.json()["runId"])
    assert (workflow.kind, workflow.lead_list_id, workflow.output) == (
        "bulk",
        lead_list.pk,
        "overwrite",
    )
    assert (response.json()["leadCount"], response.json()["creditsReserved"]) == (3, 3)


@pytest.mark.django_db
def test_enrichleads_filtered_list_enriches_the_members_matching_the_filter(funded):
    lead_list = LeadListFactory(workspace=funded)
    cto = LeadFactory(workspace=funded, title="CTO")
    LeadFactory(workspace=funded, title="CTO")  # not a member
    others = [LeadFactory(workspace=funded, title="Sales rep") for _ in range(2)]
    ListMembership.objects.bulk_create(
        ListMembership(lead_list=lead_list, lead=lead) for lead in [cto, *others]
    )
    body = {
        "enrichmentId": "work_email",
        "scope": {"type": "filtered_list", "listId": str(lead_list.pk), "filter": {"title": "cto"}},
        "input": {},
    }
    vendor = vendor_for(funded)

    preview = vendor.post("/api/enrichment", {**body, "mode": "preview"})
    started = vendor.post("/api/enrichment", body)

    assert (preview.status_code, preview.json()["leadCount"]) == (200, 1)
    assert started.status_code == 202, started.content
    workflow = Workflow.objects.get(pk=started.json()["runId"])
    assert workflow.entity_ids == [str(cto.pk)]
    assert workflow.lead_list_id == lead_list.pk
    refused = vendor.post(
        "/api/enrichment",
        {**body, "scope": {**body["scope"], "filter": {"title": "cto", "limit": 5, "nope": 1}}},
    )
    error = assert_vendor_error(refused, 400, "VALIDATION_ERROR")
    assert set(error["details"]["scope"]["filter"]) == {"limit", "nope"}


@pytest.mark.django_db
def test_enrichleads_planner_rejections_carry_their_code_and_write_nothing(funded):
    lead = LeadFactory(workspace=funded)
    vendor = vendor_for(funded)
    empty_list = LeadListFactory(workspace=funded)

    assert_vendor_error(vendor.post("/api/enrichment", explicit([])), 400, "EMPTY_LEAD_SCOPE")
    assert_vendor_error(
        vendor.post(
            "/api/enrichment",
            {"enrichmentId": "work_email", "scope": {"type": "list", "listId": str(empty_list.pk)}},
        ),
        400,
        "EMPTY_LEAD_SCOPE",
    )
    mismatch = vendor.post("/api/enrichment", explicit([lead.pk], "company_firmographics"))
    assert_vendor_error(mismatch, 400, "SUBJECT_MISMATCH")
    unsupported = vendor.post("/api/enrichment", explicit([lead.pk], output="membership"))
    assert_vendor_error(unsupported, 400, "OUTPUT_TARGET_UNSUPPORTED")
    subject_in_scope = explicit([lead.pk])
    subject_in_scope["scope"]["subject"] = "person"
    error = assert_vendor_error(
        vendor.post("/api/enrichment", subject_in_scope), 400, "VALIDATION_ERROR"
    )
    assert error["details"]["scope"] == {"subject": ["Unknown field."]}
    for body, field in [
        (explicit([lead.pk], "no_such_enrichment"), "enrichmentId"),
        (explicit([lead.pk], input={"domain": "x.com"}), "input"),
        (explicit(["not-a-lead-id"]), "lead_ids"),
        ({"enrichmentId": "work_email", "scope": {"type": "list"}}, "scope"),
        (explicit([lead.pk], mode="dry"), "mode"),
    ]:
        error = assert_vendor_error(vendor.post("/api/enrichment", body), 400, "VALIDATION_ERROR")
        assert field in error["details"], (field, error)
    assert not Workflow.objects.exists()


@pytest.mark.django_db
def test_enrichleads_insufficient_credits_is_402_with_required_and_balance(workspace):
    credits_grant(workspace=workspace, amount=5, reason="test", reference=f"t-{uuid.uuid4()}")
    lead = LeadFactory(workspace=workspace)

    response = vendor_for(workspace).post("/api/enrichment", explicit([lead.pk], "mobile_phone"))

    body = assert_vendor_error(response, 402, "INSUFFICIENT_CREDITS")
    assert (body["required"], body["balance"]) == (10, 5)
    assert not Workflow.objects.exists()
    assert not LeadList.objects.filter(workspace=workspace).exists()
    assert balance_get(workspace=workspace).held == 0


@pytest.mark.django_db
def test_enrichleads_runs_of_another_workspace_are_404_and_a_missing_key_401(
    funded, other_workspace
):
    lead = LeadFactory(workspace=funded)
    run_id = vendor_for(funded).post("/api/enrichment", explicit([lead.pk])).json()["runId"]
    theirs = vendor_for(other_workspace)

    for path in (f"/api/enrichment/{run_id}", f"/api/enrichment/{run_id}/items"):
        assert_vendor_error(theirs.get(path), 404, "NOT_FOUND")
        response = Vendor(None).get(path)
        assert_vendor_error(response, 401, "UNAUTHORIZED")
        assert response["WWW-Authenticate"]
    assert_vendor_error(theirs.post(f"/api/enrichment/{run_id}/cancel"), 404, "NOT_FOUND")
    assert_vendor_error(
        Vendor(None).post("/api/enrichment", explicit([lead.pk])), 401, "UNAUTHORIZED"
    )
    # their leads are not ours: the scope resolves to nothing
    other_lead = LeadFactory(workspace=other_workspace)
    assert_vendor_error(
        vendor_for(funded).post("/api/enrichment", explicit([other_lead.pk])),
        400,
        "EMPTY_LEAD_SCOPE",
    )
    assert Workflow.objects.get(pk=run_id).status == WorkflowStatus.PENDING


@pytest.mark.django_db
def test_enrichleads_cancel_stops_a_queued_run_and_releases_its_hold(funded):
    leads = LeadFactory.create_batch(2, workspace=funded)
    vendor = vendor_for(funded)
    run_id = vendor.post("/api/enrichment", explicit([lead.pk for lead in leads])).json()["runId"]

    response = vendor.post(f"/api/enrichment/{run_id}/cancel")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["counters"]["cancelled"]) == ("cancelled", 2)
    assert body["credits"] == {
        "reserved": 2,
        "charged": 0,
        "refunded": 2,
        "creditAction": "enrichment.work_email",
    }
    assert balance_get(workspace=funded).held == 0
    cancelled = vendor.get(f"/api/enrichment/{run_id}/items", status="cancelled").json()
    assert len(cancelled["items"]) == 2


# --- Runs on a real worker --------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_enrichleads_run_completes_settles_and_lists_its_leads(worker, funded):
    leads = LeadFactory.create_batch(5, workspace=funded)
    vendor = vendor_for(funded)
    before = balance_get(workspace=funded)

    started = vendor.post(
        "/api/enrichment", explicit([lead.pk for lead in leads], idempotencyKey="run-1")
    )
    assert started.status_code == 202, started.content
    run_id = started.json()["enrichmentRunId"]
    workflow = wait_terminal(run_id)
    status = vendor.get(f"/api/enrichment/{run_id}")

    assert status.status_code == 200
    body = status.json()
    assert body["status"] == "completed"
    assert "Retry-After" not in status
    assert (body["enrichmentRunId"], body["runId"], body["enrichmentId"]) == (
        run_id,
        run_id,
        "work_email",
    )
    assert body["leadCount"] == 5
    assert body["progress"] == 100
    counters = body["counters"]
    assert counters["processed"] == 5
    assert counters["enriched"] + counters["notFound"] + counters["failed"] == 5
    assert counters["emailsFound"] == counters["enriched"]
    assert body["credits"] == {
        "reserved": 5,
        "charged": workflow.credits_charged,
        "refunded": 5 - workflow.credits_charged,
        "creditAction": "enrichment.work_email",
    }
    assert body["finishedAt"] is not None
    assert_settled(workflow)
    assert balance_get(workspace=funded).balance == before.balance - workflow.credits_charged
    assert balance_get(workspace=funded).held == 0
    assert_ledger_consistent(funded)

    first = vendor.get(f"/api/enrichment/{run_id}/items", limit=3).json()
    rest = vendor.get(f"/api/enrichment/{run_id}/items", limit=3, cursor=first["nextCursor"]).json()
    assert (len(first["items"]), first["hasMore"], len(rest["items"]), rest["hasMore"]) == (
        3,
        True,
        2,
        False,
    )
    items = first["items"] + rest["items"]
    assert {item["leadId"] for item in items} == {str(lead.pk) for lead in leads}
    found = [item for item in items if item["status"] == ItemStatus.COMPLETED]
    assert len(found) == counters["enriched"]
    assert all(item["email"] and item["creditsCharged"] == 1 for item in found)
    assert sum(item["creditsCharged"] for item in items) == workflow.credits_charged
    not_found = vendor.get(f"/api/enrichment/{run_id}/items", status="not_found").json()["items"]
    assert all(item["email"] is None and item["creditsCharged"] == 0 for item in not_found)

    replay = vendor.post(
        "/api/enrichment", explicit([lead.pk for lead in leads], idempotencyKey="run-1")
    )
    assert replay.json()["runId"] == run_id
    assert replay.json()["reusedExistingRun"] is True
    assert Workflow.objects.count() == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_enrichleads_run_reads_through_the_cleanlist_status_endpoint(worker, funded):
    lead_list = LeadListFactory(workspace=funded, lead_count=3)
    vendor = vendor_for(funded)

    run_id = vendor.post(
        "/api/enrichment",
        {
            "enrichmentId": "work_email",
            "scope": {"type": "list", "listId": str(lead_list.pk)},
            "input": {},
        },
    ).json()["runId"]
    workflow = wait_terminal(run_id)
    cleanlist = vendor.get(f"/api/v2/enrichment/status/{run_id}")

    assert cleanlist.status_code == 200
    body = cleanlist.json()
    assert (body["workflow_id"], body["status"], body["total"]) == (run_id, "completed", 3)
    assert body["credits_charged"] == workflow.credits_charged
    assert_settled(workflow)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_enrichleads_reads_a_run_started_through_the_cleanlist_api(worker, funded):
    lead_list = LeadListFactory(workspace=funded, lead_count=2)
    vendor = vendor_for(funded)
    quote_id = list_quote(funded, lead_list, "phone_only", output="overwrite")
    started = vendor.post(
        "/api/v2/enrichment/bulk",
        {
            "list_id": str(lead_list.pk),
            "scope": "phone_only",
            "output": "overwrite",
            "quote_id": quote_id,
        },
    )
    assert started.status_code == 202, started.content
    workflow_id = started.json()["workflow_id"]
    workflow = wait_terminal(workflow_id)

    body = vendor.get(f"/api/enrichment/{workflow_id}").json()

    assert (body["runId"], body["enrichmentId"], body["status"]) == (
        workflow_id,
        "mobile_phone",
        "completed",
    )
    assert body["credits"]["charged"] == workflow.credits_charged
    assert body["counters"]["phonesFound"] == workflow.found_phones


@pytest.mark.django_db(transaction=True)
def test_enrichleads_dispatch_failure_is_502_with_the_run_failed(funded):
    lead = LeadFactory(workspace=funded)
    vendor = vendor_for(funded)
    before = balance_get(workspace=funded)

    with _broker_down():
        response = vendor.post("/api/enrichment", explicit([lead.pk], idempotencyKey="d-1"))

    body = assert_vendor_error(response, 502, "DISPATCH_FAILED")
    assert body["enrichmentRunId"] == body["runId"]
    assert body["status"] == "failed"
    status = vendor.get(f"/api/enrichment/{body['runId']}").json()
    assert status["status"] == "failed"
    assert status["credits"] == {
        "reserved": 1,
        "charged": 0,
        "refunded": 1,
        "creditAction": "enrichment.work_email",
    }
    workflow = Workflow.objects.get(pk=body["runId"])
    assert Hold.objects.get(pk=workflow.hold_id).state == Hold.State.RELEASED
    assert balance_get(workspace=funded) == before
