"""The one place that enqueues enrichment work.

Tasks are looked up by their registered name, not imported from `enrichment.tasks`: the tasks
call the services, and the services enqueue (after their commit), so an import here would close
the cycle tasks -> services -> dispatch -> tasks. The names below are the tasks' own (a test
checks that each is registered). A task is published through its registered object, so its
declared queue and options apply wherever it is sent from.
"""

from collections.abc import Iterable
from typing import Any

from celery import Task, current_app
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from enrichment.models import Workflow

PLAN_WORKFLOW = "enrichment.plan_workflow"
RUN_CHUNK = "enrichment.run_chunk"
DELIVER_WEBHOOK = "enrichment.deliver_webhook"
RECOVER_ORPHANS = "enrichment.recover_orphans"
TASK_NAMES = (PLAN_WORKFLOW, RUN_CHUNK, DELIVER_WEBHOOK, RECOVER_ORPHANS)

# What a broker that cannot take a message raises (connection refused, timed out, reset).
BROKER_ERRORS = (OperationalError, OSError)


def _task(name: str) -> Task:
    app = current_app
    if name not in app.tasks:
        # A worker loads every app's tasks module at start; any other process (the web, a
        # command) on its first enqueue.
        app.loader.import_default_modules()
    return app.tasks[name]


def _send(
    name: str, *args: object, countdown: float | None = None, queue: str | None = None
) -> None:
    options: dict[str, Any] = {"countdown": countdown} if countdown else {}
    if queue:
        options["queue"] = queue
    _task(name).apply_async(args=args, **options)


def workflow_first_step(*, workflow: Workflow) -> None:
    """A person run goes straight to its one chunk; a bulk or task run is planned first. Both
    go to the planning queue (the starts), whatever the chunk queue's backlog.
    Raises one of BROKER_ERRORS when the broker refuses; the caller decides what that means."""
    if workflow.kind == Workflow.Kind.PERSON:
        # Someone waits for this one lookup: it goes with the starts, not behind bulk chunks.
        _send(RUN_CHUNK, workflow.pk, 0, queue=settings.SLUICE_PLANNING_QUEUE or None)
    else:
        _send(PLAN_WORKFLOW, workflow.pk)
    # The sweeper waits a grace period after the latest dispatch before it sends another.
    Workflow.objects.filter(pk=workflow.pk).update(dispatched_at=timezone.now())


def chunks(*, workflow_id: str, chunk_nos: Iterable[int], per_message: int = 1) -> int:
    """Sends the chunks, `per_message` to a message (run one after the other by the worker that
    takes it, enrichment.services.execution.chunks_run); returns how many chunks were sent."""
    nos = list(chunk_nos)
    step = max(1, per_message)
    for start in range(0, len(nos), step):
        first, *more = nos[start : start + step]
        if more:
            _send(RUN_CHUNK, workflow_id, first, more)
        else:
            _send(RUN_CHUNK, workflow_id, first)
    return len(nos)


def webhook_deliveries(*, delivery_ids: Iterable[int]) -> None:
    for delivery_id in delivery_ids:
        _send(DELIVER_WEBHOOK, delivery_id)


def orphans_recovery() -> None:
    """A worker that (re)connects to the broker looks for orphaned chunks at once (dead claims,
    and queued chunks whose message a dead worker may have held), and for dead claims again once
    a claim its predecessor held must have expired: it may replace a worker killed a moment ago,
    whose leases are still running out."""
    _send(RECOVER_ORPHANS, True)
    _send(
        RECOVER_ORPHANS,
        False,
        countdown=settings.SLUICE_CLAIM_TTL_SECONDS + settings.SLUICE_CLAIM_HEARTBEAT_SECONDS,
    )
