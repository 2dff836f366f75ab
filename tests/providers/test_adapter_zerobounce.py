"""ZeroBounce: the adapter against ZeroBounce's documented answers (zerobounce.net/docs: the
validate and credit-balance pages, API error codes, API FAQ; the official zerobouncesdk)."""

import pytest
import responses

from providers.base import OutcomeKind
from providers.registry import build_provider

K = OutcomeKind
ZEROBOUNCE = "https://api.zerobounce.net/v2/validate"
GETCREDITS = "https://api.zerobounce.net/v2/getcredits"
KEY_OR_CREDITS = "Invalid API Key or your account ran out of credits"


@pytest.mark.parametrize(
    ("credits", "expected"),
    [({"Credits": -1}, K.AUTH_FAILED), ({"Credits": "-1"}, K.AUTH_FAILED),
     ({"Credits": 0}, K.OUT_OF_CREDITS), ({"Credits": "0"}, K.OUT_OF_CREDITS)],
)  # fmt: skip
@responses.activate
def test_zerobounce_tells_a_bad_key_from_an_empty_balance(credits, expected):
    """ZeroBounce's validate endpoint answers a bad key and an empty balance with the same
    body, `{"error": "Invalid API Key or your account ran out of credits"}`. Its credit-balance
    page documents the free `getcredits` call: `{"Credits": <balance>}`, and `-1` when the key
    is invalid. Asking it tells the two apart."""
    responses.add("GET", ZEROBOUNCE, json={"error": KEY_OR_CREDITS})
    responses.add("GET", GETCREDITS, json=credits)
    outcome = build_provider("zerobounce").verify_email("flowerjill@aol.com")
    assert outcome.kind == expected, outcome
    assert [c.request.url.split("?")[0] for c in responses.calls] == [ZEROBOUNCE, GETCREDITS]


@pytest.mark.parametrize(
    "body",
    [{"Error": KEY_OR_CREDITS}, {"error": [KEY_OR_CREDITS]}],
    ids=["capitalized_key", "list_value"],
)
@responses.activate
def test_zerobounce_reads_every_error_shape(body):
    """The error can come as `Error` as well as `error`, and ZeroBounce's own Java SDK tests
    the message as a one-element list; each is the same account error."""
    responses.add("GET", ZEROBOUNCE, json=body)
    responses.add("GET", GETCREDITS, json={"Credits": -1})
    outcome = build_provider("zerobounce").verify_email("flowerjill@aol.com")
    assert outcome.kind == K.AUTH_FAILED, outcome


@responses.activate
def test_zerobounce_403_is_the_api_shield_not_a_bad_key():
    """ZeroBounce's API error-codes page: the API Shield, switched on and off through the day,
    may answer 403 Forbidden instead of the usual codes, and its FAQ ties a 403 to its
    firewall rules. That says "back off", not "bad key"."""
    responses.add("GET", ZEROBOUNCE, status=403, body="<html>403 Forbidden</html>")
    outcome = build_provider("zerobounce").verify_email("flowerjill@aol.com")
    assert outcome.kind == K.RATE_LIMITED, outcome
    assert outcome.provider_status == "403_api_shield"
