"""A workflow's lifecycle: the status transitions (owned here alone), its first enqueue, and the
exactly-once settlement of its credit hold."""

import functools
import logging
from typing import cast

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from common.exceptions import DispatchFailed
from credits import services as credits
from credits.models import RefundStatus
from enrichment import dispatch
from enrichment.models import (
    OPEN_ITEM,
    TERMINAL_WORKFLOW_STATUSES,
    ItemStatus,
    Workflow,
    WorkflowItem,
    WorkflowStatus,
)
from enrichment.services.webhooks import webhooks_enqueue_for

logger = logging.getLogger(__name__)

_ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    WorkflowStatus.RUNNING: (WorkflowStatus.PENDING,),
    WorkflowStatus.COMPLETED: (WorkflowStatus.PENDING, WorkflowStatus.RUNNING),
    WorkflowStatus.FAILED: (WorkflowStatus.PENDING, WorkflowStatus.RUNNING),
    WorkflowStatus.CANCELLED: (WorkflowStatus.PENDING, WorkflowStatus.RUNNING),
}


def workflow_transition(*, workflow_id: str, to_status: str, **fields) -> bool:
    """Moves a workflow to `to_status` if its current status allows it, in one conditional
    UPDATE; returns whether this call made the change (so concurrent callers agree on one
    winner)."""
    now = timezone.now()
    if to_status == WorkflowStatus.RUNNING:
        fields.setdefault("started_at", now)
    elif to_status in TERMINAL_WORKFLOW_STATUSES:
        fields.setdefault("finished_at", now)
    updated = Workflow.objects.filter(pk=workflow_id, status__in=_ALLOWED_FROM[to_status]).update(
        status=to_status, updated_at=now, **fields
    )
    return updated == 1


def workflow_enqueue(*, workflow: Workflow, fail_on_refusal: bool = True) -> None:
    """Sends the workflow's first task. The sweeper calls this again for a workflow whose
    message was lost (`fail_on_refusal=False`): there a refusal is logged and retried on the next
    sweep; for a new start it fails the run, releases its hold and answers 502."""
    try:
        dispatch.workflow_first_step(workflow=workflow)
    except dispatch.BROKER_ERRORS as exc:
        logger.error("broker refused workflow %s: %s", workflow.pk, exc)
        if not fail_on_refusal:
            return
        workflow_fail_to_start(workflow_id=workflow.pk, reason="the task queue refused the work")
        raise DispatchFailed(details={"workflow_id": workflow.pk}) from None


def workflow_fail_to_start(*, workflow_id: str, reason: str) -> None:
    """The run never started (e.g. the broker refused it): fail it and release the whole hold
    at once; nothing was delivered, so nothing goes to review."""
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().get(pk=workflow_id)
        if workflow.is_terminal:
            return
        if workflow.hold_id:
            credits.hold_release(hold_id=workflow.hold_id)
        WorkflowItem.objects.filter(OPEN_ITEM, workflow=workflow, status=ItemStatus.QUEUED).update(
            status=ItemStatus.FAILED, error=reason, finished_at=timezone.now()
        )
        workflow_transition(
            workflow_id=workflow_id,
            to_status=WorkflowStatus.FAILED,
            error=reason,
            credits_charged=0,
            credits_refunded=workflow.credits_reserved,
        )


def _final_status(workflow: Workflow) -> str:
    if workflow.cancel_requested_at:
        return WorkflowStatus.CANCELLED
    delivered = workflow.completed + workflow.not_found
    if workflow.failed and not delivered:
        return WorkflowStatus.FAILED  # every lookup errored: an outage, not a miss
    return WorkflowStatus.COMPLETED


def workflow_settle(*, workflow_id: str, failure: str = "") -> Workflow:
    """Ends the workflow and settles its hold, exactly once (the row lock and the terminal
    check make a second call a no-op). Charges what the items were charged (`items_charged`,
    kept with the items' writes); refunds the rest, except after a failure of ours (`failure`,
    or every lookup errored), where the remainder is held for an operator's refund review."""
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().get(pk=workflow_id)
        if workflow.is_terminal:
            return workflow
        charged = workflow.items_charged
        status = WorkflowStatus.FAILED if failure else _final_status(workflow)
        reason = failure or ("every lookup failed" if status == WorkflowStatus.FAILED else "")
        refunded, refund_status = workflow.credits_reserved - charged, RefundStatus.NOT_APPLICABLE
        if workflow.hold_id and status == WorkflowStatus.FAILED:
            credits.hold_settle_for_review(hold_id=workflow.hold_id, charge=charged, reason=reason)
            refunded, refund_status = 0, RefundStatus.PENDING_REVIEW
        elif workflow.hold_id:
            credits.hold_settle(hold_id=workflow.hold_id, charge=charged)
        workflow_transition(
            workflow_id=workflow_id,
            to_status=status,
            credits_charged=charged,
            credits_refunded=refunded,
            refund_status=refund_status,
            error=reason,
        )
        workflow.refresh_from_db()
        webhooks_enqueue_for(workflow=workflow)
    logger.info(
        "workflow %s %s: charged %s refunded %s",
        workflow.id,
        workflow.status,
        workflow.credits_charged,
        workflow.credits_refunded,
        extra={"workflow_id": workflow.id},
    )
    return workflow


def workflow_settle_if_done(*, workflow_id: str) -> Workflow | None:
    """Settles when every planned item has been processed; the caller that makes
    processed == total gets here, and so does the sweeper, harmlessly. Returns the workflow
    (None if there is none)."""
    settled = _settle_if_due(workflow_id)
    return settled if settled is not None else Workflow.objects.filter(pk=workflow_id).first()


def workflow_settle_when_done(*, workflow_id: str) -> bool:
    """workflow_settle_if_done for the callers that need no workflow back (every chunk, as it
    ends): it reads no workflow unless the run is due to settle (the ORM's load of the whole
    row took ~1 ms of a worker's CPU a chunk). Returns whether the run was due."""
    return _settle_if_due(workflow_id) is not None


def workflows_settle_due() -> int:
    """Settles every running run that is due: its last chunk's process died between writing
    the run's last items and settling it. The sweeper and a worker that connects call this, so
    such a run does not wait for the sweeper's stall grace. Returns how many it settled."""
    planned = Workflow.objects.filter(status=WorkflowStatus.RUNNING, planned=True)
    return sum(
        _settle_if_due(workflow_id) is not None
        for workflow_id in planned.values_list("pk", flat=True)
    )


def _settle_if_due(workflow_id: str) -> Workflow | None:
    """Settles the run if it is due (one small statement, written once per process, asks);
    returns it settled, or None if it was not due."""
    with connection.cursor() as cursor:
        cursor.execute(_settle_due_sql(), [workflow_id, *TERMINAL_WORKFLOW_STATUSES])
        due = cursor.fetchone() is not None
    return workflow_settle(workflow_id=workflow_id) if due else None


@functools.cache
def _settle_due_sql() -> str:
    """Planned, every item processed, not ended yet: the one rule of when a run settles."""
    meta = Workflow._meta
    quote = connection.ops.quote_name
    column = {field.name: quote(cast(str, field.column)) for field in meta.concrete_fields}
    terminal = ", ".join(["%s"] * len(TERMINAL_WORKFLOW_STATUSES))
    return (
        f"SELECT 1 FROM {quote(meta.db_table)} WHERE {column['id']} = %s "  # noqa: S608 - names from the model
        f"AND {column['planned']} AND {column['processed']} >= {column['total']} "
        f"AND {column['status']} NOT IN ({terminal})"
    )


def workflow_cancel(*, workflow: Workflow) -> Workflow:
    """Stops new lookups at once: queued items are cancelled here, running ones finish, and the
    last of them settles the run as cancelled (or we settle now if none is running)."""
    if workflow.is_terminal:
        return workflow
    now = timezone.now()
    Workflow.objects.filter(pk=workflow.pk, cancel_requested_at__isnull=True).update(
        cancel_requested_at=now
    )
    items_cancel_queued(workflow_id=workflow.pk)
    # A bulk run not planned yet is settled by its planner, which sees the request and plans
    # nothing (marking it planned here instead would leave `total` counting leads that never
    # get an item, and the run would wait for them until its deadline).
    return workflow_settle_if_done(workflow_id=workflow.pk) or workflow


def items_cancel_queued(*, workflow_id: str, chunk_no: int | None = None) -> int:
    """Cancels still-queued items and counts them as processed, in one transaction."""
    with transaction.atomic():
        queued = WorkflowItem.objects.filter(
            OPEN_ITEM, workflow_id=workflow_id, status=ItemStatus.QUEUED
        )
        if chunk_no is not None:
            queued = queued.filter(chunk_no=chunk_no)
        count = queued.update(status=ItemStatus.CANCELLED, finished_at=timezone.now())
        if count:
            Workflow.objects.filter(pk=workflow_id).update(
                processed=F("processed") + count,
                cancelled=F("cancelled") + count,
                last_progress_at=timezone.now(),
            )
    return count
