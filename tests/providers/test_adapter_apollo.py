"""Apollo: the adapter against Apollo's documented answers (docs.apollo.io: People Enrichment,
Status Codes and Errors; knowledge.apollo.io: Email Status Overview)."""

import pytest
import responses

from providers.base import EmailStatus, OutcomeKind, PersonInput
from providers.registry import build_provider

K = OutcomeKind
APOLLO = "https://api.apollo.io/api/v1/people/match"
PERSON = PersonInput(first_name="Tim", last_name="Zheng", domain="apollo.io")


def _match(email_status):
    return {
        "person": {"id": "64a7ff0cc4dfae00013df1a5", "first_name": "Tim", "last_name": "Zheng",
                   "name": "Tim Zheng", "title": "Founder & CEO", "email": "tim@apollo.io",
                   "email_status": email_status,
                   "linkedin_url": "http://www.linkedin.com/in/tim-zheng-677ba010"}
    }  # fmt: skip


@pytest.mark.parametrize(
    ("email_status", "kind", "verdict"),
    [
        ("verified", K.FOUND, EmailStatus.VALID),
        ("likely to engage", K.FOUND, EmailStatus.VALID),
        ("unverified", K.FOUND, EmailStatus.RISKY),
        ("unavailable", K.NOT_FOUND, None),
        # Not statuses of Apollo's current list: no judgement of ours, the verifier decides.
        ("guessed", K.FOUND, EmailStatus.UNKNOWN),
        ("extrapolated", K.FOUND, EmailStatus.UNKNOWN),
    ],
)
@responses.activate
def test_apollo_reads_the_documented_email_statuses(email_status, kind, verdict):
    """Apollo's Email Status Overview lists Likely to engage, Verified, Unverified (Apollo
    could not verify it, or has low confidence in it), Update required and Unavailable. An
    unverified address is a risky hit; `guessed`/`extrapolated` are not in that list (guessed
    only in a retired version of the article), so they carry no verdict of Apollo's."""
    responses.add("POST", APOLLO, json=_match(email_status))
    outcome = build_provider("apollo").find_email(PERSON)
    assert outcome.kind == kind, outcome
    if kind == K.FOUND:
        assert (outcome.value, outcome.verdict) == ("tim@apollo.io", verdict)


@responses.activate
def test_apollo_422_is_a_request_error_not_out_of_credits():
    """Apollo's Status Codes and Errors page describes 422 as a request Apollo received but
    could not process (a validation error, an invalid or missing parameter) and documents no
    out-of-credits status for People Enrichment, so no 422 stops the provider for credits."""
    responses.add(
        "POST",
        APOLLO,
        status=422,
        json={"error": "You have insufficient credits to complete this request."},
    )
    outcome = build_provider("apollo").find_email(PERSON)
    assert (outcome.kind, outcome.provider_status) == (K.PERMANENT_ERROR, "422")
