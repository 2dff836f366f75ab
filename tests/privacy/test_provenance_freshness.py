"""Provenance (who found each field, when, in which run, who verified it) and freshness
(time to live per field: refresh_stale re-looks-up exactly the stale fields, the cache never
answers older than the field's TTL, search finds stale data)."""

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from enrichment import waterfall
from enrichment.models import ItemStatus, Workflow, WorkflowItem
from leads.models import Lead
from providers.base import DataPoint
from providers.engine import cache_key
from providers.models import ResultCacheEntry
from providers.selectors import cache_lookup
from tests.enrichment.factories import list_quote, list_with_leads
from tests.leads.factories import LeadFactory
from tests.privacy.conftest import assert_settled, wait_terminal
from tests.privacy.test_suppression_waterfall import (
    _hunter_answers,
    _items,
    _person,
    hunter_only,  # noqa: F401 - a fixture
)

DAY = timedelta(days=1)


@pytest.mark.django_db
@responses.activate
def test_provenance_names_the_provider_that_answered(hunter_only, api, workspace):  # noqa: F811
    lead = _person(workspace, "Ada", "analytical.example")
    _hunter_answers(lambda first, domain: f"{first.lower()}@{domain}")
    workflow = Workflow(pk="bulk-enrich-provenance", workspace=workspace)
    now = timezone.now()

    [outcome] = waterfall.run(_items(lead), workspace_id=str(workspace.pk), tag=workflow.pk)
    outcome.apply_to_item(now)
    assert outcome.apply_to_lead(workflow, now)
    lead.save()

    body = api.get(f"/api/v2/leads/{lead.pk}/provenance").json()
    email = next(p for p in body["data_points"] if p["field"] == "email")
    assert (email["source"], email["workflow_id"], email["verdict"]) == (
        "hunter",
        workflow.pk,
        "valid",
    )
    assert email["found_at"] is not None
    assert email["stale"] is False
    phone = next(p for p in body["data_points"] if p["field"] == "phone")
    assert (phone["has_value"], phone["source"]) == (False, "")


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_provenance_after_a_run_on_a_real_worker_and_in_exports(api, funded, worker):
    lead_list = list_with_leads(funded, 6, emails_found=True)
    started = api.post(
        "/api/v2/enrichment/bulk",
        {"list_id": str(lead_list.pk), "quote_id": list_quote(funded, lead_list)},
        format="json",
    ).json()
    workflow = wait_terminal(started["workflow_id"])
    assert_settled(workflow)

    completed = WorkflowItem.objects.filter(workflow=workflow, status=ItemStatus.COMPLETED)
    assert completed.exists()
    columns = "lead_id,email,email_source,email_found_at,email_workflow_id,email_verifier"
    rows = api.get("/api/v2/export/json", {"list_id": str(lead_list.pk), "columns": columns})
    exported = {row["lead_id"]: row for row in rows.json()["leads"]}
    for item in completed:
        verified_by = [a["provider"] for a in item.attempts
                       if a["data_point"] == "email_verification" and a["verdict"]]  # fmt: skip
        body = api.get(f"/api/v2/leads/{item.lead_id}/provenance").json()
        email = next(p for p in body["data_points"] if p["field"] == "email")
        assert (email["source"], email["workflow_id"]) == (item.provider, workflow.pk)
        assert email["verifier"] == (verified_by[-1] if verified_by else "")
        row = exported[str(item.lead_id)]
        assert (row["email_source"], row["email_workflow_id"]) == (item.provider, workflow.pk)
        assert row["email_found_at"] is not None


@pytest.mark.django_db
def test_refresh_stale_plans_exactly_the_stale_fields(workspace, settings):
    settings.SLUICE_TTL_EMAIL_DAYS, settings.SLUICE_TTL_PHONE_DAYS = 90, 180
    now = timezone.now()
    workflow = Workflow(
        workspace=workspace, enrichment_type="full", output=Workflow.Output.REFRESH_STALE
    )
    stale_email = LeadFactory(
        workspace=workspace, email="a@x.example", phone="+14155550100",
        email_found_at=now - 100 * DAY, phone_found_at=now - 100 * DAY,
    )  # fmt: skip
    stale_phone = LeadFactory(
        workspace=workspace, email="b@x.example", phone="+14155550101",
        email_found_at=now - 10 * DAY, phone_found_at=now - 200 * DAY,
    )  # fmt: skip
    imported = LeadFactory(workspace=workspace, email="c@x.example", phone="+14155550102")
    missing_phone = LeadFactory(workspace=workspace, email="d@x.example",
                                email_found_at=now - 10 * DAY)  # fmt: skip

    plans = {lead.pk: waterfall.plan_for(workflow, lead).wanted
             for lead in (stale_email, stale_phone, imported, missing_phone)}  # fmt: skip

    assert plans == {
        stale_email.pk: {DataPoint.EMAIL},
        stale_phone.pk: {DataPoint.PHONE},
        imported.pk: set(),  # the user's own values have no age to expire
        missing_phone.pk: {DataPoint.PHONE},
    }
    skip_existing = Workflow(workspace=workspace, enrichment_type="full")
    assert waterfall.plan_for(skip_existing, stale_email).wanted == frozenset()


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_refresh_stale_run_is_quoted_and_looks_up_only_stale_or_missing(api, funded, worker):
    lead_list = list_with_leads(funded, 3)
    stale, fresh, empty = Lead.objects.filter(workspace=funded).order_by("id")
    now = timezone.now()
    Lead.objects.filter(pk=stale.pk).update(email="old@x.example", email_found_at=now - 100 * DAY)
    Lead.objects.filter(pk=fresh.pk).update(email="new@x.example", email_found_at=now - 10 * DAY)

    estimate = api.post(
        "/api/v2/credits/estimate",
        {"tool": "enrich_list", "list_id": str(lead_list.pk),
         "extra": {"output": "refresh_stale"}},
        format="json",
    )  # fmt: skip
    assert estimate.status_code == 200, estimate.content
    assert estimate.json()["already_enriched"] == 1
    started = api.post(
        "/api/v2/enrichment/bulk",
        {"list_id": str(lead_list.pk), "output": "refresh_stale",
         "quote_id": list_quote(funded, lead_list, output="refresh_stale")},
        format="json",
    )  # fmt: skip
    assert started.status_code == 202, started.content
    workflow = wait_terminal(started.json()["workflow_id"])

    assert_settled(workflow)
    looked_up = set(WorkflowItem.objects.filter(workflow=workflow).values_list("lead", flat=True))
    assert looked_up == {stale.pk, empty.pk}
    fresh.refresh_from_db()
    assert fresh.email == "new@x.example"
    assert fresh.email_found_at < now - 9 * DAY  # untouched


@pytest.mark.django_db
def test_cache_never_answers_older_than_the_fields_ttl(settings):
    settings.SLUICE_TTL_EMAIL_DAYS, settings.SLUICE_TTL_PHONE_DAYS = 90, 180
    now = timezone.now()

    def key(data_point, age_days):
        return cache_key(workspace_id="", identity=f"k-{data_point}-{age_days}")

    def entry(data_point, age_days):
        return ResultCacheEntry.objects.create(
            provider="sandbox", data_point=data_point, identity_key=key(data_point, age_days),
            kind="found", value="v", created_at=now - age_days * DAY, expires_at=now + 400 * DAY,
        )  # fmt: skip

    entries = [entry("email", 100), entry("email", 10), entry("phone", 100), entry("phone", 200)]

    found = cache_lookup(
        identity_keys=[e.identity_key for e in entries],
        providers=["sandbox"],
        data_points=["email", "phone"],
    )

    assert {k[2] for k in found} == {key("email", 10), key("phone", 100)}


@pytest.mark.django_db
def test_search_finds_stale_data(api, workspace):
    now = timezone.now()
    stale = LeadFactory(workspace=workspace, email="s@x.example", email_found_at=now - 100 * DAY)
    LeadFactory(workspace=workspace, email="f@x.example", email_found_at=now - DAY)

    body = api.post("/api/v2/search/people", {"email_stale": True}, format="json").json()

    assert [row["lead_id"] for row in body["results"]] == [str(stale.pk)]
    before = api.post(
        "/api/v2/search/people", {"email_found_before": (now - 50 * DAY).isoformat()}, format="json"
    ).json()
    assert [row["lead_id"] for row in before["results"]] == [str(stale.pk)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_person_refresh_stale_looks_up_only_the_stale_field(api, funded, worker):
    lead_list = list_with_leads(funded, 1)
    lead = Lead.objects.get(workspace=funded)
    now = timezone.now()
    Lead.objects.filter(pk=lead.pk).update(
        email="kept@x.example", email_found_at=now - 10 * DAY,
        phone="+14155550100", phone_found_at=now - 400 * DAY,
    )  # fmt: skip

    started = api.post(
        "/api/v2/enrichment/person",
        {"lead_list_id": str(lead_list.pk), "linkedin_url": lead.linkedin_url,
         "enrichment_type": "full", "output": "refresh_stale"},
        format="json",
    )  # fmt: skip
    assert started.status_code == 202, started.content
    workflow = wait_terminal(started.json()["workflow_id"])

    assert_settled(workflow)
    item = WorkflowItem.objects.get(workflow=workflow)
    assert {attempt["data_point"] for attempt in item.attempts} == {"phone"}
    lead.refresh_from_db()
    assert (lead.email, lead.email_found_at) == ("kept@x.example", now - 10 * DAY)
