"""Signed `enrichment.completed` callbacks to the URLs a workspace registered.

Each delivery is signed like Stripe's: header `Sluice-Signature: t=<unix>,v1=<hex>` where the
hex is HMAC-SHA256 of `"<t>.<raw body>"` under the endpoint's secret, so a receiver can check
both origin and freshness. Deliveries are recorded and retried with backoff (see tasks).
"""

import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Workspace
from common.exceptions import NotFound, ValidationFailed
from common.outgoing_http import OutgoingSession, RefusedUrl, validate_url
from enrichment import dispatch
from enrichment.models import WebhookDelivery, WebhookEndpoint, Workflow

EVENT_COMPLETED = "enrichment.completed"
MAX_ENDPOINTS_PER_WORKSPACE = 20
_WEBHOOK_ID = re.compile(r"[0-9]{1,18}")
_session = OutgoingSession(
    role="webhook", timeout=settings.SLUICE_WEBHOOK_TIMEOUT_SECONDS, user_agent="Sluice-Webhooks/1"
)


class WebhookDeliveryError(Exception):
    """A delivery attempt that may succeed later (network error, timeout, non-2xx)."""


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def webhook_create(*, workspace: Workspace, url: str) -> WebhookEndpoint:
    # Refused at registration by the policy that refuses it at delivery: the host is resolved
    # now, and again when a delivery connects (common/outgoing_http.py).
    try:
        validate_url(url)
    except RefusedUrl as exc:
        raise ValidationFailed(details={"url": [str(exc)]}) from None
    if WebhookEndpoint.objects.filter(workspace=workspace, is_active=True).count() >= (
        MAX_ENDPOINTS_PER_WORKSPACE
    ):
        raise ValidationFailed(
            details={"url": [f"At most {MAX_ENDPOINTS_PER_WORKSPACE} webhooks per workspace."]}
        )
    return WebhookEndpoint.objects.create(
        workspace=workspace, url=url, secret=f"whsec_{secrets.token_urlsafe(32)}"
    )


def webhook_delete(*, workspace: Workspace, webhook_id: str) -> None:
    # ASCII digits only, and within a bigint: `isdigit()` also accepts "²" and "٣".
    if not _WEBHOOK_ID.fullmatch(str(webhook_id)):
        raise NotFound(f"No webhook {webhook_id}.")
    updated = WebhookEndpoint.objects.filter(
        workspace=workspace, pk=int(webhook_id), is_active=True
    ).update(is_active=False)
    if not updated:
        raise NotFound(f"No webhook {webhook_id}.")


def event_payload(workflow: Workflow) -> dict[str, Any]:
    # Imported here, not at the top: the serializers bring DRF, which a worker process needs
    # only when it settles a run some endpoint listens to (docs/operations.md, "Worker memory").
    from enrichment.serializers import WorkflowEventDataSerializer

    return {
        "id": f"evt_{workflow.pk}",
        "type": EVENT_COMPLETED,
        "created": int(time.time()),
        "data": WorkflowEventDataSerializer(workflow).data,
    }


def webhooks_enqueue_for(*, workflow: Workflow) -> None:
    """Records one delivery per active endpoint (once per event) and sends them after commit.
    Smart-agent runs send none: the event and its body describe an enrichment."""
    if workflow.kind == Workflow.Kind.AGENT:
        return
    endpoints = list(
        WebhookEndpoint.objects.filter(workspace=workflow.workspace_id, is_active=True)
    )
    if not endpoints:
        return
    payload = event_payload(workflow)
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                event_id=payload["id"],
                event_type=EVENT_COMPLETED,
                payload=payload,
            )
            for endpoint in endpoints
        ],
        ignore_conflicts=True,
    )
    ids = list(
        WebhookDelivery.objects.filter(
            event_id=payload["id"], status=WebhookDelivery.Status.PENDING
        ).values_list("pk", flat=True)
    )

    transaction.on_commit(lambda: dispatch.webhook_deliveries(delivery_ids=ids))


def webhook_deliver(*, delivery_id: int) -> None:
    """One attempt. Raises WebhookDeliveryError when worth retrying; a URL the outgoing policy
    refuses fails the delivery at once. A redirect is a non-2xx answer, never followed."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "Sluice-Event": delivery.event_type,
        "Sluice-Delivery": str(delivery.pk),
        "Sluice-Signature": sign(secret=delivery.endpoint.secret, timestamp=timestamp, body=body),
    }
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    try:
        response = _session.post(
            delivery.endpoint.url,
            data=body,
            headers=headers,
            timeout=settings.SLUICE_WEBHOOK_TIMEOUT_SECONDS,
        )
    except RefusedUrl as exc:
        webhook_give_up(delivery_id=delivery.pk, reason=f"refused_url: {exc}")
        return
    except requests.RequestException as exc:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(last_error=type(exc).__name__)
        raise WebhookDeliveryError(type(exc).__name__) from None
    if not 200 <= response.status_code < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            last_status_code=response.status_code, last_error=f"HTTP {response.status_code}"
        )
        raise WebhookDeliveryError(f"HTTP {response.status_code}")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.DELIVERED,
        last_status_code=response.status_code,
        last_error="",
        delivered_at=timezone.now(),
    )


def webhook_give_up(*, delivery_id: int, reason: str) -> None:
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED, last_error=reason[:500]
    )
