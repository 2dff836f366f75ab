"""SSRF: a webhook URL (or any outgoing request) may not point Sluice at its own network.

Every internal form is refused when the webhook is registered (400, nothing stored) and again
when a delivery is attempted (a row written straight to the database: the delivery fails and
no connection is made). The policy is `common/outgoing_http.py`; docs/reliability.md lists it.

No test here touches the real network: names under `.test` (RFC 2606, never in real DNS) are
answered by a scripted resolver, and every connection goes through a spy that lets only
loopback through (so a policy failure shows up as a request reaching a local server) and
fails every other address at once.
"""

import errno
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import responses
from django.conf import settings as django_settings
from urllib3.util import connection as urllib3_connection

from common.outgoing_http import OutgoingSession, RefusedUrl, egress_addresses, validate_url
from enrichment.models import WebhookDelivery, WebhookEndpoint
from enrichment.services.webhooks import WebhookDeliveryError, webhook_deliver
from providers.adapters.hunter import HunterProvider
from providers.base import OutcomeKind, PersonInput
from providers.http import HttpProvider
from providers.registry import REGISTRY
from tests.helpers import assert_error
from tests.local_http import LocalServer, Reply
from tests.reliability.conftest import count_case

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]

# A global address for names that resolve "publicly"; the connection spy never lets a
# connection reach it.
PUBLIC = "93.184.215.14"
# Hosts a connection reaches this machine through (0.0.0.0 too, on Linux).
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "0.0.0.0", "::ffff:127.0.0.1", "::1"}  # noqa: S104

# Every form of an internal target; `{port}` is a local receiver's port when delivering.
FORMS = {
    "loopback": "http://127.0.0.1:{port}/hook",
    "loopback-name": "http://localhost:{port}/hook",
    "loopback-name-uppercase-dot": "http://LOCALHOST.:{port}/hook",
    "unspecified": "http://0.0.0.0:{port}/hook",
    "ipv4-mapped-ipv6": "http://[::ffff:127.0.0.1]:{port}/hook",
    "ipv4-compatible-ipv6": "http://[::127.0.0.1]:{port}/hook",
    "ipv6-loopback": "http://[::1]:{port}/hook",
    "decimal-loopback": "http://2130706433:{port}/hook",
    "name-resolving-to-loopback": "http://loopback.test:{port}/hook",
    "name-resolving-to-public-and-private": "http://mixed.test:{port}/hook",
    "aws-metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "aws-metadata-ipv6": "http://[fd00:ec2::254]/latest/meta-data/",
    "gcp-metadata-name": "http://metadata.google.internal/computeMetadata/v1/",
    "nat64-metadata": "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    "link-local": "http://169.254.10.20/hook",
    "private-10": "http://10.0.0.5/hook",
    "private-172.16": "http://172.16.0.5/hook",
    "private-172.31": "http://172.31.255.254/hook",
    "private-192.168": "http://192.168.1.10/hook",
    "unique-local-ipv6": "http://[fd12:3456:789a::1]/hook",
    "shared-100.64": "http://100.64.0.1/hook",
    "multicast": "http://224.0.0.251/hook",
    "reserved": "http://240.0.0.1/hook",
    "redis-port": "http://127.0.0.1:6379/",
    "postgresql-port": "http://127.0.0.1:5432/",
    "redis-port-on-a-public-name": "http://hooks.test:6379/",
    "userinfo": "http://user:pw@hooks.test:{port}/hook",
}
# Refused even when the operator allows private targets.
ALWAYS_REFUSED = [
    "unspecified",
    "ipv4-mapped-ipv6",
    "ipv4-compatible-ipv6",
    "aws-metadata",
    "aws-metadata-ipv6",
    "gcp-metadata-name",
    "nat64-metadata",
    "link-local",
    "multicast",
    "redis-port",
    "postgresql-port",
    "redis-port-on-a-public-name",
    "userinfo",
]

_real_getaddrinfo = socket.getaddrinfo
_real_create_connection = urllib3_connection.create_connection


class ScriptedDns:
    """Answers lookups of the names it was given: each lookup takes the next scripted answer,
    the last one repeats. Other names go to the real resolver."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def add(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in self.answers:
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        self.lookups.append(name)
        queue = self.answers[name]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        port = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]


@pytest.fixture
def dns(monkeypatch):
    resolver = ScriptedDns()
    resolver.add("loopback.test", ["127.0.0.1"])
    resolver.add("hooks.test", [PUBLIC])
    resolver.add("mixed.test", [PUBLIC, "10.0.0.7"])
    monkeypatch.setattr(socket, "getaddrinfo", resolver.getaddrinfo)
    return resolver


@pytest.fixture
def connects(monkeypatch):
    """Every (host, port) a connection was opened to. Loopback goes through; anything else
    fails at once, so no test reaches the network."""
    seen: list[tuple[str, int]] = []

    def spy(address, *args, **kwargs):
        seen.append(address)
        if address[0] in LOOPBACK_HOSTS:
            return _real_create_connection(address, *args, **kwargs)
        raise OSError(errno.ENETUNREACH, "no network in the tests")

    monkeypatch.setattr(urllib3_connection, "create_connection", spy)
    return seen


def _session() -> OutgoingSession:
    return OutgoingSession(role="test", timeout=(2.0, 5.0))


def _pending_delivery(workspace, url: str) -> WebhookDelivery:
    # written straight to the database, past the registration check
    endpoint = WebhookEndpoint.objects.create(workspace=workspace, url=url, secret="whsec_test")
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=f"evt_{endpoint.pk}",
        event_type="enrichment.completed",
        payload={"id": f"evt_{endpoint.pk}", "type": "enrichment.completed"},
    )


def _port(server: LocalServer) -> int:
    port = urlsplit(server.url()).port
    assert port is not None
    return port


def test_ssrf_private_targets_are_refused_by_default():
    assert django_settings.SLUICE_EGRESS_ALLOW_PRIVATE is False


@pytest.mark.parametrize("form", FORMS)
def test_ssrf_webhook_registration_refuses_internal_targets(api, dns, connects, form):
    response = api.post("/api/v2/webhooks", {"url": FORMS[form].format(port=8080)})

    assert_error(response, 400, "validation_error")
    assert "pw" not in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
    assert connects == []
    count_case("ssrf: registrations refused")


@pytest.mark.parametrize("form", FORMS)
def test_ssrf_webhook_delivery_refuses_internal_targets_without_a_request(
    workspace, dns, connects, form
):
    with LocalServer(Reply(200)) as receiver:
        delivery = _pending_delivery(workspace, FORMS[form].format(port=_port(receiver)))
        webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error.startswith("refused_url")
    assert "pw" not in delivery.last_error
    assert receiver.received == []
    assert connects == []
    count_case("ssrf: deliveries refused")


def test_ssrf_webhook_to_a_public_name_is_registered_and_delivered_to_its_address(
    api, dns, connects
):
    created = api.post("/api/v2/webhooks", {"url": "https://hooks.test/sluice"})
    assert created.status_code == 201, created.content

    delivery = WebhookDelivery.objects.create(
        endpoint=WebhookEndpoint.objects.get(pk=created.json()["webhook_id"]),
        event_id="evt_1",
        event_type="enrichment.completed",
        payload={"id": "evt_1"},
    )
    with pytest.raises(WebhookDeliveryError, match="ConnectionError"):
        webhook_deliver(delivery_id=delivery.pk)  # no network here: a retry would follow

    assert connects == [(PUBLIC, 443)]


def test_ssrf_operator_may_allow_private_targets(settings, workspace, dns, connects):
    settings.SLUICE_EGRESS_ALLOW_PRIVATE = True
    with LocalServer(Reply(204)) as receiver:
        port = _port(receiver)
        for form in ("loopback", "loopback-name", "name-resolving-to-loopback"):
            delivery = _pending_delivery(workspace, FORMS[form].format(port=port))
            webhook_deliver(delivery_id=delivery.pk)
            delivery.refresh_from_db()
            assert (form, delivery.status) == (form, "delivered")
    assert len(receiver.received) == 3

    for form in ALWAYS_REFUSED:
        with pytest.raises(RefusedUrl):
            validate_url(FORMS[form].format(port=port))
    for form in set(FORMS) - set(ALWAYS_REFUSED):
        validate_url(FORMS[form].format(port=port))


def test_ssrf_dns_rebinding_after_registration_is_refused_at_delivery(
    api, workspace, dns, connects
):
    # the name is public when the webhook is registered, loopback when it is delivered
    dns.add("rebind.test", [PUBLIC], ["127.0.0.1"])
    with LocalServer(Reply(200)) as receiver:
        created = api.post("/api/v2/webhooks", {"url": f"http://rebind.test:{_port(receiver)}/"})
        assert created.status_code == 201, created.content
        delivery = WebhookDelivery.objects.create(
            endpoint=WebhookEndpoint.objects.get(pk=created.json()["webhook_id"]),
            event_id="evt_1",
            event_type="enrichment.completed",
            payload={"id": "evt_1"},
        )
        webhook_deliver(delivery_id=delivery.pk)

    assert dns.lookups == ["rebind.test", "rebind.test"]  # at registration, at delivery
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.last_error.startswith("refused_url")
    assert receiver.received == []
    assert connects == []


def test_ssrf_dns_rebinding_connection_goes_to_the_checked_address(dns, connects):
    # a second lookup would answer loopback: there is none, the socket goes to the address
    # that was checked
    dns.add("rebind.test", [PUBLIC], ["127.0.0.1"])
    with LocalServer(Reply(200)) as receiver:
        port = _port(receiver)
        with pytest.raises(requests.ConnectionError):
            _session().get(f"http://rebind.test:{port}/")

    assert dns.lookups == ["rebind.test"]
    assert connects == [(PUBLIC, port)]
    assert receiver.received == []


def test_ssrf_a_name_resolving_to_loopback_is_refused_at_connect_time(dns, connects):
    with (
        LocalServer(Reply(200)) as receiver,
        pytest.raises(RefusedUrl, match="resolves to a loopback address"),
    ):
        _session().get(f"http://loopback.test:{_port(receiver)}/")

    assert receiver.received == []
    assert connects == []


# --- providers ----------------------------------------------------------------------------------

PERSON = PersonInput(first_name="Ada", last_name="Lovelace", domain="example.com")


@responses.activate
@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254/v2",
        "http://127.0.0.1:8080/v2",
        "http://[::ffff:10.0.0.1]/v2",
        "http://metadata.google.internal/v2",
    ],
)
def test_ssrf_provider_pointed_at_an_internal_address_calls_nothing(base_url):
    responses.add("GET", f"{base_url}/email-finder", json={})
    outcome = HunterProvider(api_key="k", base_url=base_url).find_email(PERSON)

    assert (outcome.kind, outcome.provider_status) == (OutcomeKind.PERMANENT_ERROR, "refused_url")
    assert len(responses.calls) == 0


def test_ssrf_provider_base_urls_pass_the_policy(dns):
    base_urls = sorted(
        cls.base_url
        for cls in REGISTRY.values()
        if issubclass(cls, HttpProvider) and cls.base_url  # the sandbox makes no request
    )
    assert len(base_urls) == 7
    for base_url in base_urls:
        host = urlsplit(base_url).hostname
        dns.add(host, [PUBLIC])
        validate_url(base_url)
        assert egress_addresses(host, 443) == [PUBLIC]


# --- TLS to a checked address -------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def certificates(tmp_path):
    """A throw-away CA and a server certificate it signed for `pinned.test`."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=Sluice test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=tmp_path)  # fmt: skip
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=pinned.test", cwd=tmp_path)  # fmt: skip
    (tmp_path / "server.ext").write_text(
        "subjectAltName=DNS:pinned.test\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2",
             "-extfile", "server.ext", cwd=tmp_path)  # fmt: skip
    return tmp_path


class TlsServer:
    """An HTTPS server on 127.0.0.1 recording the SNI name and Host header of each request."""

    def __init__(self, folder: Path) -> None:
        self.server_names: list[str | None] = []
        self.hosts: list[str] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(folder / "server.pem", folder / "server.key")
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hosts.append(self.headers["Host"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]

    def __enter__(self) -> "TlsServer":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_ssrf_checked_connection_keeps_the_host_name_for_tls(settings, dns, certificates):
    settings.SLUICE_EGRESS_ALLOW_PRIVATE = True  # the server is on 127.0.0.1
    dns.add("pinned.test", ["127.0.0.1"])
    dns.add("other.test", ["127.0.0.1"])
    ca = str(certificates / "ca.pem")

    with TlsServer(certificates) as server:
        response = _session().get(f"https://pinned.test:{server.port}/", verify=ca)
        # the certificate is checked against the name, not the address connected to
        with pytest.raises(requests.exceptions.SSLError):
            _session().get(f"https://other.test:{server.port}/", verify=ca)

    assert response.status_code == 200
    assert server.server_names[0] == "pinned.test"
    assert server.hosts == [f"pinned.test:{server.port}"]
