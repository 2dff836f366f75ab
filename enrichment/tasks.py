"""Celery tasks: thin wrappers that take ids, re-fetch, and call one service. Every task is
safe to run twice (see the services); names, queues and retries come from sluice_task."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from celery.signals import worker_process_init, worker_process_shutdown
from django.conf import settings

from common.context import workflow_id_var
from common.task_decorator import TRANSIENT_ERRORS, sluice_task
from enrichment.services import execution
from enrichment.services.webhooks import WebhookDeliveryError, webhook_deliver, webhook_give_up

logger = logging.getLogger(__name__)


@contextmanager
def _workflow_logging(workflow_id: str) -> Iterator[None]:
    """Every line logged inside carries the workflow id."""
    token = workflow_id_var.set(workflow_id)
    try:
        yield
    finally:
        workflow_id_var.reset(token)


@worker_process_init.connect
def _chunk_drivers_start(**_: object) -> None:
    execution.chunk_drivers_start()


@worker_process_shutdown.connect
def _chunk_drivers_stop(**_: object) -> None:
    execution.chunk_drivers_stop()


@sluice_task(
    name="enrichment.plan_workflow", queue=settings.SLUICE_PLANNING_QUEUE, backoff_cap_s=600
)
def plan_workflow(workflow_id: str) -> None:
    with _workflow_logging(workflow_id):
        execution.workflow_plan(workflow_id=workflow_id)


def _chunk_give_up(
    workflow_id: str, chunk_no: int, more: list[int] | None = None, *, error: Exception
) -> None:
    with _workflow_logging(workflow_id):
        logger.error("chunk %s/%s gave up: %s", workflow_id, chunk_no, error)
        execution.chunks_give_up(
            workflow_id=workflow_id, chunk_nos=[chunk_no, *(more or [])], reason=str(error)
        )


@sluice_task(name="enrichment.run_chunk", queue=settings.SLUICE_CHUNK_QUEUE, give_up=_chunk_give_up)
def run_chunk(workflow_id: str, chunk_no: int, more: list[int] | None = None) -> None:
    """Runs a chunk, and the chunks after it the planner sent in the same message."""
    with _workflow_logging(workflow_id):
        execution.chunks_run(workflow_id=workflow_id, chunk_nos=[chunk_no, *(more or [])])


@sluice_task(
    name="enrichment.sweep_workflows", queue=settings.SLUICE_HOUSEKEEPING_QUEUE, max_retries=3
)
def sweep_workflows() -> dict:
    return execution.workflows_sweep()


@sluice_task(
    name="enrichment.recover_orphans", queue=settings.SLUICE_HOUSEKEEPING_QUEUE, max_retries=3
)
def recover_orphans(queued_too: bool = False) -> int:
    return execution.orphans_and_planners_recover(queued_too=queued_too)


def _webhook_give_up(delivery_id: int, *, error: Exception) -> None:
    webhook_give_up(delivery_id=delivery_id, reason=str(error))


@sluice_task(
    name="enrichment.deliver_webhook",
    queue=settings.SLUICE_WEBHOOK_QUEUE,
    retry_on=(WebhookDeliveryError, *TRANSIENT_ERRORS),
    # SLUICE_WEBHOOK_MAX_ATTEMPTS counts the first attempt too.
    max_retries=settings.SLUICE_WEBHOOK_MAX_ATTEMPTS - 1,
    backoff_base_s=settings.SLUICE_WEBHOOK_BACKOFF_SECONDS,
    backoff_cap_s=3600,
    give_up=_webhook_give_up,
)
def deliver_webhook(delivery_id: int) -> None:
    webhook_deliver(delivery_id=delivery_id)
