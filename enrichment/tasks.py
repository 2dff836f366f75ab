"""Celery tasks: thin wrappers that take ids, re-fetch, and call one service. Every task is
safe to run twice (see the services)."""

import logging
import random

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from common.context import workflow_id_var
from enrichment.services import execution
from enrichment.services.webhooks import WebhookDeliveryError, webhook_deliver, webhook_give_up

logger = logging.getLogger(__name__)

# Database hiccups (a restarted server, a terminated connection) are worth retrying; Django
# reconnects on the next query.
_TRANSIENT = (OperationalError, InterfaceError)


@shared_task(
    name="enrichment.plan_workflow",
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=8,
)
def plan_workflow(workflow_id: str) -> None:
    token = workflow_id_var.set(workflow_id)
    try:
        execution.workflow_plan(workflow_id=workflow_id)
    finally:
        workflow_id_var.reset(token)


@shared_task(name="enrichment.run_chunk", bind=True, max_retries=8)
def run_chunk(self, workflow_id: str, chunk_no: int) -> None:
    token = workflow_id_var.set(workflow_id)
    try:
        execution.chunk_run(workflow_id=workflow_id, chunk_no=chunk_no)
    except _TRANSIENT as exc:
        if self.request.retries >= self.max_retries:
            logger.error("chunk %s/%s gave up: %s", workflow_id, chunk_no, exc)
            execution.chunk_give_up(workflow_id=workflow_id, chunk_no=chunk_no, reason=str(exc))
            return
        # Exponential backoff with full jitter.
        countdown = random.uniform(0, min(60, 2**self.request.retries))
        raise self.retry(exc=exc, countdown=countdown) from exc
    finally:
        workflow_id_var.reset(token)


@shared_task(name="enrichment.sweep_workflows", autoretry_for=_TRANSIENT, max_retries=3)
def sweep_workflows() -> dict:
    return execution.workflows_sweep()


@shared_task(name="enrichment.deliver_webhook", bind=True)
def deliver_webhook(self, delivery_id: int) -> None:
    try:
        webhook_deliver(delivery_id=delivery_id)
    except WebhookDeliveryError as exc:
        if self.request.retries + 1 >= settings.SLUICE_WEBHOOK_MAX_ATTEMPTS:
            webhook_give_up(delivery_id=delivery_id, reason=str(exc))
            return
        base = settings.SLUICE_WEBHOOK_BACKOFF_SECONDS
        countdown = min(3600, base * 2**self.request.retries) * random.uniform(0.5, 1)
        raise self.retry(exc=exc, countdown=countdown) from exc
