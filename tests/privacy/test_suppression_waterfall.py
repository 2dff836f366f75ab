"""The waterfall checks the suppression list before the cache and before any provider: a
suppressed person is never sent to a provider (asserted on Hunter's stubbed HTTP), never
charged, never cached; a found email that turns out suppressed is withheld."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from enrichment import waterfall
from enrichment.models import ItemStatus, WorkflowItem
from leads import suppression
from leads.models import Lead
from providers.base import DataPoint
from providers.models import ProviderCall, ResultCacheEntry
from tests.enrichment.factories import list_quote, list_with_leads
from tests.helpers import recorded
from tests.leads.factories import LeadFactory
from tests.privacy.conftest import assert_ledger_consistent, assert_settled, wait_terminal

HUNTER_FINDER = "https://api.hunter.io/v2/email-finder"
EMAIL_ONLY = waterfall.LeadPlan(frozenset({DataPoint.EMAIL}))


@pytest.fixture
def hunter_only(settings, redis_client):
    settings.SLUICE_WATERFALL_EMAIL = ["hunter"]
    settings.SLUICE_VERIFIER = ""
    settings.SLUICE_PROVIDER_KEYS = {"hunter": "test-hunter-key"}
    settings.SLUICE_PROVIDER_MAX_RETRIES = 0
    return settings


def _hunter_answers(address_for):
    """Hunter's finder, answering for the name it is sent."""

    def reply(request):
        query = parse_qs(urlsplit(request.url).query)
        email = address_for(query["first_name"][0], query["domain"][0])
        body = {"data": {"email": email, "score": 91, "verification": {"status": "valid"}}}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    responses.add_callback("GET", HUNTER_FINDER, callback=reply)


def _person(workspace, first, domain):
    return LeadFactory(
        workspace=workspace, first_name=first, last_name="Doe", linkedin_url=None, domain=domain
    )


def _items(*leads):
    return [(WorkflowItem(lead=lead, chunk_no=0), EMAIL_ONLY) for lead in leads]


@pytest.mark.django_db
@responses.activate
@pytest.mark.parametrize("by", ["person", "domain"])
def test_suppressed_person_never_reaches_hunter_nor_the_cache(hunter_only, workspace, by):
    # given two people, one of them suppressed (by identity, or by their company's domain)
    kept = _person(workspace, "Ada", "analytical.example")
    blocked = _person(workspace, "Grace", "navy.example")
    entry = (
        suppression.Entry(suppression.Kind.PERSON, blocked.identity_key)
        if by == "person"
        else suppression.Entry(suppression.Kind.DOMAIN, "navy.example")
    )
    suppression.suppressions_add(workspace=workspace, entries=[entry])
    _hunter_answers(lambda first, domain: f"{first.lower()}@{domain}")

    # when the waterfall runs for both
    outcomes = waterfall.run(_items(kept, blocked), workspace_id=str(workspace.pk), tag="t")

    # then Hunter was asked about Ada only
    sent = [parse_qs(urlsplit(call.request.url).query) for call in responses.calls]
    assert [(q["first_name"], q["domain"]) for q in sent] == [(["Ada"], ["analytical.example"])]
    by_lead = {outcome.item.lead_id: outcome for outcome in outcomes}
    assert by_lead[kept.pk].email == "ada@analytical.example"
    assert by_lead[blocked.pk].suppressed
    assert by_lead[blocked.pk].result is None
    # and nothing about Grace was cached or recorded
    assert ResultCacheEntry.objects.count() == 1
    assert recorded(ProviderCall.objects.all()) == 1
    item = by_lead[blocked.pk].item
    by_lead[blocked.pk].apply_to_item(now=item.claimed_at)
    assert (item.status, item.error, item.credits_charged, item.attempts) == (
        ItemStatus.SKIPPED,
        waterfall.SUPPRESSED,
        0,
        [],
    )


@pytest.mark.django_db
@responses.activate
def test_found_email_on_the_list_is_withheld_and_marks_the_lead(hunter_only, workspace):
    # given a person known only by name, whose address is on the list
    lead = _person(workspace, "Grace", "navy.example")
    suppression.suppressions_add(
        workspace=workspace,
        entries=[suppression.Entry(suppression.Kind.EMAIL, "grace@navy.example")],
    )
    _hunter_answers(lambda first, domain: f"{first.lower()}@{domain}")

    [outcome] = waterfall.run(_items(lead), workspace_id=str(workspace.pk), tag="t")

    # then the answer is dropped everywhere the run keeps it, and the lead is suppressed
    assert outcome.suppressed
    assert outcome.email is None
    assert all(attempt.value is None for attempt in outcome.result.attempts)
    assert outcome.apply_to_lead(workflow=None, now=lead.created_at)
    assert lead.email is None
    assert lead.suppressed_at is not None


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_bulk_run_on_a_real_worker_skips_and_never_charges_suppressed_people(api, funded, worker):
    # given a list of five, two of them suppressed (one by LinkedIn, one as a lead)
    lead_list = list_with_leads(funded, 5)
    leads = list(Lead.objects.filter(workspace=funded).order_by("id"))
    blocked = leads[:2]
    api.post(
        "/api/v2/suppressions",
        {"entries": [{"kind": "linkedin_url", "value": blocked[0].linkedin_url}],
         "lead_ids": [str(blocked[1].pk)]},
        format="json",
    )  # fmt: skip

    started = api.post(
        "/api/v2/enrichment/bulk",
        {"list_id": str(lead_list.pk), "quote_id": list_quote(funded, lead_list)},
        format="json",
    )
    assert started.status_code == 202, started.content
    workflow = wait_terminal(started.json()["workflow_id"])

    assert_settled(workflow)
    assert_ledger_consistent(funded)
    items = {item.lead_id: item for item in WorkflowItem.objects.filter(workflow=workflow)}
    for lead in blocked:
        item = items[lead.pk]
        assert (item.status, item.error) == (ItemStatus.SKIPPED, waterfall.SUPPRESSED)
        assert (item.credits_charged, item.attempts, item.email, item.phone) == (0, [], "", "")
    # every provider call of the run belongs to the three others
    calls = recorded(ProviderCall.objects.filter(tag=workflow.pk, cached=False))
    others = sum(
        1
        for lead_id, item in items.items()
        if lead_id not in {b.pk for b in blocked}
        for attempt in item.attempts
        if not attempt["cached"] and attempt["outcome"] != "skipped"
    )
    assert calls == others
    assert workflow.credits_charged == sum(item.credits_charged for item in items.values())
    assert workflow.skipped == 2
