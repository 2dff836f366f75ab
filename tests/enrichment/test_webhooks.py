"""Webhooks: registration over the API, and signed `enrichment.completed` deliveries from a
real worker to a receiver started here, with retries recorded."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction

from common.outgoing_http import NetworkInTransaction, OutgoingSession
from enrichment.models import WebhookDelivery, WebhookEndpoint
from enrichment.services import webhooks
from enrichment.services.webhooks import WebhookDeliveryError, sign, webhook_deliver
from tests.enrichment.conftest import SANDBOX_ENV, wait_terminal
from tests.helpers import assert_error, wait_until
from tests.leads.factories import LeadListFactory
from tests.local_http import LocalServer, Reply, proxy_in_environment
from tests.workers import WorkerProcess


class Receiver:
    """A local HTTP endpoint answering the given statuses in turn (the last one repeats)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.requests = list(statuses), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = (
                    receiver.statuses.pop(0)
                    if len(receiver.statuses) > 1
                    else (receiver.statuses[0])
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _allow_private_targets(settings):
    # The receivers listen on 127.0.0.1: private targets are allowed explicitly (here and in
    # the worker). Refusing them by default is tests/reliability/test_ssrf.py.
    settings.SLUICE_EGRESS_ALLOW_PRIVATE = True


@pytest.fixture
def webhook_worker(sole_consumer):
    worker = WorkerProcess(
        env={
            **SANDBOX_ENV,
            "SLUICE_EGRESS_ALLOW_PRIVATE": "true",
            "SLUICE_WEBHOOK_BACKOFF_SECONDS": "0.05",
            "SLUICE_WEBHOOK_MAX_ATTEMPTS": "3",
        }
    ).start()
    yield worker
    worker.kill()  # the test's assertions are done; its data is flushed next


def _register(api, url: str) -> dict:
    response = api.post("/api/v2/webhooks", {"url": url}, format="json")
    assert response.status_code == 201
    return response.json()


def _enrich_person(api, workspace) -> str:
    lead_list = LeadListFactory(workspace=workspace)
    response = api.post(
        "/api/v2/enrichment/person",
        {"lead_list_id": str(lead_list.pk), "email": "ada@lovelace.example"},
        format="json",
    )
    return response.json()["workflow_id"]


@pytest.mark.django_db
def test_webhooks_register_list_delete(api, other_api):
    created = _register(api, "https://hooks.example.com/sluice")
    assert created["secret"].startswith("whsec_")

    listed = api.get("/api/v2/webhooks").json()["webhooks"]
    assert [w["webhook_id"] for w in listed] == [created["webhook_id"]]
    assert "secret" not in listed[0]
    assert_error(other_api.delete(f"/api/v2/webhooks/{created['webhook_id']}"), 404, "not_found")
    assert_error(
        api.post("/api/v2/webhooks", {"url": "ftp://x.example"}, format="json"),
        400,
        "validation_error",
    )

    assert api.delete(f"/api/v2/webhooks/{created['webhook_id']}").status_code == 204
    assert api.get("/api/v2/webhooks").json()["webhooks"] == []
    assert WebhookEndpoint.objects.get(pk=created["webhook_id"]).is_active is False
    assert_error(api.delete(f"/api/v2/webhooks/{created['webhook_id']}"), 404, "not_found")


def test_webhooks_register_refuses_a_url_with_credentials(api):
    # given a URL the delivery policy refuses (credentials would go out as Basic auth)
    response = api.post(
        "/api/v2/webhooks", {"url": "https://user:pw@hooks.example.com/x"}, format="json"
    )

    # then it is refused at registration, without echoing the credentials, and nothing is kept
    assert_error(response, 400, "validation_error")
    assert "pw" not in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_webhooks_signed_delivery_after_retries(api, funded, webhook_worker):
    receiver = Receiver([500, 500, 200])
    try:
        secret = _register(api, receiver.url)["secret"]
        workflow = wait_terminal(_enrich_person(api, funded))

        delivery = wait_until(
            lambda: WebhookDelivery.objects.filter(status="delivered").first(), timeout=30
        )
    finally:
        receiver.close()

    assert (delivery.attempts, delivery.last_status_code) == (3, 200)
    assert len(receiver.requests) == 3
    headers, body = receiver.requests[-1]
    event = json.loads(body)
    assert (event["type"], event["data"]["workflow_id"]) == ("enrichment.completed", workflow.pk)
    assert event["data"]["status"] == workflow.status
    assert event["data"]["credits_charged"] == workflow.credits_charged
    timestamp = int(headers["Sluice-Signature"].split(",")[0].removeprefix("t="))
    assert headers["Sluice-Signature"] == sign(secret=secret, timestamp=timestamp, body=body)


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_webhooks_give_up_after_max_attempts(api, funded, webhook_worker):
    receiver = Receiver([503])
    try:
        _register(api, receiver.url)
        wait_terminal(_enrich_person(api, funded))
        delivery = wait_until(
            lambda: WebhookDelivery.objects.filter(status="failed").first(), timeout=30
        )
    finally:
        receiver.close()

    assert delivery.attempts == 3  # SLUICE_WEBHOOK_MAX_ATTEMPTS in the worker
    assert len(receiver.requests) == 3
    assert delivery.last_status_code == 503


def _pending_delivery(workspace, url: str) -> WebhookDelivery:
    endpoint = WebhookEndpoint.objects.create(workspace=workspace, url=url, secret="whsec_test")
    return WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id="evt_1",
        event_type="enrichment.completed",
        payload={"id": "evt_1", "type": "enrichment.completed"},
    )


@pytest.mark.django_db
def test_webhooks_deliver_through_the_outgoing_session(workspace, monkeypatch):
    assert isinstance(webhooks._session, OutgoingSession)
    with proxy_in_environment(monkeypatch) as proxy, LocalServer(Reply(204)) as receiver:
        delivery = _pending_delivery(workspace, receiver.url("/hooks"))
        webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("delivered", 204)
    assert proxy.received == []
    [received] = receiver.received
    assert received.headers["User-Agent"] == "Sluice-Webhooks/1"
    timestamp = int(received.headers["Sluice-Signature"].split(",")[0].removeprefix("t="))
    assert received.headers["Sluice-Signature"] == sign(
        secret="whsec_test", timestamp=timestamp, body=received.body
    )


@pytest.mark.django_db
def test_webhooks_redirect_is_a_failed_attempt_not_followed(workspace):
    with LocalServer(Reply(307, {"Location": "/elsewhere"}), Reply(200)) as receiver:
        delivery = _pending_delivery(workspace, receiver.url("/hooks"))
        with pytest.raises(WebhookDeliveryError, match="HTTP 307"):
            webhook_deliver(delivery_id=delivery.pk)

    assert [r.path for r in receiver.received] == ["/hooks"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == ("pending", 307)


@pytest.mark.django_db
def test_webhooks_url_with_credentials_fails_without_a_request(workspace):
    with LocalServer() as receiver:
        url = receiver.url("/hooks").replace("http://", "http://user:pw@")
        delivery = _pending_delivery(workspace, url)
        webhook_deliver(delivery_id=delivery.pk)

    assert receiver.received == []
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.last_error.startswith("refused_url")
    assert "pw" not in delivery.last_error


@pytest.mark.django_db(transaction=True)
def test_webhooks_delivery_inside_a_transaction_raises_and_sends_nothing(workspace):
    with LocalServer(Reply(200)) as receiver:
        delivery = _pending_delivery(workspace, receiver.url("/hooks"))
        with pytest.raises(NetworkInTransaction), transaction.atomic():
            webhook_deliver(delivery_id=delivery.pk)
        assert receiver.received == []

        webhook_deliver(delivery_id=delivery.pk)

    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    # the refused attempt was rolled back with its transaction
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
