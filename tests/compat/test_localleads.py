"""LocalLeads' enrichment API (`/api/v1/enrichment`), driven as its documented curl calls are:
JSON bodies, `Authorization: Bearer`, the `{"success", "data" | "error"}` envelope."""

import json
from datetime import UTC, datetime

import pytest
from rest_framework.settings import api_settings

from accounts import scopes
from credits.selectors import balance_get
from credits.services import credits_grant
from enrichment.models import Workflow, WorkflowStatus
from enrichment.services.lifecycle import workflow_transition
from leads.models import Lead
from leads.services import cohort_create
from tests.enrichment import conftest as enrichment_fixtures
from tests.enrichment.conftest import assert_ledger_consistent, assert_settled, wait_terminal
from tests.factories import ApiKeyFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.test_schema import _untyped_objects

BASE = "/api/v1/enrichment"

# The enrichment tests' fixtures (the real worker, its sandbox, a funded workspace), for the runs
# here that must complete.
_sandbox_settings = enrichment_fixtures._sandbox_settings
funded = enrichment_fixtures.funded
session_worker = enrichment_fixtures.session_worker
worker = enrichment_fixtures.worker


def _auth(key) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key.raw_key}"}


def _post(client, key, path: str, body: dict, **headers: str):
    return client.post(
        f"{BASE}{path}",
        data=json.dumps(body),
        content_type="application/json",
        **_auth(key),
        **headers,
    )


def _get(client, key, path: str):
    return client.get(f"{BASE}{path}", **_auth(key))


def _ok(response, status: int = 200):
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert body["success"] is True
    return body["data"]


def _error(response, status: int, code: str) -> str:
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]["message"]


def _leads(workspace, count: int, **fields) -> list[Lead]:
    return [LeadFactory(workspace=workspace, **fields) for _ in range(count)]


def _query(workspace, leads: list[Lead]) -> str:
    """A search's handle (what LocalLeads calls a query id) over these leads."""
    cohort = cohort_create(
        workspace=workspace,
        entity_kind="person",
        entity_ids=[lead.pk for lead in leads],
        source="search_people",
    )
    return cohort.pk


@pytest.fixture
def key(workspace):
    return ApiKeyFactory(workspace=workspace, scopes=list(scopes.ALL_SCOPES))


def _grant(workspace, amount: int) -> None:
    credits_grant(workspace=workspace, amount=amount, reason="test", reference=f"ll-{amount}")


# --- preview ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_localleads_preview_by_query_id_and_lead_ids_prices_only_what_lacks_an_email(
    client, workspace, key
):
    # given 88 credits and a search of three leads, one of which already has an email
    _grant(workspace, 88)
    lacking = _leads(workspace, 2)
    holding = LeadFactory(workspace=workspace, email="known@example.com")
    query_id = _query(workspace, [*lacking, holding])

    # when previewed by query id and by lead ids
    by_query = _ok(_post(client, key, "/preview", {"queryId": query_id}))
    by_ids = _ok(_post(client, key, "/preview", {"leadIds": [str(lacking[0].pk)]}))

    # then every field is as documented and nothing was written or reserved
    assert by_query == {
        "totalLeads": 3,
        "alreadyEnriched": 1,
        "toEnrich": 2,
        "estimatedCredits": 2,
        "availableCredits": 88,
    }
    assert by_ids == {
        "totalLeads": 1,
        "alreadyEnriched": 0,
        "toEnrich": 1,
        "estimatedCredits": 1,
        "availableCredits": 88,
    }
    assert not Workflow.objects.exists()
    assert balance_get(workspace=workspace).held == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [{}, {"queryId": "cl-task_x", "leadIds": ["a"]}, {"leadIds": []}, {"leadIds": "nope"}],
)
def test_localleads_preview_needs_exactly_one_of_query_id_and_lead_ids(
    client, workspace, key, body
):
    message = _error(_post(client, key, "/preview", body), 400, "VALIDATION_ERROR")
    assert message.startswith("The request is not valid. (")


@pytest.mark.django_db
def test_localleads_preview_unknown_foreign_or_company_query_is_refused(
    client, workspace, other_workspace, key
):
    theirs = _query(other_workspace, _leads(other_workspace, 1))
    companies = cohort_create(
        workspace=workspace,
        entity_kind="company",
        entity_ids=[CompanyFactory(workspace=workspace).pk],
        source="search_companies",
    ).pk

    _error(_post(client, key, "/preview", {"queryId": "cl-task_unknown"}), 404, "NOT_FOUND")
    assert _error(_post(client, key, "/preview", {}), 400, "VALIDATION_ERROR") == (
        "The request is not valid. (non field errors: Provide exactly one of queryId and leadIds.)"
    )
    _error(_post(client, key, "/preview", {"queryId": theirs}), 404, "NOT_FOUND")
    _error(_post(client, key, "/preview", {"queryId": companies}), 400, "VALIDATION_ERROR")
    # another workspace's lead ids are left out; none left is an empty scope
    foreign_lead = Lead.objects.get(workspace=other_workspace)
    _error(
        _post(client, key, "/preview", {"leadIds": [str(foreign_lead.pk)]}),
        400,
        "EMPTY_LEAD_SCOPE",
    )


# --- start --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_localleads_start_reserves_at_once_capped_by_max_credits_or_the_balance(
    client, workspace, key
):
    # (the test transaction never commits, so these runs stay queued: nothing is enqueued)
    _grant(workspace, 7)
    query_id = _query(workspace, _leads(workspace, 5))

    # when started with a cap of 3
    capped = _ok(_post(client, key, "/start", {"queryId": query_id, "maxCredits": 3}))

    # then five leads are queued and three credits held at once
    workflow = Workflow.objects.get(pk=capped["jobId"])
    assert capped == {"jobId": workflow.pk, "leadsQueued": 5, "creditsReserved": 3}
    assert (workflow.max_credits, workflow.credits_reserved, workflow.total) == (3, 3, 5)
    balance = balance_get(workspace=workspace)
    assert (balance.balance, balance.held, balance.available) == (7, 3, 4)

    # when started again without a cap: the cap is the 4 credits still available
    default = _ok(_post(client, key, "/start", {"queryId": query_id}))
    assert (default["leadsQueued"], default["creditsReserved"]) == (5, 4)
    assert Workflow.objects.get(pk=default["jobId"]).max_credits == 4
    assert balance_get(workspace=workspace).available == 0

    # with nothing left, a start is refused and writes nothing
    _error(_post(client, key, "/start", {"queryId": query_id}), 402, "INSUFFICIENT_CREDITS")
    # a cap above what is available cannot be reserved either
    _error(
        _post(client, key, "/start", {"queryId": query_id, "maxCredits": 2}),
        402,
        "INSUFFICIENT_CREDITS",
    )
    _error(
        _post(client, key, "/start", {"queryId": query_id, "maxCredits": 0}),
        400,
        "VALIDATION_ERROR",
    )
    assert Workflow.objects.count() == 2
    assert_ledger_consistent(workspace)


@pytest.mark.django_db
def test_localleads_start_idempotency_key_replays_and_refuses_another_body(client, workspace, key):
    _grant(workspace, 100)
    leads = _leads(workspace, 3)
    body = {"leadIds": [str(lead.pk) for lead in leads]}

    first = _post(client, key, "/start", body, HTTP_IDEMPOTENCY_KEY="ll-start-1")
    again = _post(client, key, "/start", body, HTTP_IDEMPOTENCY_KEY="ll-start-1")

    assert _ok(again) == _ok(first)
    assert again.json()["idempotent_replayed"] is True
    assert Workflow.objects.count() == 1
    assert balance_get(workspace=workspace).held == 3
    other = {"leadIds": body["leadIds"][:1]}
    _error(
        _post(client, key, "/start", other, HTTP_IDEMPOTENCY_KEY="ll-start-1"),
        409,
        "IDEMPOTENCY_CONFLICT",
    )
    assert Workflow.objects.count() == 1


@pytest.mark.django_db
def test_localleads_start_all_leads_already_enriched_is_an_empty_scope(client, workspace, key):
    _grant(workspace, 10)
    query_id = _query(workspace, _leads(workspace, 2, email="x@example.com"))
    _error(_post(client, key, "/start", {"queryId": query_id}), 400, "EMPTY_LEAD_SCOPE")
    assert not Workflow.objects.exists()


# --- status, jobs, lead -------------------------------------------------------------------------


@pytest.mark.django_db
def test_localleads_status_maps_every_sluice_status(client, workspace, key, other_workspace):
    _grant(workspace, 100)
    job_ids = [
        _ok(_post(client, key, "/start", {"leadIds": [str(LeadFactory(workspace=workspace).pk)]}))[
            "jobId"
        ]
        for _ in range(4)
    ]
    pending, running, failed, cancelled = job_ids
    workflow_transition(workflow_id=running, to_status=WorkflowStatus.RUNNING)
    workflow_transition(workflow_id=failed, to_status=WorkflowStatus.FAILED)
    workflow_transition(workflow_id=cancelled, to_status=WorkflowStatus.CANCELLED)

    statuses = {job_id: _ok(_get(client, key, f"/status/{job_id}")) for job_id in job_ids}

    assert statuses[pending] == {
        "jobId": pending,
        "status": "PENDING",
        "progress": 0,
        "processedLeads": 0,
        "totalLeads": 1,
        "foundEmails": 0,
    }
    assert statuses[running]["status"] == "PROCESSING"
    assert statuses[failed]["status"] == "FAILED"
    assert statuses[cancelled]["status"] == "FAILED"
    assert statuses[failed]["progress"] == statuses[cancelled]["progress"] == 100

    # the jobs list holds the two runs still going, newest first
    jobs = _ok(_get(client, key, "/jobs"))
    assert jobs == [
        {"jobId": running, "progress": 0, "leadCount": 1, "type": "enrichment"},
        {"jobId": pending, "progress": 0, "leadCount": 1, "type": "enrichment"},
    ]

    # another workspace sees none of it
    their_key = ApiKeyFactory(workspace=other_workspace, scopes=list(scopes.ALL_SCOPES))
    _error(_get(client, their_key, f"/status/{pending}"), 404, "NOT_FOUND")
    _error(_get(client, key, "/status/bulk-enrich-unknown"), 404, "NOT_FOUND")
    assert _ok(_get(client, their_key, "/jobs")) == []


@pytest.mark.django_db
def test_localleads_lead_renders_emails_confidence_source_and_enriched_at(
    client, workspace, other_workspace, key
):
    enriched_at = datetime(2026, 5, 5, 11, 23, tzinfo=UTC)
    found = LeadFactory(
        workspace=workspace,
        email="jo@example.com",
        email_confidence=94,
        provider="sandbox",
        enriched_at=enriched_at,
    )
    imported = LeadFactory(workspace=workspace, email="im@example.com")
    bare = LeadFactory(workspace=workspace)
    theirs = LeadFactory(workspace=other_workspace, email="t@example.com")

    assert _ok(_get(client, key, f"/lead/{found.pk}")) == {
        "leadId": str(found.pk),
        "emails": [{"email": "jo@example.com", "confidence": 0.94, "source": "sandbox"}],
        "enrichedAt": "2026-05-05T11:23:00Z",
    }
    assert _ok(_get(client, key, f"/lead/{imported.pk}"))["emails"] == [
        {"email": "im@example.com", "confidence": None, "source": None}
    ]
    assert _ok(_get(client, key, f"/lead/{bare.pk}")) == {
        "leadId": str(bare.pk),
        "emails": [],
        "enrichedAt": None,
    }
    _error(_get(client, key, f"/lead/{theirs.pk}"), 404, "NOT_FOUND")
    _error(_get(client, key, "/lead/cm9lead001"), 404, "NOT_FOUND")


# --- authentication, scopes, schema -------------------------------------------------------------


@pytest.mark.django_db
def test_localleads_needs_a_key_and_the_operations_scope(client, workspace):
    lead = LeadFactory(workspace=workspace)
    for method, path in [
        ("post", "/preview"),
        ("post", "/start"),
        ("get", "/status/x"),
        ("get", f"/lead/{lead.pk}"),
        ("get", "/jobs"),
    ]:
        response = getattr(client, method)(f"{BASE}{path}", content_type="application/json")
        _error(response, 401, "UNAUTHORIZED")
        assert response["WWW-Authenticate"]
    reader = ApiKeyFactory(workspace=workspace, scopes=[scopes.ENRICH_READ])
    body = {"leadIds": [str(lead.pk)]}
    _error(_post(client, reader, "/start", body), 403, "INSUFFICIENT_SCOPE")
    _error(_post(client, reader, "/preview", body), 403, "INSUFFICIENT_SCOPE")
    assert _ok(_get(client, reader, "/jobs")) == []
    writer = ApiKeyFactory(workspace=workspace, scopes=[scopes.ENRICH_WRITE])
    _error(_get(client, writer, "/jobs"), 403, "INSUFFICIENT_SCOPE")


@pytest.mark.django_db
def test_localleads_schema_is_public_and_types_every_operation(client):
    spec = client.get(f"{BASE}/schema", {"format": "json"}).json()

    assert set(spec["paths"]) == {
        f"{BASE}/preview",
        f"{BASE}/start",
        f"{BASE}/status/{{job_id}}",
        f"{BASE}/lead/{{lead_id}}",
        f"{BASE}/jobs",
    }
    components = spec["components"]["schemas"]
    assert set(components["LocalLeadsStatusData"]["properties"]) == {
        "jobId",
        "status",
        "progress",
        "processedLeads",
        "totalLeads",
        "foundEmails",
    }
    assert components["LocalLeadsStartOutput"]["properties"]["data"] == {
        "$ref": "#/components/schemas/LocalLeadsStartData"
    }
    error = spec["paths"][f"{BASE}/start"]["post"]["responses"]["402"]
    assert error["content"]["application/json"]["schema"]["$ref"].endswith("/LocalLeadsError")
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert "Scope:" in operation["description"], (path, method)
            assert {"401", "403", "429", "500"} <= set(operation["responses"]), (path, method)
            body = operation["responses"]["200"]["content"]["application/json"]["schema"]
            assert _untyped_objects(body, components, f"{method} {path}", set()) == []


# --- with a worker ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_localleads_run_completes_settles_and_reads_through_cleanlist(client, api, funded, worker):
    # given a search of twelve leads, two of which already have an email
    key = api.api_key
    # (fixed people: the sandbox's answers follow from who they are, and a factory's counters
    # depend on which tests ran before in the process)
    people = [
        LeadFactory(
            workspace=funded, first_name="Ada", last_name=f"Byron{i}", company_name=f"Firm {i}",
            domain=f"firm-{i}.example.com", linkedin_url=f"https://www.linkedin.com/in/ll-run-{i}",
        )
        for i in range(10)
    ]  # fmt: skip
    leads = [*people, *_leads(funded, 2, email="had@example.com")]
    query_id = _query(funded, leads)
    before = balance_get(workspace=funded)

    # when started with a cap of 6 credits and polled until done
    started = _ok(_post(client, key, "/start", {"queryId": query_id, "maxCredits": 6}))
    assert (started["leadsQueued"], started["creditsReserved"]) == (10, 6)
    workflow = wait_terminal(started["jobId"])
    status = _ok(_get(client, key, f"/status/{started['jobId']}"))

    # then it completed within its cap and settled exactly
    assert_settled(workflow)
    assert status == {
        "jobId": workflow.pk,
        "status": "COMPLETED",
        "progress": 100,
        "processedLeads": 10,
        "totalLeads": 10,
        "foundEmails": workflow.found_emails,
    }
    assert 0 < workflow.credits_charged <= 6
    after = balance_get(workspace=funded)
    assert after.balance == before.balance - workflow.credits_charged
    assert after.held == 0
    assert_ledger_consistent(funded)
    assert _ok(_get(client, key, "/jobs")) == []

    # a lead it found an email for reads back with a 0-1 confidence and its provider
    item = workflow.items.exclude(email="").select_related("lead").first()
    emails = _ok(_get(client, key, f"/lead/{item.lead_id}"))["emails"]
    assert emails == [
        {
            "email": item.lead.email,
            "confidence": item.lead.email_confidence / 100,
            "source": item.lead.provider,
        }
    ]

    # and the same run reads through the Cleanlist status endpoint
    cleanlist = api.get(f"/api/v2/enrichment/status/{workflow.pk}").json()
    assert cleanlist["status"] == "completed"
    assert (cleanlist["total"], cleanlist["found_emails"]) == (10, workflow.found_emails)
    assert cleanlist["credits_charged"] == workflow.credits_charged


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_localleads_status_reads_a_run_started_through_cleanlist(client, api, funded, worker):
    leads = _leads(funded, 4)
    query_id = _query(funded, leads)
    response = api.post(
        "/api/v2/enrichment/by-task",
        {"task_id": query_id, "data_points": ["Email"]},
        format="json",
    )
    assert response.status_code == 202
    workflow = wait_terminal(response.json()["workflow_id"])

    status = _ok(_get(client, api.api_key, f"/status/{workflow.pk}"))

    assert_settled(workflow)
    assert status == {
        "jobId": workflow.pk,
        "status": "COMPLETED",
        "progress": 100,
        "processedLeads": 4,
        "totalLeads": 4,
        "foundEmails": workflow.found_emails,
    }


@pytest.mark.django_db
def test_localleads_rate_limit_answers_429_in_its_envelope(client, workspace, key, monkeypatch):
    # given a key allowed two requests a minute
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_key": "2/min", "workspace": "60/min"}
    monkeypatch.setattr("rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES", rates)

    responses = [_get(client, key, "/jobs") for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 429]
    _error(responses[2], 429, "RATE_LIMITED")
    assert int(responses[2]["Retry-After"]) >= 1
