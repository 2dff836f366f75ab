"""The rules of every outgoing HTTP request (`common.outgoing_http`), shown against a real server
on 127.0.0.1 (or `responses` where only the arguments handed to the transport matter)."""

import base64
import re
from pathlib import Path

import pytest
import requests
import responses
from django.db import transaction

from common.outgoing_http import (
    NetworkInTransaction,
    OutgoingSession,
    RefusedUrl,
    ensure_no_transaction,
    in_transaction,
    validate_url,
)
from tests.local_http import HANG, LocalServer, Reply, proxy_in_environment


@pytest.fixture(autouse=True)
def _allow_private_targets(settings):
    # These rules are shown against a server on 127.0.0.1, so private targets are allowed
    # explicitly here; the address policy itself is tests/reliability/test_ssrf.py.
    settings.SLUICE_EGRESS_ALLOW_PRIVATE = True


def _session(**kwargs) -> OutgoingSession:
    return OutgoingSession(**{"role": "test", "timeout": (2.0, 5.0), **kwargs})


@pytest.fixture
def proxy_env(monkeypatch):
    with proxy_in_environment(monkeypatch) as proxy:
        yield proxy


def test_outgoing_http_ignores_proxies_from_the_environment(proxy_env):
    with LocalServer(Reply(200, body=b"direct")) as target:
        # a plain session would go through the proxy (the setup works)
        assert requests.Session().get(target.url("/plain"), timeout=5).content == b"from the proxy"
        assert [r.path for r in proxy_env.received] == [target.url("/plain")]

        response = _session().get(target.url("/ours"))

        assert response.content == b"direct"
        assert [r.path for r in target.received] == ["/ours"]
        assert len(proxy_env.received) == 1


def test_outgoing_http_ignores_netrc(tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login robot password hunter2\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with LocalServer() as target:
        requests.Session().get(target.url("/plain"), timeout=5)
        _session().get(target.url("/ours"))

    plain, ours = target.received
    assert plain.headers["Authorization"] == "Basic " + base64.b64encode(b"robot:hunter2").decode()
    assert "Authorization" not in ours.headers


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_outgoing_http_redirect_is_the_answer_not_followed(method):
    with LocalServer(Reply(302, {"Location": "/elsewhere"}), Reply(200)) as target:
        response = _session().request(method, target.url("/start"), data=b"x")

    assert response.status_code == 302
    assert response.headers["Location"] == "/elsewhere"
    assert [r.path for r in target.received] == ["/start"]


def test_outgoing_http_redirect_not_followed_even_when_asked():
    with LocalServer(Reply(301, {"Location": "/elsewhere"}), Reply(200)) as target:
        response = _session().get(target.url("/start"), allow_redirects=True)

    assert response.status_code == 301
    assert len(target.received) == 1


@responses.activate
def test_outgoing_http_session_timeout_applies_when_the_call_passes_none():
    responses.add("GET", "https://api.example.com/x")
    _session(timeout=(1.5, 4)).get("https://api.example.com/x")
    _session(timeout=7).get("https://api.example.com/x")

    assert [c.request.req_kwargs["timeout"] for c in responses.calls] == [(1.5, 4.0), (7.0, 7.0)]


@responses.activate
def test_outgoing_http_call_may_pass_its_own_timeout():
    responses.add("GET", "https://api.example.com/x")
    session = _session()
    session.get("https://api.example.com/x", timeout=(0.5, 0.75))
    session.get("https://api.example.com/x", timeout=3)

    assert [c.request.req_kwargs["timeout"] for c in responses.calls] == [(0.5, 0.75), (3.0, 3.0)]


@pytest.mark.parametrize("timeout", [None, 0, -1, float("inf"), (3, None), (None, 3), (1, 2, 3)])
def test_outgoing_http_timeout_without_a_bound_is_refused(timeout):
    with pytest.raises(ValueError, match="timeout"):
        OutgoingSession(role="test", timeout=timeout)


@pytest.mark.parametrize("timeout", [(3, None), (0, 1), float("nan")])
def test_outgoing_http_call_timeout_without_a_bound_is_refused(timeout):
    with LocalServer() as target, pytest.raises(ValueError, match="timeout"):
        _session().get(target.url(), timeout=timeout)
    assert target.received == []


def test_outgoing_http_read_timeout_ends_a_silent_server():
    with LocalServer(HANG) as target, pytest.raises(requests.ReadTimeout):
        _session(timeout=(2, 0.2)).get(target.url("/silent"))


def test_outgoing_http_sets_a_user_agent():
    with LocalServer() as target:
        _session().get(target.url())
        _session(user_agent="Sluice-Test/2").get(target.url())

    assert [r.headers["User-Agent"] for r in target.received] == ["sluice-test", "Sluice-Test/2"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/file",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/_x",
        "dict://127.0.0.1:11211/stat",
        "javascript:alert(1)",
    ],
)
def test_outgoing_http_refuses_urls_that_are_not_http(url):
    with pytest.raises(RefusedUrl, match="Only http and https"):
        validate_url(url)
    with pytest.raises(RefusedUrl):
        _session().get(url)


@pytest.mark.parametrize("url", ["http://", "https:///path", "http://127.0.0.1:notaport/"])
def test_outgoing_http_refuses_urls_without_a_usable_host(url):
    with pytest.raises(RefusedUrl):
        validate_url(url)


@pytest.mark.parametrize("userinfo", ["user:pw@", "user@", ":pw@", "a%40b:c@"])
def test_outgoing_http_refuses_urls_with_userinfo(userinfo):
    with LocalServer() as target:
        url = target.url("/x").replace("http://", f"http://{userinfo}")
        with pytest.raises(RefusedUrl) as refused:
            _session().get(url)

    assert target.received == []
    assert "pw" not in str(refused.value)


def test_outgoing_http_accepts_plain_http_and_https_urls():
    for url in ("http://127.0.0.1:8000/a?b=c", "https://api.hunter.io/v2/email-finder"):
        validate_url(url)


@pytest.mark.django_db(transaction=True)
def test_outgoing_http_guard_raises_inside_a_transaction_only():
    with LocalServer() as target:
        assert not in_transaction()
        ensure_no_transaction("nothing")
        with transaction.atomic():
            assert in_transaction()
            with pytest.raises(NetworkInTransaction, match="A webhook test"):
                ensure_no_transaction("A webhook test")
            with pytest.raises(NetworkInTransaction):
                _session().get(target.url("/inside"))
            # a savepoint is still inside the transaction
            with transaction.atomic(), pytest.raises(NetworkInTransaction):
                _session().get(target.url("/nested"))
        assert _session().get(target.url("/after")).status_code == 200

    assert [r.path for r in target.received] == ["/after"]


@pytest.mark.django_db
def test_outgoing_http_guard_ignores_the_test_case_atomics():
    # the `db` fixture wraps this test in TestCase atomics; they are not ours
    with LocalServer() as target:
        assert _session().get(target.url("/outside")).status_code == 200
        with transaction.atomic(), pytest.raises(NetworkInTransaction):
            _session().get(target.url("/inside"))

    assert [r.path for r in target.received] == ["/outside"]


ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "accounts", "common", "credits", "leads", "providers", "enrichment", "agents", "ops", "config"
)  # fmt: skip
NOT_OUTGOING = {
    "common/outgoing_http.py",
    # Clients of the demos' own local server, not calls Sluice makes to the outside.
    "ops/management/commands/demo.py",
    "ops/management/commands/demo_agents.py",
    # The operator's model server, through the openai package (docs/agents.md: a local
    # Ollama on loopback must stay reachable, so the public-address policy cannot apply).
    "agents/llm.py",
}
OTHER_HTTP = re.compile(
    r"requests\.(Session|get|post|put|patch|delete|head|request)\(|urllib\.request|httpx|urlopen"
)


def test_outgoing_http_is_the_only_way_out():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if str(path.relative_to(ROOT)) not in NOT_OUTGOING
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if OTHER_HTTP.search(line)
    ]
    assert offenders == []
