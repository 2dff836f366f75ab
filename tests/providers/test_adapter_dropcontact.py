"""Dropcontact: the adapter against Dropcontact's documented answers (developer.dropcontact.com:
quickstart, enriched record, credits policy, errors, rate limits)."""

import json

import pytest
import responses

from providers.base import EmailStatus, OutcomeKind, PersonInput
from providers.registry import build_provider

K = OutcomeKind
DROPCONTACT = "https://api.dropcontact.com/v1/enrich/all"
POLL = f"{DROPCONTACT}/qzmxkpvlrtdnhwa"
PERSON = PersonInput(first_name="Denis", last_name="Cohen", domain="dropcontact.com")
SUBMITTED = {"credits_left": 15277, "request_id": "qzmxkpvlrtdnhwa", "error": False,
             "success": True}  # fmt: skip
NOT_READY = {"error": False, "reason": "Request not ready yet, try again in 30 seconds",
             "success": False}  # fmt: skip


def _ready(record):
    return {"data": [{"first_name": "Denis", "last_name": "Cohen", "civility": "Mr",
                      "website": "www.dropcontact.com", **record}],
            "error": False, "success": True, "credits_left": 15276}  # fmt: skip


def _answer(record):
    responses.add("POST", DROPCONTACT, json=SUBMITTED)
    responses.add("GET", POLL, json=_ready(record))


@responses.activate
def test_dropcontact_asks_for_english_labels():
    """The quickstart sends `"language": "en"`; the enriched-record reference says the
    `qualification` label follows the request's language."""
    _answer({"email": [{"email": "denis@dropcontact.io", "qualification": "nominative@pro"}]})
    build_provider("dropcontact").find_email(PERSON)
    assert json.loads(responses.calls[0].request.body)["language"] == "en"


@pytest.mark.parametrize(
    ("qualification", "kind", "verdict"),
    [
        ("nominative@pro", K.FOUND, EmailStatus.VALID),
        ("nominatif@pro", K.FOUND, EmailStatus.VALID),
        ("catch-all@pro", K.FOUND, EmailStatus.RISKY),
        ("catch_all@pro", K.FOUND, EmailStatus.RISKY),
        ("nominative@perso", K.FOUND, EmailStatus.RISKY),
        ("nominatif@perso", K.FOUND, EmailStatus.RISKY),
        ("generic@pro", K.FOUND, EmailStatus.UNKNOWN),
        ("generique@pro", K.FOUND, EmailStatus.UNKNOWN),
        ("non_validated@pro", K.FOUND, EmailStatus.UNKNOWN),
        ("non_validé@pro", K.FOUND, EmailStatus.UNKNOWN),
        ("invalid@pro", K.NOT_FOUND, None),
        ("invalide@pro", K.NOT_FOUND, None),
        ("nominative@invalid domain", K.NOT_FOUND, None),
        ("nominatif@domaine invalide", K.NOT_FOUND, None),
        ("nominative@disposable", K.NOT_FOUND, None),
        ("nominatif@jetable", K.NOT_FOUND, None),
    ],
)
@responses.activate
def test_dropcontact_reads_both_forms_of_the_qualification(qualification, kind, verdict):
    """The enriched-record reference: `qualification` is `localpart@domain`, localized by the
    request language. Local part: nominatif/nominative, catch-all, generique/generic,
    Ne_Pas_Contacter/Do_Not_Contact, non_validé/non_validated, invalide/invalid; domain: pro,
    perso, school, jetable/disposable, domaine invalide/invalid domain. Invalid addresses and
    throw-away domains are misses; a personal (`perso`) address is risky for B2B."""
    _answer({"email": [{"email": "denis@dropcontact.io", "qualification": qualification}]})
    outcome = build_provider("dropcontact").find_email(PERSON)
    assert outcome.kind == kind, outcome
    assert outcome.verdict == verdict
    if kind == K.FOUND:
        assert outcome.provider_status == qualification


@pytest.mark.parametrize("qualification", ["Do_Not_Contact@pro", "Ne_Pas_Contacter@pro"])
@responses.activate
def test_dropcontact_do_not_contact_is_a_miss_and_a_suppression_candidate(qualification):
    """Do_Not_Contact (Ne_Pas_Contacter in French) marks a person who must not be contacted:
    never a hit, and flagged for suppression on our side."""
    _answer({"email": [{"email": "denis@dropcontact.io", "qualification": qualification}]})
    outcome = build_provider("dropcontact").find_email(PERSON)
    assert outcome.kind == K.NOT_FOUND, outcome
    assert outcome.provider_status == f"suppression_candidate:{qualification}"


@responses.activate
def test_dropcontact_sent_email_costs_a_credit_even_when_the_phone_misses():
    """The credits policy: an address passed in the `email` field costs one verification
    credit, never given back, whatever else is found. A phone lookup that sends the known
    email and finds no phone still spent that credit."""
    person = PersonInput(first_name="Denis", last_name="Cohen", domain="dropcontact.com",
                         email="dc@dropcontact.io")  # fmt: skip
    _answer({"email": [{"email": "dc@dropcontact.io", "qualification": "nominative@pro"}]})
    outcome = build_provider("dropcontact").find_phone(person)
    assert json.loads(responses.calls[0].request.body)["data"][0]["email"] == "dc@dropcontact.io"
    assert (outcome.kind, outcome.cost) == (K.NOT_FOUND, 1.0)


@responses.activate
def test_dropcontact_email_miss_without_a_sent_email_is_free():
    """The credits policy: an enrichment credit is taken only when a verified email comes
    back, and given back otherwise."""
    _answer({"email": []})
    outcome = build_provider("dropcontact").find_email(PERSON)
    assert (outcome.kind, outcome.cost) == (K.NOT_FOUND, 0.0)


@responses.activate
def test_dropcontact_polls_every_thirty_seconds(settings):
    """The rate-limits page: fetch a result by sending the same request again every 30
    seconds until it is ready (the not-ready answer says "try again in 30 seconds")."""
    settings.SLUICE_DROPCONTACT_POLL_INTERVAL_S = 0.01
    settings.SLUICE_DROPCONTACT_POLL_TIMEOUT_S = 180
    responses.add("POST", DROPCONTACT, json=SUBMITTED)
    responses.add("GET", POLL, json=NOT_READY)
    responses.add("GET", POLL, json=NOT_READY)
    responses.add(
        "GET", POLL,
        json=_ready({"email": [{"email": "denis@dropcontact.io",
                                "qualification": "nominative@pro"}]}),
    )  # fmt: skip
    provider = build_provider("dropcontact")
    waits = []
    provider._sleep = waits.append
    outcome = provider.find_email(PERSON)
    assert outcome.kind == K.FOUND
    assert waits == [0.01, 30.0, 30.0]
