"""Contract tests: each adapter's answer to the provider's documented responses (built from the
providers' documentation examples) maps onto the right Outcome."""

import json

import pytest
import requests
import responses
from django.db import transaction

from common.outgoing_http import NetworkInTransaction, OutgoingSession
from providers.adapters.hunter import HunterProvider
from providers.base import CompanyInput, CompanyResult, EmailStatus, OutcomeKind, PersonInput
from providers.http import session
from providers.registry import build_provider
from tests.local_http import LocalServer, Reply, proxy_in_environment

PERSON = PersonInput(
    first_name="Alexis",
    last_name="Ohanian",
    domain="reddit.com",
    company_name="Reddit",
    linkedin_url="https://www.linkedin.com/in/alexisohanian",
)
K = OutcomeKind

HUNTER_FINDER = "https://api.hunter.io/v2/email-finder"
HUNTER_VERIFIER = "https://api.hunter.io/v2/email-verifier"
PROSPEO = "https://api.prospeo.io/enrich-person"
PDL_PERSON = "https://api.peopledatalabs.com/v5/person/enrich"
PDL_COMPANY = "https://api.peopledatalabs.com/v5/company/enrich"
APOLLO = "https://api.apollo.io/api/v1/people/match"
ZEROBOUNCE = "https://api.zerobounce.net/v2/validate"
NEVERBOUNCE = "https://api.neverbounce.com/v4/single/check"
DROPCONTACT = "https://api.dropcontact.com/v1/enrich/all"

HUNTER_FOUND = {
    "data": {
        "first_name": "Alexis",
        "last_name": "Ohanian",
        "email": "alexis@reddit.com",
        "score": 97,
        "domain": "reddit.com",
        "accept_all": False,
        "position": "Cofounder",
        "sources": [],
        "verification": {"date": "2024-01-01", "status": "valid"},
    },
    "meta": {"params": {"first_name": "Alexis", "last_name": "Ohanian", "domain": "reddit.com"}},
}
HUNTER_ERROR = {"errors": [{"id": "x", "code": 0, "details": "x"}]}

# (case, method, url, status, body, headers, expected kind)
CASES = {
    "hunter_email": [
        ("found", "GET", HUNTER_FINDER, 200, HUNTER_FOUND, {}, K.FOUND),
        ("not_found", "GET", HUNTER_FINDER, 200,
         {"data": {"email": None, "score": None, "verification": {"status": None}}}, {},
         K.NOT_FOUND),
        ("invalid_by_finder", "GET", HUNTER_FINDER, 200,
         {"data": {**HUNTER_FOUND["data"], "verification": {"status": "invalid"}}}, {},
         K.NOT_FOUND),
        ("rate_limited_403", "GET", HUNTER_FINDER, 403,
         {"errors": [{"id": "too_many_requests", "code": 403, "details": "rate limit"}]},
         {"Retry-After": "1"}, K.RATE_LIMITED),
        ("still_processing_202", "GET", HUNTER_FINDER, 202, {}, {}, K.RATE_LIMITED),
        ("out_of_credits_429", "GET", HUNTER_FINDER, 429,
         {"errors": [{"id": "too_many_requests", "code": 429, "details": "usage limit"}]}, {},
         K.OUT_OF_CREDITS),
        ("bad_key", "GET", HUNTER_FINDER, 401,
         {"errors": [{"id": "authentication_failed", "code": 401, "details": "No user found"}]},
         {}, K.AUTH_FAILED),
        ("bad_params", "GET", HUNTER_FINDER, 400,
         {"errors": [{"id": "wrong_params", "code": 400, "details": "domain missing"}]}, {},
         K.PERMANENT_ERROR),
        ("5xx", "GET", HUNTER_FINDER, 503, HUNTER_ERROR, {}, K.TRANSIENT_ERROR),
        ("malformed", "GET", HUNTER_FINDER, 200, "<html>oops", {}, K.TRANSIENT_ERROR),
    ],
    "hunter_verify": [
        ("valid", "GET", HUNTER_VERIFIER, 200,
         {"data": {"status": "valid", "result": "deliverable", "score": 100,
                   "email": "alexis@reddit.com"}}, {}, K.FOUND),
        ("smtp_failure_222", "GET", HUNTER_VERIFIER, 222, {"data": {}}, {}, K.UNKNOWN),
        ("rate_limited_403", "GET", HUNTER_VERIFIER, 403, HUNTER_ERROR, {}, K.RATE_LIMITED),
        ("out_of_credits_429", "GET", HUNTER_VERIFIER, 429, HUNTER_ERROR, {}, K.OUT_OF_CREDITS),
        ("bad_key", "GET", HUNTER_VERIFIER, 401, HUNTER_ERROR, {}, K.AUTH_FAILED),
        ("data_protection_451", "GET", HUNTER_VERIFIER, 451, HUNTER_ERROR, {}, K.NOT_FOUND),
        ("5xx", "GET", HUNTER_VERIFIER, 500, HUNTER_ERROR, {}, K.TRANSIENT_ERROR),
        ("malformed", "GET", HUNTER_VERIFIER, 200, "{not json", {}, K.TRANSIENT_ERROR),
    ],
    "prospeo_email": [
        ("found", "POST", PROSPEO, 200,
         {"error": False, "free_enrichment": False,
          "person": {"full_name": "Alexis Ohanian",
                     "email": {"status": "VERIFIED", "revealed": True,
                               "email": "alexis@reddit.com"}}}, {}, K.FOUND),
        ("not_found", "POST", PROSPEO, 400, {"error": True, "error_code": "NO_MATCH"}, {},
         K.NOT_FOUND),
        ("rate_limited", "POST", PROSPEO, 429, {"error": True, "error_code": "RATE_LIMITED"},
         {"Retry-After": "2"}, K.RATE_LIMITED),
        ("out_of_credits", "POST", PROSPEO, 400,
         {"error": True, "error_code": "INSUFFICIENT_CREDITS"}, {}, K.OUT_OF_CREDITS),
        ("bad_key", "POST", PROSPEO, 401, {"error": True, "error_code": "INVALID_API_KEY"}, {},
         K.AUTH_FAILED),
        ("bad_input", "POST", PROSPEO, 400,
         {"error": True, "error_code": "INVALID_DATAPOINTS"}, {}, K.PERMANENT_ERROR),
        ("5xx", "POST", PROSPEO, 502, "<html>bad gateway</html>", {}, K.TRANSIENT_ERROR),
        ("malformed", "POST", PROSPEO, 200, "garbage", {}, K.TRANSIENT_ERROR),
    ],
    "prospeo_phone": [
        ("found", "POST", PROSPEO, 200,
         {"error": False,
          "person": {"mobile": {"status": "VERIFIED", "revealed": True,
                                "mobile": "+1 415-555-0134",
                                "mobile_international": "+14155550134"}}}, {}, K.FOUND),
        ("not_found", "POST", PROSPEO, 400, {"error": True, "error_code": "NO_MATCH"}, {},
         K.NOT_FOUND),
    ],
    "pdl_email": [
        ("found", "GET", PDL_PERSON, 200,
         {"status": 200, "likelihood": 9,
          "data": {"full_name": "alexis ohanian", "work_email": "alexis@reddit.com",
                   "mobile_phone": "+14155550134"}}, {"x-call-credits-spent": "1"}, K.FOUND),
        ("not_found_404", "GET", PDL_PERSON, 404,
         {"status": 404, "error": {"type": "not_found", "message": "No records were found"}},
         {}, K.NOT_FOUND),
        ("field_not_in_plan", "GET", PDL_PERSON, 200,
         {"status": 200, "likelihood": 9, "data": {"work_email": True}}, {}, K.NOT_FOUND),
        ("rate_limited", "GET", PDL_PERSON, 429,
         {"status": 429, "error": {"type": "rate_limit_error", "message": "slow down"}},
         {"Retry-After": "3"}, K.RATE_LIMITED),
        ("out_of_credits", "GET", PDL_PERSON, 402,
         {"status": 402, "error": {"type": "payment_required", "message": "no credits"}}, {},
         K.OUT_OF_CREDITS),
        ("bad_key", "GET", PDL_PERSON, 401,
         {"status": 401, "error": {"type": "authentication_error", "message": "bad key"}}, {},
         K.AUTH_FAILED),
        ("bad_request", "GET", PDL_PERSON, 400,
         {"status": 400, "error": {"type": "invalid_request_error", "message": "x"}}, {},
         K.PERMANENT_ERROR),
        ("5xx", "GET", PDL_PERSON, 500, {"status": 500}, {}, K.TRANSIENT_ERROR),
        ("malformed", "GET", PDL_PERSON, 200, "[1, 2", {}, K.TRANSIENT_ERROR),
    ],
    "pdl_phone": [
        ("found", "GET", PDL_PERSON, 200,
         {"status": 200, "likelihood": 8, "data": {"mobile_phone": "+1 415 555 0134"}}, {},
         K.FOUND),
        ("not_found_404", "GET", PDL_PERSON, 404, {"status": 404}, {}, K.NOT_FOUND),
    ],
    "pdl_company": [
        ("found", "GET", PDL_COMPANY, 200,
         {"status": 200, "name": "google", "display_name": "Google", "website": "google.com",
          "industry": "internet", "employee_count": 290000, "size": "10001+",
          "location": {"name": "mountain view, california, united states"},
          "linkedin_url": "linkedin.com/company/google", "total_funding_raised": 36100000,
          "tags": ["search"], "id": "aKCIYBNF9ey6o5CjHCCO4goHYKlf", "likelihood": 10}, {},
         K.FOUND),
        ("not_found_404", "GET", PDL_COMPANY, 404, {"status": 404}, {}, K.NOT_FOUND),
        ("out_of_credits", "GET", PDL_COMPANY, 402, {"status": 402}, {}, K.OUT_OF_CREDITS),
    ],
    "apollo_email": [
        ("found", "POST", APOLLO, 200,
         {"person": {"id": "1", "first_name": "Tim", "last_name": "Zheng",
                     "email": "tim@apollo.io", "email_status": "verified"}}, {}, K.FOUND),
        ("not_found", "POST", APOLLO, 200, {"person": None}, {}, K.NOT_FOUND),
        ("locked_placeholder", "POST", APOLLO, 200,
         {"person": {"email": "email_not_unlocked@domain.com", "email_status": None}}, {},
         K.NOT_FOUND),
        ("invalid_by_finder", "POST", APOLLO, 200,
         {"person": {"email": "tim@apollo.io", "email_status": "bounced"}}, {}, K.NOT_FOUND),
        ("rate_limited", "POST", APOLLO, 429, {"message": "rate limit"},
         {"Retry-After": "10"}, K.RATE_LIMITED),
        ("unprocessable_422", "POST", APOLLO, 422,
         {"error": "You have insufficient credits to complete this request."}, {},
         K.PERMANENT_ERROR),
        ("bad_key", "POST", APOLLO, 401, {"error": "Invalid access credentials."}, {},
         K.AUTH_FAILED),
        ("5xx", "POST", APOLLO, 503, "", {}, K.TRANSIENT_ERROR),
        ("malformed", "POST", APOLLO, 200, "<html/>", {}, K.TRANSIENT_ERROR),
    ],
    "zerobounce_verify": [
        ("valid", "GET", ZEROBOUNCE, 200,
         {"address": "flowerjill@aol.com", "status": "valid", "sub_status": "",
          "free_email": True}, {}, K.FOUND),
        ("out_of_credits", "GET", ZEROBOUNCE, 200,
         {"error": "Your account ran out of credits"}, {}, K.OUT_OF_CREDITS),
        # the shared key-or-credits message asks getcredits: test_adapter_zerobounce.py
        ("api_shield_403", "GET", ZEROBOUNCE, 403, "<html>Forbidden</html>", {},
         K.RATE_LIMITED),
        ("rate_limited", "GET", ZEROBOUNCE, 429, {"error": "Too many requests"}, {},
         K.RATE_LIMITED),
        ("5xx", "GET", ZEROBOUNCE, 500, "", {}, K.TRANSIENT_ERROR),
        ("malformed", "GET", ZEROBOUNCE, 200, "{", {}, K.TRANSIENT_ERROR),
    ],
    "neverbounce_verify": [
        ("valid", "GET", NEVERBOUNCE, 200,
         {"status": "success", "result": "valid", "flags": ["has_dns"],
          "suggested_correction": "", "execution_time": 499}, {}, K.FOUND),
        ("bad_key_in_200", "GET", NEVERBOUNCE, 200,
         {"status": "auth_failure", "message": "Invalid API key 'x'", "execution_time": 5}, {},
         K.AUTH_FAILED),
        ("throttled_in_200", "GET", NEVERBOUNCE, 200,
         {"status": "throttle_triggered", "message": "Too many requests"}, {}, K.RATE_LIMITED),
        ("temp_unavail_in_200", "GET", NEVERBOUNCE, 200,
         {"status": "temp_unavail", "message": "down"}, {}, K.TRANSIENT_ERROR),
        ("out_of_credits_in_200", "GET", NEVERBOUNCE, 200,
         {"status": "general_failure", "message": "Insufficient credit balance"}, {},
         K.OUT_OF_CREDITS),
        ("5xx", "GET", NEVERBOUNCE, 503, "", {}, K.TRANSIENT_ERROR),
        ("malformed", "GET", NEVERBOUNCE, 200, "nope", {}, K.TRANSIENT_ERROR),
    ],
    "dropcontact_email": [
        ("out_of_credits", "POST", DROPCONTACT, 403,
         {"error": True, "reason": "Not enough credits", "success": False}, {},
         K.OUT_OF_CREDITS),
        ("rate_limited", "POST", DROPCONTACT, 429, {"error": True, "success": False}, {},
         K.RATE_LIMITED),
        ("bad_key", "POST", DROPCONTACT, 401, {"detail": "Invalid token"}, {}, K.AUTH_FAILED),
        ("5xx", "POST", DROPCONTACT, 500, {"detail": "Internal Server Error"}, {},
         K.TRANSIENT_ERROR),
        ("malformed", "POST", DROPCONTACT, 200, "<html>", {}, K.TRANSIENT_ERROR),
    ],
}  # fmt: skip

RUNNERS = {
    "hunter_email": ("hunter", lambda p: p.find_email(PERSON)),
    "hunter_verify": ("hunter", lambda p: p.verify_email("alexis@reddit.com")),
    "prospeo_email": ("prospeo", lambda p: p.find_email(PERSON)),
    "prospeo_phone": ("prospeo", lambda p: p.find_phone(PERSON)),
    "pdl_email": ("pdl", lambda p: p.find_email(PERSON)),
    "pdl_phone": ("pdl", lambda p: p.find_phone(PERSON)),
    "pdl_company": ("pdl", lambda p: p.enrich_company(CompanyInput(domain="google.com"))),
    "apollo_email": ("apollo", lambda p: p.find_email(PERSON)),
    "zerobounce_verify": ("zerobounce", lambda p: p.verify_email("flowerjill@aol.com")),
    "neverbounce_verify": ("neverbounce", lambda p: p.verify_email("a@b.com")),
    "dropcontact_email": ("dropcontact", lambda p: p.find_email(PERSON)),
}

PARAMS = [
    pytest.param(runner, *case[1:], id=f"{runner}-{case[0]}")
    for runner, cases in CASES.items()
    for case in cases
]


def _add(method, url, status, body, headers):
    kwargs = {"status": status, "headers": headers}
    if isinstance(body, str):
        kwargs["body"] = body
    else:
        kwargs["json"] = body
    responses.add(method, url, **kwargs)


@responses.activate
@pytest.mark.parametrize(("runner", "method", "url", "status", "body", "headers", "expected"),
                         PARAMS)  # fmt: skip
def test_adapter_maps_documented_response(runner, method, url, status, body, headers, expected):
    # given the provider answers as documented
    name, run = RUNNERS[runner]
    _add(method, url, status, body, headers)
    # when the adapter is asked
    outcome = run(build_provider(name))
    # then the answer maps onto the common outcome
    assert outcome.kind == expected, outcome
    assert len(responses.calls) == 1
    if expected == K.FOUND:
        assert outcome.value
    if expected == K.RATE_LIMITED and "Retry-After" in headers:
        assert outcome.retry_after == float(headers["Retry-After"])


@responses.activate
@pytest.mark.parametrize("runner", list(RUNNERS))
def test_adapter_timeout_is_transient(runner):
    name, run = RUNNERS[runner]
    url = CASES[runner][0][2]
    method = CASES[runner][0][1]
    responses.add(method, url, body=requests.exceptions.ReadTimeout("read timed out"))
    outcome = run(build_provider(name))
    assert outcome.kind == K.TRANSIENT_ERROR
    assert outcome.provider_status == "timeout"


@responses.activate
def test_hunter_found_carries_score_verdict_and_sends_the_key():
    responses.add("GET", HUNTER_FINDER, json=HUNTER_FOUND)
    outcome = build_provider("hunter").find_email(PERSON)
    assert outcome.value == "alexis@reddit.com"
    assert outcome.confidence == 97
    assert outcome.verdict == EmailStatus.VALID
    assert outcome.cost == 1.0
    sent = responses.calls[0].request
    assert "api_key=test-hunter-key" in sent.url
    assert "domain=reddit.com" in sent.url


@responses.activate
def test_prospeo_sends_key_header_and_person_data():
    responses.add("POST", PROSPEO, json=CASES["prospeo_email"][0][4])
    outcome = build_provider("prospeo").find_email(PERSON)
    request = responses.calls[0].request
    assert request.headers["X-KEY"] == "test-prospeo-key"
    body = json.loads(request.body)
    assert body["data"]["linkedin_url"] == PERSON.linkedin_url
    assert body["enrich_mobile"] is False
    assert outcome.verdict == EmailStatus.VALID


@responses.activate
def test_prospeo_phone_is_e164_and_costs_ten():
    responses.add("POST", PROSPEO, json=CASES["prospeo_phone"][0][4])
    outcome = build_provider("prospeo").find_phone(PERSON)
    assert outcome.value == "+14155550134"
    assert outcome.cost == 10.0
    assert json.loads(responses.calls[0].request.body)["enrich_mobile"] is True


@responses.activate
def test_pdl_company_maps_onto_company_record_fields():
    responses.add("GET", PDL_COMPANY, json=CASES["pdl_company"][0][4])
    outcome = build_provider("pdl").enrich_company(CompanyInput(domain="google.com"))
    company = outcome.value
    assert isinstance(company, CompanyResult)
    assert company.as_record() == {
        "company_id": "aKCIYBNF9ey6o5CjHCCO4goHYKlf",
        "name": "Google",
        "domain": "google.com",
        "industry": "internet",
        "industries": ["internet"],
        "employee_count": 290000,
        "employee_count_range": "10001+",
        "revenue_range": None,
        "hq_location": "mountain view, california, united states",
        "funding_stage": None,
        "total_funding_usd": 36100000,
        "tech_stack": None,  # `tags` are keywords, not technologies
        "linkedin_url": "linkedin.com/company/google",
    }
    assert outcome.confidence == 100
    assert responses.calls[0].request.headers["X-Api-Key"] == "test-pdl-key"


@responses.activate
def test_zerobounce_catch_all_is_risky_and_unknown_is_free():
    responses.add("GET", ZEROBOUNCE, json={"status": "catch-all", "sub_status": ""})
    responses.add("GET", ZEROBOUNCE, json={"status": "unknown", "sub_status": "greylisted"})
    provider = build_provider("zerobounce")
    risky = provider.verify_email("a@b.com")
    unknown = provider.verify_email("a@b.com")
    assert (risky.verdict, risky.cost) == (EmailStatus.RISKY, 1.0)
    assert (unknown.verdict, unknown.cost) == (EmailStatus.UNKNOWN, 0.0)


@responses.activate
def test_neverbounce_invalid_result_is_an_invalid_verdict():
    responses.add("GET", NEVERBOUNCE, json={"status": "success", "result": "invalid"})
    outcome = build_provider("neverbounce").verify_email("nobody@example.com")
    assert (outcome.kind, outcome.verdict) == (K.FOUND, EmailStatus.INVALID)


@responses.activate
def test_dropcontact_submits_then_polls_until_ready():
    responses.add(
        "POST",
        DROPCONTACT,
        json={"request_id": "qzmxkpvlrtdnhwa", "credits_left": 15277, "error": False,
              "success": True},
    )  # fmt: skip
    poll = f"{DROPCONTACT}/qzmxkpvlrtdnhwa"
    responses.add(
        "GET",
        poll,
        json={"error": False, "reason": "Request not ready yet, try again in 30 seconds",
              "success": False},
    )  # fmt: skip
    responses.add(
        "GET",
        poll,
        json={"data": [{"email": [{"email": "denis@dropcontact.io",
                                   "qualification": "nominative@pro"}],
                        "first_name": "Denis", "mobile_phone": "+33 6 12 34 56 78"}],
              "error": False, "success": True, "credits_left": 15276},
    )  # fmt: skip
    outcome = build_provider("dropcontact").find_email(PERSON)
    assert (outcome.kind, outcome.value, outcome.verdict) == (
        K.FOUND,
        "denis@dropcontact.io",
        EmailStatus.VALID,
    )
    assert [c.request.method for c in responses.calls] == ["POST", "GET", "GET"]
    assert responses.calls[0].request.headers["X-Access-Token"] == "test-dropcontact-key"


@responses.activate
def test_dropcontact_poll_timeout_is_unknown_not_a_miss(settings):
    settings.SLUICE_DROPCONTACT_POLL_TIMEOUT_S = 0.02
    responses.add("POST", DROPCONTACT, json={"request_id": "r1", "success": True, "error": False})
    responses.add(
        "GET",
        f"{DROPCONTACT}/r1",
        json={"reason": "Request not ready yet, try again in 30 seconds", "success": False},
    )
    outcome = build_provider("dropcontact").find_email(PERSON)
    assert outcome.kind == K.UNKNOWN
    assert outcome.provider_status.startswith("poll_timeout")


@responses.activate
def test_dropcontact_no_email_is_a_miss_and_invalid_email_too():
    for rows in ([{"email": [], "first_name": "Denis"}],
                 [{"email": [{"email": "x@y.com", "qualification": "invalid"}]}]):  # fmt: skip
        responses.add("POST", DROPCONTACT, json={"request_id": "r", "success": True})
        responses.add("GET", f"{DROPCONTACT}/r", json={"data": rows, "success": True})
        assert build_provider("dropcontact").find_email(PERSON).kind == K.NOT_FOUND


@responses.activate
def test_dropcontact_phone_found_as_e164():
    responses.add("POST", DROPCONTACT, json={"request_id": "r", "success": True})
    responses.add(
        "GET", f"{DROPCONTACT}/r",
        json={"data": [{"mobile_phone": "+33 6 12 34 56 78"}], "success": True},
    )  # fmt: skip
    outcome = build_provider("dropcontact").find_phone(PERSON)
    assert outcome.value == "+33612345678"


def test_adapter_session_is_an_outgoing_session():
    assert isinstance(session(), OutgoingSession)


@responses.activate
def test_adapter_sends_the_provider_timeouts(settings):
    settings.SLUICE_PROVIDER_CONNECT_TIMEOUT_S = 1.5
    settings.SLUICE_PROVIDER_READ_TIMEOUT_S = 6
    responses.add("GET", HUNTER_FINDER, json=HUNTER_FOUND)
    build_provider("hunter").find_email(PERSON)
    assert responses.calls[0].request.req_kwargs["timeout"] == (1.5, 6.0)


@responses.activate
def test_adapter_redirect_is_an_answer_not_followed():
    # given Hunter redirects to a place that would answer "found"
    elsewhere = "https://elsewhere.example/email-finder"
    responses.add("GET", HUNTER_FINDER, status=302, headers={"Location": elsewhere})
    responses.add("GET", elsewhere, json=HUNTER_FOUND)
    # when the adapter is asked
    outcome = build_provider("hunter").find_email(PERSON)
    # then the 302 is the answer
    assert (outcome.kind, outcome.provider_status) == (K.PERMANENT_ERROR, "302")
    assert [c.request.url.split("?")[0] for c in responses.calls] == [HUNTER_FINDER]


@responses.activate
def test_adapter_with_credentials_in_its_url_calls_nothing():
    provider = HunterProvider(api_key="k", base_url="https://user:pw@api.hunter.io/v2")
    outcome = provider.find_email(PERSON)
    assert (outcome.kind, outcome.provider_status) == (K.PERMANENT_ERROR, "refused_url")
    assert len(responses.calls) == 0


def test_adapter_ignores_proxies_from_the_environment(monkeypatch, settings):
    settings.SLUICE_EGRESS_ALLOW_PRIVATE = True  # the stand-in for Hunter listens on 127.0.0.1
    found = json.dumps(HUNTER_FOUND).encode()
    with (
        proxy_in_environment(monkeypatch) as proxy,
        LocalServer(Reply(200, {"Content-Type": "application/json"}, found)) as hunter,
    ):
        outcome = HunterProvider(api_key="k", base_url=hunter.url("/v2")).find_email(PERSON)

    assert outcome.kind == K.FOUND
    assert [r.path.split("?")[0] for r in hunter.received] == ["/v2/email-finder"]
    assert proxy.received == []


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_adapter_inside_a_transaction_raises_and_calls_nothing():
    responses.add("GET", HUNTER_FINDER, json=HUNTER_FOUND)
    with transaction.atomic(), pytest.raises(NetworkInTransaction):
        build_provider("hunter").find_email(PERSON)
    assert len(responses.calls) == 0
    assert build_provider("hunter").find_email(PERSON).kind == K.FOUND
