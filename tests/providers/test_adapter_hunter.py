"""Hunter: the adapter against Hunter's documented answers (hunter.io/api-documentation/v2, as
quoted by client libraries, and Hunter's help centre on how credits are counted)."""

import pytest
import responses

from providers.base import EmailStatus, OutcomeKind, PersonInput
from providers.registry import build_provider

K = OutcomeKind
HUNTER_FINDER = "https://api.hunter.io/v2/email-finder"
HUNTER_VERIFIER = "https://api.hunter.io/v2/email-verifier"
PERSON = PersonInput(first_name="Alexis", last_name="Ohanian", domain="reddit.com")
CLAIMED = {
    "errors": [
        {
            "id": "claimed_email",
            "code": 451,
            "details": "The person owning the email address asked us directly or indirectly "
            "to stop the processing of their personal data.",
        }
    ]
}


def _verification(status, score=50):
    return {
        "data": {"status": status, "result": "risky", "score": score,
                 "email": "alexis@reddit.com", "regexp": True, "gibberish": False,
                 "disposable": status == "disposable", "webmail": status == "webmail",
                 "mx_records": True, "smtp_server": True, "smtp_check": status == "valid",
                 "accept_all": False, "block": False, "sources": []},
        "meta": {"params": {"email": "alexis@reddit.com"}},
    }  # fmt: skip


@responses.activate
def test_hunter_smtp_failure_222_is_unknown_and_free():
    """Hunter's response-code list: 222 means the verification failed because of an
    unexpected answer from the remote SMTP server, outside Hunter's control, retry later.
    That is no verdict: unknown (never cached), and Hunter counts no credit for an address it
    could not verify."""
    responses.add("GET", HUNTER_VERIFIER, status=222, json={"data": {}})
    outcome = build_provider("hunter").verify_email("alexis@reddit.com")
    assert outcome.kind == K.UNKNOWN, outcome
    assert outcome.cost == 0.0
    assert outcome.provider_status == "222_smtp_failure"


@pytest.mark.parametrize("lookup", ["find_email", "verify_email"])
@responses.activate
def test_hunter_451_is_a_definite_miss_and_a_suppression_candidate(lookup):
    """Hunter's response-code list: 451 (`claimed_email`) means the person asked Hunter to stop
    processing their data and you should not process it either. A definite, free answer about
    the person (a miss, cached), flagged as a suppression candidate; not a provider failure."""
    url = HUNTER_FINDER if lookup == "find_email" else HUNTER_VERIFIER
    responses.add("GET", url, status=451, json=CLAIMED)
    provider = build_provider("hunter")
    subject = PERSON if lookup == "find_email" else "alexis@reddit.com"
    outcome = getattr(provider, lookup)(subject)
    assert outcome.kind == K.NOT_FOUND, outcome
    assert outcome.cost == 0.0
    assert outcome.provider_status == "suppression_candidate:451_claimed_email"


@pytest.mark.parametrize(
    ("status", "verdict", "cost"),
    [
        ("valid", EmailStatus.VALID, 1.0),
        ("accept_all", EmailStatus.RISKY, 1.0),
        ("invalid", EmailStatus.INVALID, 1.0),
        ("unknown", EmailStatus.UNKNOWN, 0.0),
        ("disposable", EmailStatus.INVALID, 0.0),
        ("webmail", EmailStatus.RISKY, 0.0),
    ],
)
@responses.activate
def test_hunter_verifier_charges_only_what_hunter_counts(status, verdict, cost):
    """Hunter's help centre ("What is a request and how it is counted"): one verification is
    counted per email processed by the Email Verifier, except Webmail, Unknown and Disposable
    results, which are skipped."""
    responses.add("GET", HUNTER_VERIFIER, json=_verification(status))
    outcome = build_provider("hunter").verify_email("alexis@reddit.com")
    assert (outcome.kind, outcome.verdict, outcome.cost) == (K.FOUND, verdict, cost)


@responses.activate
def test_hunter_finder_404_is_a_free_miss():
    """Hunter's response-code list: 404 means the requested resource does not exist; from the
    Email Finder that is "no email for this person" (no credit: Hunter counts a search only
    when it finds an email)."""
    responses.add(
        "GET",
        HUNTER_FINDER,
        status=404,
        json={"errors": [{"id": "email_not_found", "code": 404, "details": "No result found."}]},
    )
    outcome = build_provider("hunter").find_email(PERSON)
    assert (outcome.kind, outcome.cost) == (K.NOT_FOUND, 0.0)
