"""Prospeo: the adapter against Prospeo's documented answers (the Enrich Person API page, the
error codes of Prospeo's MCP server and its docs, the rate-limit article, the n8n node)."""

import json

import pytest
import responses

from providers.base import OutcomeKind, PersonInput
from providers.registry import build_provider

K = OutcomeKind
PROSPEO = "https://api.prospeo.io/enrich-person"
PERSON = PersonInput(
    first_name="Eoghan",
    last_name="Mccabe",
    domain="intercom.com",
    linkedin_url="https://www.linkedin.com/in/eoghanmccabe",
)


def _person(*, email=None, mobile=None, free=False):
    person = {"person_id": "aaaacd817619fba3d254cd64", "first_name": "Eoghan",
              "last_name": "Mccabe", "full_name": "Eoghan Mccabe",
              "linkedin_url": "https://www.linkedin.com/in/eoghanmccabe",
              "current_job_title": "CEO, chairman, and co-founder"}  # fmt: skip
    if email is not None:
        person["email"] = email
    if mobile is not None:
        person["mobile"] = mobile
    return {"error": False, "free_enrichment": free, "person": person}


MOBILE = {"status": "VERIFIED", "revealed": True, "mobile": "+1 415-555-0134",
          "mobile_international": "+14155550134"}  # fmt: skip
VERIFIED_EMAIL = {"status": "VERIFIED", "revealed": True, "email": "eoghan@intercom.com"}


@responses.activate
def test_prospeo_phone_lookup_does_not_demand_a_verified_email():
    """Prospeo documents NO_MATCH as also returned when `only_verified_email` is set and no
    verified email is found (MCP docs, error codes), and its n8n node's "Find Verified Mobile
    Number" sends only `only_verified_mobile`. So a mobile lookup must not set the email
    flag, or a person with a mobile but no verified email comes back as a (cached) miss."""
    # given Prospeo knows the mobile but no verified email
    responses.add("POST", PROSPEO, json=_person(mobile=MOBILE))
    # when the adapter looks for the phone
    outcome = build_provider("prospeo").find_phone(PERSON)
    # then the email flag was not sent, and the mobile is a hit
    sent = json.loads(responses.calls[0].request.body)
    assert "only_verified_email" not in sent
    assert (sent["enrich_mobile"], sent["only_verified_mobile"]) == (True, True)
    assert (outcome.kind, outcome.value) == (K.FOUND, "+14155550134")


@responses.activate
def test_prospeo_email_lookup_still_demands_a_verified_email():
    """The n8n node's "Find Verified Work Email" sends `only_verified_email: true`."""
    responses.add("POST", PROSPEO, json=_person(email=VERIFIED_EMAIL))
    build_provider("prospeo").find_email(PERSON)
    sent = json.loads(responses.calls[0].request.body)
    assert sent["only_verified_email"] is True
    assert sent["enrich_mobile"] is False


@pytest.mark.parametrize("code", ["RATE_LIMIT_EXCEEDED", "RATE_LIMITED"])
@responses.activate
def test_prospeo_both_rate_limit_codes_wait_for_the_minute_reset(code):
    """Prospeo's MCP server names the code RATE_LIMIT_EXCEEDED, its help centre says the API
    answers `429 RATE_LIMITED`; its rate-limit docs give `x-minute-reset-seconds` (seconds
    until the minute limit resets) on every response."""
    responses.add(
        "POST", PROSPEO, status=429, json={"error": True, "error_code": code},
        headers={"x-minute-reset-seconds": "12", "x-minute-request-left": "0"},
    )  # fmt: skip
    outcome = build_provider("prospeo").find_email(PERSON)
    assert (outcome.kind, outcome.retry_after) == (K.RATE_LIMITED, 12.0)


@responses.activate
def test_prospeo_account_restricted_stops_the_provider():
    """Prospeo's MCP server classes ACCOUNT_RESTRICTED as a critical account error ("contact
    support"): no retry helps, so it is an account failure that stops calls until an operator
    clears the mark."""
    responses.add(
        "POST", PROSPEO, status=400, json={"error": True, "error_code": "ACCOUNT_RESTRICTED"}
    )
    outcome = build_provider("prospeo").find_email(PERSON)
    assert (outcome.kind, outcome.provider_status) == (K.AUTH_FAILED, "ACCOUNT_RESTRICTED")


@pytest.mark.parametrize(
    ("lookup", "body"),
    [("find_email", _person(email=VERIFIED_EMAIL, free=True)),
     ("find_phone", _person(mobile=MOBILE, free=True))],
)  # fmt: skip
@responses.activate
def test_prospeo_free_enrichment_costs_nothing(lookup, body):
    """The Enrich Person page: you are not charged for enriching the same record twice in the
    lifetime of the account, and the response says so with `free_enrichment: true`."""
    responses.add("POST", PROSPEO, json=body)
    outcome = getattr(build_provider("prospeo"), lookup)(PERSON)
    assert (outcome.kind, outcome.cost) == (K.FOUND, 0.0)
