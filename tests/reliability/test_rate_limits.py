"""Request rate limits under real concurrency: requests go through the whole Django stack from
many threads at once (each with its own database connection), as concurrent gunicorn workers
would send them. Every count must be exact: a limit of 30 lets 30 through, never 31."""

import math
import time
from collections import Counter
from collections.abc import Callable

import pytest
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from accounts.services import api_key_revoke
from tests.conftest import client_for
from tests.factories import ApiKeyFactory
from tests.helpers import assert_error
from tests.helpers import at_once as run_at_once
from tests.reliability.conftest import count_case

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

THREADS = 20
WHOAMI = "/api/v2/whoami"


@pytest.fixture
def rates(monkeypatch):
    """`rates(api_key="30/min", …)`: the throttle rates for this test (Cleanlist's defaults
    unless given)."""

    def set_rates(**given: str) -> None:
        chosen = {
            **api_settings.DEFAULT_THROTTLE_RATES,
            "api_key": "30/min",
            "workspace": "60/min",
            **given,
        }
        monkeypatch.setattr("rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES", chosen)

    set_rates()
    return set_rates


def at_once(requests: list[Callable[[], object]], *, threads: int = THREADS) -> list:
    """Runs every request from `threads` threads released together; returns the responses."""
    results = run_at_once(requests, threads=threads)
    count_case("rate limits: concurrent requests", len(results))
    return results


def _whoami(api_key, **headers: str) -> Callable[[], object]:
    def send():
        # A client per request: the test client is not meant to be shared between threads.
        return client_for(api_key).get(WHOAMI, **headers)

    return send


def _bad_key(address: str, **headers: str) -> Callable[[], object]:
    def send():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Bearer clapi_AAAAAAAAnotarealkeyatall")
        return client.get(WHOAMI, REMOTE_ADDR=address, **headers)

    return send


def test_rate_limits_100_concurrent_requests_on_one_key_get_exactly_its_limit(workspace, rates):
    # given a key allowed 30 requests a minute (its workspace 60)
    api_key = ApiKeyFactory(workspace=workspace)

    # when 100 requests arrive at once
    responses = at_once([_whoami(api_key)] * 100)

    # then exactly 30 are served and 70 refused
    assert Counter(r.status_code for r in responses) == {200: 30, 429: 70}
    for response in responses:
        if response.status_code == 429:
            assert_error(response, 429, "rate_limited")


def test_rate_limits_concurrent_keys_share_their_workspaces_limit_exactly(workspace, rates):
    # given three keys of one workspace, 30 a minute each and 60 for the workspace
    keys = [ApiKeyFactory(workspace=workspace) for _ in range(3)]

    # when each key sends 40 requests, all at once
    responses = at_once([_whoami(key) for key in keys for _ in range(40)])

    # then the workspace got exactly its 60, no key more than its 30
    served = Counter(r.json()["key_id"] for r in responses if r.status_code == 200)
    assert sum(served.values()) == 60
    assert max(served.values()) <= 30
    assert Counter(r.status_code for r in responses) == {200: 60, 429: 60}


def test_rate_limits_headers_count_down_and_say_when_to_come_back(workspace, rates):
    rates(api_key="3/min")
    client = client_for(ApiKeyFactory(workspace=workspace))
    started = time.time()

    served = [client.get(WHOAMI) for _ in range(3)]
    refused = client.get(WHOAMI)

    assert [r.status_code for r in served] == [200, 200, 200]
    assert [r["X-RateLimit-Limit"] for r in served] == ["3", "3", "3"]
    assert [r["X-RateLimit-Remaining"] for r in served] == ["2", "1", "0"]
    # the reset is the Unix time at which the oldest counted request leaves the minute
    reset = int(served[0]["X-RateLimit-Reset"])
    assert started + 59 <= reset <= math.ceil(time.time()) + 60
    assert_error(refused, 429, "rate_limited")
    assert (refused["X-RateLimit-Limit"], refused["X-RateLimit-Remaining"]) == ("3", "0")
    assert int(refused["X-RateLimit-Reset"]) == reset
    retry_after = int(refused["Retry-After"])
    assert 1 <= retry_after <= 60
    assert abs(started + retry_after - reset) <= 2
    assert refused.json()["error"]["retry_after_ms"] == retry_after * 1000


def test_rate_limits_headers_show_the_tighter_of_key_and_workspace(workspace, rates):
    rates(api_key="5/min", workspace="2/min")
    client = client_for(ApiKeyFactory(workspace=workspace))

    first = client.get(WHOAMI)

    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("2", "1")


def test_rate_limits_a_refused_request_spends_nothing(workspace, rates):
    # given a key whose workspace is exhausted by another key
    rates(api_key="3/min", workspace="2/min")
    first, second = (client_for(ApiKeyFactory(workspace=workspace)) for _ in range(2))
    assert [first.get(WHOAMI).status_code for _ in range(2)] == [200, 200]

    # when the second key is refused by the workspace's limit
    refused = second.get(WHOAMI)

    # then its own budget is untouched
    assert_error(refused, 429, "rate_limited")
    rates(api_key="3/min", workspace="100/min")
    assert second.get(WHOAMI)["X-RateLimit-Remaining"] == "2"


def test_rate_limits_failed_authentication_is_limited_per_client_address(workspace, rates):
    # given 10 failed authentications a minute per client address
    rates(failed_auth="10/min")
    api_key = ApiKeyFactory(workspace=workspace)

    # when one address sends 50 wrong keys at once
    responses = at_once([_bad_key("203.0.113.7")] * 50)

    # then exactly 10 were checked (401) and the rest refused before any lookup
    assert Counter(r.status_code for r in responses) == {401: 10, 429: 40}
    refused = next(r for r in responses if r.status_code == 429)
    assert_error(refused, 429, "rate_limited")
    assert int(refused["Retry-After"]) >= 1
    assert refused["X-RateLimit-Limit"] == "10"
    # and that address is refused even with a genuine key until the window moves on
    client = client_for(api_key)
    assert_error(client.get(WHOAMI, REMOTE_ADDR="203.0.113.7"), 429, "rate_limited")
    # while another address is not affected, and its successes cost it nothing
    for _ in range(15):
        assert client.get(WHOAMI, REMOTE_ADDR="198.51.100.2").status_code == 200
    assert_error(_bad_key("198.51.100.2")(), 401, "unauthorized")


def test_rate_limits_a_revoked_key_counts_as_a_failed_authentication(workspace, rates):
    rates(failed_auth="2/min")
    api_key = ApiKeyFactory(workspace=workspace)
    client = client_for(api_key)
    api_key_revoke(api_key=api_key)

    statuses = [client.get(WHOAMI, REMOTE_ADDR="203.0.113.9").status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


def test_rate_limits_forwarded_for_is_trusted_only_behind_a_configured_proxy(
    workspace, rates, settings
):
    rates(failed_auth="2/min")
    spoofed = [_bad_key("203.0.113.20", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")() for n in range(3)]
    # no proxy configured: a client cannot pick a new address per request with the header
    assert [r.status_code for r in spoofed] == [401, 401, 429]
    # behind one proxy: the address that proxy saw (the last one it appended) is the client's
    settings.SLUICE_TRUSTED_PROXIES = 1
    proxied = [
        _bad_key("10.0.0.2", HTTP_X_FORWARDED_FOR=f"192.0.2.99, 198.51.100.{n}")()
        for n in (1, 1, 1, 2)
    ]
    assert [r.status_code for r in proxied] == [401, 401, 429, 401]


def test_rate_limits_embedded_mode_counts_in_process_exactly(workspace, rates, settings):
    # given the embedded mode (no Redis): the counters live in this process
    settings.REDIS_URL = ""
    api_key = ApiKeyFactory(workspace=workspace)

    responses = at_once([_whoami(api_key)] * 60)

    assert Counter(r.status_code for r in responses) == {200: 30, 429: 30}
    assert responses[0]["X-RateLimit-Limit"] == "30"


def test_rate_limits_fail_open_when_redis_is_unreachable(workspace, rates, settings):
    # a limit store that does not answer must not take the API down with it
    rates(api_key="1/min")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    client = client_for(ApiKeyFactory(workspace=workspace))

    responses = [client.get(WHOAMI) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "X-RateLimit-Limit" not in responses[0]
