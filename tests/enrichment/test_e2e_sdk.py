"""End to end through the official SDK: a live server, a real worker, PostgreSQL and Redis."""

import pytest
import requests
from cleanlist_ai import Cleanlist
from cleanlist_ai.exceptions import NotFoundException
from cleanlist_ai.models import (
    EnrichByTaskRequest,
    EnrichCompanyRequest,
    EnrichListRequest,
    EnrichPersonRequest,
    EstimateCostRequest,
)

from credits.selectors import balance_get
from enrichment.models import Workflow
from leads.models import Company, Lead
from leads.services import cohort_create
from providers.adapters.sandbox import SandboxProvider
from providers.base import CompanyInput, OutcomeKind, PersonInput
from tests.enrichment.conftest import (
    SANDBOX_INSTANCES,
    assert_ledger_consistent,
    assert_settled,
    wait_terminal,
)
from tests.factories import ApiKeyFactory
from tests.leads.factories import CompanyFactory, LeadFactory, LeadListFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

SANDBOX = SandboxProvider(name="sandbox", config=SANDBOX_INSTANCES["sandbox"])


@pytest.fixture
def sdk(live_server, funded, worker):
    api_key = ApiKeyFactory(workspace=funded)
    with Cleanlist(access_token=api_key.raw_key, host=live_server.url) as client:
        yield client


def _person(slug: str) -> PersonInput:
    return PersonInput(
        first_name="Ada", last_name=slug.title(), domain="example.com",
        linkedin_url=f"https://www.linkedin.com/in/{slug}",
    )  # fmt: skip


def _slug_where(email_found: bool, phone_found: bool | None = None) -> str:
    """A LinkedIn slug the sandbox answers as asked (it is deterministic by identity)."""
    for n in range(500):
        slug = f"ada-{n}"
        person = _person(slug)
        email = SANDBOX.find_email(person).kind == OutcomeKind.FOUND
        if email and SANDBOX.verify_email(SANDBOX.find_email(person).value).verdict == "invalid":
            continue
        phone = SANDBOX.find_phone(person).kind == OutcomeKind.FOUND
        if email == email_found and (phone_found is None or phone == phone_found):
            return slug
    raise AssertionError("no such person in 500 tries")


def test_sdk_person_full_found(sdk, funded):
    lead_list = LeadListFactory(workspace=funded)
    slug = _slug_where(email_found=True, phone_found=True)
    before = balance_get(workspace=funded)

    started = sdk.enrichment.enrich_person(
        EnrichPersonRequest(
            lead_list_id=str(lead_list.pk), linkedin_url=f"linkedin.com/in/{slug}/",
            first_name="Ada", last_name=slug.title(), domain="example.com",
            enrichment_type="full",
        )
    )  # fmt: skip
    assert started.workflow_id.startswith("enrich-")
    assert started.credits_reserved == 11
    assert started.poll_url.endswith(f"/api/v2/enrichment/status/{started.workflow_id}")
    wait_terminal(started.workflow_id)

    status = sdk.enrichment.enrichment_status(started.workflow_id)
    assert status.status == "completed"
    assert (status.credits_charged, status.credits_refunded) == (11, 0)
    assert status.result.email
    assert status.result.phone.startswith("+")
    assert status.result.linkedin_url == f"https://www.linkedin.com/in/{slug}"
    assert balance_get(workspace=funded).balance == before.balance - 11
    lead = Lead.objects.get(workspace=funded, linkedin_url=status.result.linkedin_url)
    assert (lead.email, lead.phone) == (status.result.email, status.result.phone)
    assert lead_list.memberships.filter(lead=lead).exists()
    assert_settled(Workflow.objects.get(pk=started.workflow_id))


def test_sdk_person_not_found_is_refunded(sdk, funded):
    lead_list = LeadListFactory(workspace=funded)
    slug = _slug_where(email_found=False)
    started = sdk.enrichment.enrich_person(
        EnrichPersonRequest(
            lead_list_id=str(lead_list.pk), linkedin_url=f"https://linkedin.com/in/{slug}",
            first_name="Ada", last_name=slug.title(), domain="example.com",
        )
    )  # fmt: skip
    assert started.credits_reserved == 1
    wait_terminal(started.workflow_id)
    status = sdk.enrichment.enrichment_status(started.workflow_id)
    assert (status.status, status.credits_charged, status.credits_refunded) == ("completed", 0, 1)
    assert status.result.email is None
    assert balance_get(workspace=funded).held == 0


def test_sdk_person_phone_only_charges_the_phone(sdk, funded):
    lead_list = LeadListFactory(workspace=funded)
    slug = _slug_where(email_found=False, phone_found=True)
    started = sdk.enrichment.enrich_person(
        EnrichPersonRequest(
            lead_list_id=str(lead_list.pk), linkedin_url=f"https://linkedin.com/in/{slug}",
            first_name="Ada", last_name=slug.title(), domain="example.com", include_phone=True,
        )
    )  # fmt: skip
    assert started.credits_reserved == 10
    wait_terminal(started.workflow_id)
    status = sdk.enrichment.enrichment_status(started.workflow_id)
    assert (status.credits_charged, status.credits_refunded) == (10, 0)
    assert status.result.phone
    assert not status.result.email


def test_sdk_company_found_and_not_found(sdk, funded):
    names = [f"company{n}.example.com" for n in range(200)]
    hits = [d for d in names if SANDBOX.enrich_company(CompanyInput(domain=d)).kind == "found"]
    misses = [d for d in names if d not in hits]
    before = balance_get(workspace=funded).balance

    found = sdk.enrichment.enrich_company(EnrichCompanyRequest(domain=f"https://www.{hits[0]}/"))
    assert found.credits_charged == 1
    assert found.company.domain == hits[0]
    assert Company.objects.filter(workspace=funded, domain=hits[0]).exists()
    with pytest.raises(NotFoundException):
        sdk.enrichment.enrich_company(EnrichCompanyRequest(domain=misses[0]))
    assert balance_get(workspace=funded).balance == before - 1
    assert balance_get(workspace=funded).held == 0


def test_sdk_by_task_person_and_company_cohorts(sdk, funded):
    leads = LeadFactory.create_batch(5, workspace=funded)
    cohort = cohort_create(
        workspace=funded, entity_kind="person", entity_ids=[str(x.pk) for x in leads],
        source="search_people",
    )  # fmt: skip
    subset = [str(leads[0].pk), str(leads[1].pk), str(leads[2].pk)]
    started = sdk.enrichment.enrich_by_task(
        EnrichByTaskRequest(task_id=cohort.pk, data_points=["Email"], entity_ids=subset)
    )
    assert (started.entity_kind, started.total_entities, started.credits_reserved) == (
        "person", 3, 3,
    )  # fmt: skip
    assert {r.entity_id for r in started.results} == set(subset)
    assert {r.status for r in started.results} == {"queued"}
    workflow = wait_terminal(started.workflow_id)
    assert_settled(workflow)
    assert workflow.lead_list.name == "MCP Results"
    # status also answers to the cohort handle
    assert sdk.enrichment.enrichment_status(cohort.pk).workflow_id == started.workflow_id

    companies = CompanyFactory.create_batch(3, workspace=funded)
    company_cohort = cohort_create(
        workspace=funded, entity_kind="company", entity_ids=[str(c.pk) for c in companies],
        source="search_companies",
    )  # fmt: skip
    inline = sdk.enrichment.enrich_by_task(
        EnrichByTaskRequest(task_id=company_cohort.pk, data_points=["Industry"])
    )
    assert (inline.entity_kind, inline.workflow_id, inline.status) == (
        "company", None, "completed",
    )  # fmt: skip
    assert len(inline.results) == 3
    assert all((r.company is not None) == (r.status == "enriched") for r in inline.results)


def test_sdk_bulk_1000_leads_at_60_percent(sdk, funded, live_server):
    lead_list = LeadListFactory(workspace=funded, lead_count=1000)
    before = balance_get(workspace=funded)
    quote = sdk.workspace.credits_estimate(
        EstimateCostRequest(tool="enrich_list", list_id=str(lead_list.pk), scope="partial")
    )
    assert (quote.row_count, quote.estimated_cost, quote.sufficient) == (1000, 1000, True)

    started = sdk.enrichment.enrich_list(
        EnrichListRequest(list_id=str(lead_list.pk), scope="partial", quote_id=quote.quote_id)
    )
    assert (started.total_leads, started.credits_reserved) == (1000, 1000)
    workflow = wait_terminal(started.workflow_id, timeout=120)

    status = sdk.enrichment.enrichment_status(started.workflow_id)
    assert status.status == "completed"
    reserved = status.additional_properties["credits_reserved"]  # ours, beyond the SDK model
    assert status.credits_charged + status.credits_refunded == reserved == 1000
    assert 450 <= status.credits_charged <= 700  # ~60 % found, less the verifier's invalids
    assert status.credits_charged == workflow.found_emails
    assert balance_get(workspace=funded).balance == before.balance - status.credits_charged
    assert_settled(workflow)
    assert_ledger_consistent(funded)
    with_email = Lead.objects.filter(lead_lists=lead_list).exclude(email=None).count()
    assert with_email == status.credits_charged

    items = requests.get(
        f"{live_server.url}/api/v2/enrichment/{started.workflow_id}/items",
        params={"status": "completed", "limit": 5},
        headers={"Authorization": f"Bearer {sdk.configuration.access_token}"},
        timeout=10,
    ).json()
    assert len(items["items"]) == 5
    assert all(item["email"] and item["attempts"] for item in items["items"])
