import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.scopes import ALL_SCOPES, COMPANIES_READ, PEOPLE_READ
from leads.models import Cohort, ListMembership
from tests.helpers import assert_error
from tests.leads.factories import CompanyFactory, LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db

PEOPLE = "/api/v2/search/people"
COMPANIES = "/api/v2/search/companies"


@pytest.fixture
def people(workspace, other_workspace):
    acme = CompanyFactory(workspace=workspace, name="Acme Corp", domain="acme.com")
    ada = LeadFactory(
        workspace=workspace,
        first_name="Ada",
        last_name="Lovelace",
        title="VP Engineering",
        company_name="Acme Corp",
        company=acme,
        domain="acme.com",
        industry="Software",
        location="London, UK",
        email="ada@acme.com",
    )
    alan = LeadFactory(
        workspace=workspace,
        first_name="Alan",
        last_name="Turing",
        title="Head of Research",
        company_name="Bletchley",
        domain="bletchley.org",
        industry="Government",
        location="Manchester, UK",
        phone="+441610000000",
    )
    grace = LeadFactory(
        workspace=workspace,
        first_name="Grace",
        last_name="Hopper",
        title="Engineering Manager",
        company_name="Navy",
        domain="navy.mil",
        location="Arlington, US",
    )
    # Another workspace's twin must never show up.
    LeadFactory(workspace=other_workspace, first_name="Ada", last_name="Lovelace")
    return {"ada": ada, "alan": alan, "grace": grace}


def _names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["first_name"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, {"Ada", "Alan", "Grace"}),
        ({"name": "love"}, {"Ada"}),
        ({"name": "ada lovelace"}, {"Ada"}),
        ({"title": "engineering"}, {"Ada", "Grace"}),
        ({"company": "acme"}, {"Ada"}),
        ({"domain": "https://www.ACME.com/about"}, {"Ada"}),
        ({"domain": "bletch"}, {"Alan"}),
        ({"industry": "soft"}, {"Ada"}),
        ({"location": ", uk"}, {"Ada", "Alan"}),
        ({"has_email": True}, {"Ada"}),
        ({"has_email": False}, {"Alan", "Grace"}),
        ({"has_phone": True}, {"Alan"}),
        ({"location": "uk", "has_phone": False}, {"Ada"}),
        ({"name": "", "title": None}, {"Ada", "Alan", "Grace"}),
    ],
)
def test_search_people_filters(api, people, filters, expected):
    assert _names(api.post(PEOPLE, filters, format="json")) == expected


def test_search_people_by_list(api, workspace, other_workspace, people):
    lead_list = LeadListFactory(workspace=workspace)
    ListMembership.objects.create(lead_list=lead_list, lead=people["alan"])
    body = {"list_id": str(lead_list.id)}
    assert _names(api.post(PEOPLE, body, format="json")) == {"Alan"}
    foreign = LeadListFactory(workspace=other_workspace)
    response = api.post(PEOPLE, {"list_id": str(foreign.id)}, format="json")
    assert_error(response, 404, "not_found")


def test_search_people_pages_with_a_cursor_bound_to_the_filters(api, workspace):
    LeadFactory.create_batch(5, workspace=workspace, title="CTO")
    first = api.post(PEOPLE, {"title": "cto", "limit": 2}, format="json").json()
    seen = [row["lead_id"] for row in first["results"]]
    cursor = first["cursor"]
    while cursor:
        page = api.post(PEOPLE, {"title": "cto", "limit": 2, "cursor": cursor}, format="json")
        seen += [row["lead_id"] for row in page.json()["results"]]
        cursor = page.json()["cursor"]
    assert len(seen) == len(set(seen)) == 5
    assert first["total"] == 5
    other_filters = {"title": "ceo", "limit": 2, "cursor": first["cursor"]}
    assert_error(api.post(PEOPLE, other_filters, format="json"), 400, "validation_error")


def test_search_people_validation(api):
    for body in ({"limit": 0}, {"limit": 501}, {"has_email": "maybe"}, {"titel": "typo"}):
        assert_error(api.post(PEOPLE, body, format="json"), 400, "validation_error")


def test_search_people_task_id_round_trips_into_add_to_list(api, workspace, people):
    # given a search
    found = api.post(PEOPLE, {"location": "uk"}, format="json").json()
    cohort = Cohort.objects.get(id=found["task_id"])
    assert (cohort.entity_kind, cohort.source) == ("person", "search_people")
    assert sorted(cohort.entity_ids) == sorted(row["lead_id"] for row in found["results"])
    # when its task_id is added to a list
    lead_list = LeadListFactory(workspace=workspace)
    added = api.post(
        f"/api/v2/lead-lists/{lead_list.id}/leads", {"task_id": found["task_id"]}, format="json"
    ).json()
    # then exactly the search's people are in the list
    assert added["added"] == 2
    assert set(lead_list.leads.values_list("first_name", flat=True)) == {"Ada", "Alan"}


def test_search_people_runs_a_fixed_number_of_queries(api, workspace):
    companies = CompanyFactory.create_batch(3, workspace=workspace)
    for company in companies:
        LeadFactory.create_batch(5, workspace=workspace, company=company, company_name="")
    api.post(PEOPLE, {"limit": 1}, format="json")  # warm up: the key's first use is recorded
    with CaptureQueriesContext(connection) as small:
        api.post(PEOPLE, {"limit": 2}, format="json")
    with CaptureQueriesContext(connection) as large:
        response = api.post(PEOPLE, {"limit": 15}, format="json")
    assert len(large) == len(small)
    assert {row["company"] for row in response.json()["results"]} == {c.name for c in companies}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, {"Acme Corp", "Globex", "Initech"}),
        ({"name": "glob"}, {"Globex"}),
        ({"domain": "initech.io"}, {"Initech"}),
        ({"domain": "jane@GLOBEX.com"}, {"Globex"}),
        ({"industry": "fin"}, {"Initech"}),
        ({"location": "berlin"}, {"Acme Corp"}),
    ],
)
def test_search_companies_filters(api, workspace, other_workspace, filters, expected):
    CompanyFactory(workspace=workspace, name="Acme Corp", domain="acme.com", hq_location="Berlin")
    CompanyFactory(workspace=workspace, name="Globex", domain="globex.com", industry="Energy")
    CompanyFactory(workspace=workspace, name="Initech", domain="initech.io", industry="Fintech")
    CompanyFactory(workspace=other_workspace, name="Globex", domain="globex.com")
    response = api.post(COMPANIES, filters, format="json")
    assert response.status_code == 200, response.content
    assert {row["name"] for row in response.json()["results"]} == expected


def test_search_companies_returns_company_records_and_a_company_cohort(api, workspace):
    company = CompanyFactory(workspace=workspace, name="Acme", domain="acme.com")
    body = api.post(COMPANIES, {"name": "acme"}, format="json").json()
    assert body["total"] == 1
    assert body["results"][0]["company_id"] == str(company.id)
    assert body["results"][0]["domain"] == "acme.com"
    cohort = Cohort.objects.get(id=body["task_id"])
    assert (cohort.entity_kind, cohort.entity_ids) == ("company", [str(company.id)])
    # company filters only: a person filter is reported, not silently ignored
    assert_error(api.post(COMPANIES, {"title": "cto"}, format="json"), 400, "validation_error")


def test_search_scopes(make_client, workspace):
    no_people = make_client(workspace, scopes=[s for s in ALL_SCOPES if s != PEOPLE_READ])
    no_companies = make_client(workspace, scopes=[s for s in ALL_SCOPES if s != COMPANIES_READ])
    assert_error(no_people.post(PEOPLE, {}, format="json"), 403, "insufficient_scope")
    assert no_people.post(COMPANIES, {}, format="json").status_code == 200
    assert_error(no_companies.post(COMPANIES, {}, format="json"), 403, "insufficient_scope")
    assert no_companies.post(PEOPLE, {}, format="json").status_code == 200
