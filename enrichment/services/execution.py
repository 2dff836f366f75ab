"""Running a workflow on the workers: plan its items, run them chunk by chunk through the
waterfall, and sweep for what was lost.

The database is the source of truth and Celery messages are only nudges: every step is a
conditional update, so a duplicated, redelivered or lost message never double-charges or loses
a lead — the sweeper re-sends whatever is due.
"""

import contextvars
import functools
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from celery import current_task
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Field, Q, QuerySet
from django.db.models.functions import Greatest, Now
from django.utils import timezone

from common.bulk import insert_defaults, rows_update_linked, statement_rows, values_rows
from common.context import task_var
from enrichment import chunk_processors, dispatch, waterfall
from enrichment.chunk_layout import ChunkLayout, chunk_layout
from enrichment.models import (
    OPEN_ITEM,
    TERMINAL_WORKFLOW_STATUSES,
    ItemStatus,
    SweeperRun,
    Workflow,
    WorkflowItem,
    WorkflowStatus,
)
from enrichment.selectors import workflow_for_chunk
from enrichment.services import leases
from enrichment.services.lifecycle import (
    items_cancel_queued,
    workflow_enqueue,
    workflow_settle,
    workflow_settle_if_done,
    workflow_settle_when_done,
    workflow_transition,
    workflows_settle_due,
)
from leads.models import Lead, ListMembership

logger = logging.getLogger(__name__)

_PLAN_BATCH = 5000
# The error of an item left out because the run's max_credits was spent (the run summary counts
# these apart from the other skips).
OVER_BUDGET = "max_credits reached"
# How much of a chunk's work a worker writes at a time: the most a process that dies loses
# (its items are claimed again and looked up again, issue 15). One write per slice, so at
# latency 0 (a chunk in well under a second) a chunk is still written once.
SLICE_SECONDS = 1.0
# A planned run's chunks go out several to a message (_per_message), at most this many, and a
# message runs its chunks for at most _MESSAGE_SECONDS before sending the rest again: a task
# stays far inside its time limit and its worker's share of the queue.
_CHUNKS_PER_MESSAGE = 8
_MESSAGES_PER_RUN = 64
_MESSAGE_SECONDS = 30.0
# Chunks a worker process holds at once (chunks_run): the one whose people are being fed to the
# process's engine pool, and the one before it finishing its last calls and writes.
CHUNKS_IN_HAND = 2
# The planner commits and sends a large plan in batches of whole chunks (_insert_items_in_sql):
# first what a process keeps in hand, so that chunks run while the rest is planned (a
# 20,000-item plan took ~0.6 s before any chunk could start, a million ~18 s), then batches
# twice the last, up to this many chunks.
_PLAN_FIRST_CHUNKS = CHUNKS_IN_HAND
_PLAN_CHUNKS_PER_BATCH = 64
# A plan of this many items refreshes the item table's statistics at once: until autovacuum's
# next analyze (a minute or more after the insert), PostgreSQL does not know the run's items
# exist and claims each chunk by reading every queued item of the run (207 ms a chunk at a
# million instead of 2 ms: docs/benchmarks.md, "A million leads"). ANALYZE samples the table,
# a fraction of a second once per large run.
_ANALYZE_AFTER_ITEMS = 20_000
_CHUNK_FILTER_COLUMNS = ("workflow_id", "chunk_no", "status", "claim_token", "claimed_at")
# The SweeperRun row of workflows_sweep.
SWEEP_WORKFLOWS = "enrichment.sweep_workflows"


# --- Planning ---------------------------------------------------------------------------------


def _candidate_lead_ids(workflow: Workflow):
    """Lead ids in scope, in a stable order, without the leads skip_existing leaves out."""
    if workflow.kind == Workflow.Kind.BULK:
        memberships = ListMembership.objects.filter(lead_list_id=workflow.lead_list_id)
        if workflow.output != Workflow.Output.OVERWRITE:
            missing = waterfall.missing_data_filter(
                workflow.enrichment_type, prefix="lead__", output=workflow.output
            )
            memberships = memberships.filter(missing)
        return memberships.order_by("id").values_list("id", "lead_id")
    ids = workflow.entity_ids or []
    return [(position, lead_id) for position, lead_id in enumerate(ids)]


def workflow_plan(*, workflow_id: str) -> None:
    """Expands the scope into items in batches (never the whole list in one query or message)
    and enqueues its chunks, each batch's as soon as it commits. Safe to run twice: items are
    unique per lead, chunk numbers follow the scope's stable order, and chunks claim their
    items conditionally."""
    workflow = Workflow.objects.filter(pk=workflow_id).first()
    if workflow is None or workflow.is_terminal:
        return
    workflow_transition(workflow_id=workflow_id, to_status=WorkflowStatus.RUNNING)
    workflow.refresh_from_db()
    if workflow.is_terminal:
        return
    sent = False
    if not workflow.planned and workflow.cancel_requested_at:
        # Cancelled before planning: nothing to look up; what is processed is the total.
        Workflow.objects.filter(pk=workflow_id, planned=False).update(
            planned=True, total=F("processed"), last_progress_at=timezone.now()
        )
    elif not workflow.planned:
        sent = _insert_items(workflow)
    workflow.refresh_from_db()
    if workflow.cancel_requested_at:
        items_cancel_queued(workflow_id=workflow_id)
    settled = workflow_settle_if_done(workflow_id=workflow_id)
    if sent or settled is None or settled.is_terminal:
        return
    open_chunks = _open_chunks(workflow_id)
    dispatch.chunks(
        workflow_id=workflow_id, chunk_nos=open_chunks, per_message=_per_message(len(open_chunks))
    )


def _per_message(chunks: int) -> int:
    """Chunks per message for a run of `chunks`: a message costs a round trip through the
    broker and the worker's pool, during which the process that asked for it waits (a third of
    a worker's time between 500-lead chunks at latency 0: docs/benchmarks.md), so a large run
    sends several chunks per message, while keeping at least _MESSAGES_PER_RUN messages for
    the worker processes (of every machine) to share."""
    return max(1, min(_CHUNKS_PER_MESSAGE, chunks // _MESSAGES_PER_RUN))


def _insert_items(workflow: Workflow) -> bool:
    """Inserts the scope's items; returns whether their chunks were sent too (the SQL path
    sends each batch's as it commits; the batched path leaves it to the caller)."""
    candidates = _candidate_lead_ids(workflow)
    # Chunks as the start counted the scope (a list's may have grown since: chunk_layout).
    layout = chunk_layout(
        total=len(candidates) if isinstance(candidates, list) else workflow.total,
        size=settings.SLUICE_CHUNK_SIZE,
    )
    if not isinstance(candidates, list) and connection.vendor == "postgresql":
        _insert_items_in_sql(workflow, candidates, layout)
        return True
    with _one_planner(workflow.pk):
        _insert_items_in_batches(workflow, candidates, layout)
    return False


def _insert_items_in_batches(workflow: Workflow, candidates, layout: ChunkLayout) -> None:
    """The scope's items through the ORM, in batches (SQLite, and a by-task run's lead ids)."""
    position, after = 0, None
    while True:
        if isinstance(candidates, list):
            batch = candidates[position : position + _PLAN_BATCH]
        else:
            page = candidates if after is None else candidates.filter(id__gt=after)
            batch = list(page[:_PLAN_BATCH])
        if not batch:
            break
        with transaction.atomic():
            if not _plan_open(workflow.pk):
                return  # expired meanwhile: it counts what it found, nothing more comes
            WorkflowItem.objects.bulk_create(
                [
                    WorkflowItem(
                        workflow_id=workflow.pk,
                        lead_id=lead_id,
                        chunk_no=layout.chunk_no(position + i),
                    )
                    for i, (_, lead_id) in enumerate(batch)
                ],
                ignore_conflicts=True,
            )
        position += len(batch)
        after = batch[-1][0]
    total = WorkflowItem.objects.filter(workflow_id=workflow.pk).count()
    # Only if nobody (the sweeper's expiry) closed the plan meanwhile.
    Workflow.objects.filter(pk=workflow.pk, planned=False).update(
        planned=True,
        total=total,
        chunk_count=layout.chunks_holding(position),
        last_progress_at=timezone.now(),
    )


def _insert_items_in_sql(workflow: Workflow, candidates, layout: ChunkLayout) -> None:
    """The list's items by INSERT … SELECT, numbered into chunks by the same stable order as
    the batched path, without building a model instance per lead (docs/benchmarks.md).

    In batches of whole chunks, each committed and its chunks sent at once, so the first
    chunks run while the rest is planned: the first batch is what a process keeps in hand, each
    next one twice the last, up to _PLAN_CHUNKS_PER_BATCH. Each batch locks the workflow row
    FOR KEY SHARE: the expiry and the settlement (FOR UPDATE) wait for it, the running chunks'
    counter updates do not.

    A chunk the planner runs itself (_send_planned) has no message: the planner returns once
    each has fed its people to the pool (claimed and underway), as a chunk message does, so
    that none is left unclaimed once the planner's message is acked."""
    here: list[_InHand] = []
    try:
        with _one_planner(workflow.pk):
            _insert_batches(workflow, candidates, layout, here)
    finally:
        for chunk in here:
            chunk.fed.wait()


@contextmanager
def _one_planner(workflow_id: str) -> Iterator[None]:
    """One planner at a time per run (a session advisory lock): plan batches lock the workflow
    row FOR KEY SHARE, which does not keep a second planner (a duplicate message) out, and one
    that inserted after the first had counted `total` would leave items the count misses.
    The lock is also how planners_recover tells a live planner from a dead one. On PostgreSQL
    only (SQLite has no such lock; the embedded mode runs one worker)."""
    if connection.vendor != "postgresql":
        yield
        return
    key = _plan_lock_key(workflow_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])


def _plan_lock_key(workflow_id: str) -> str:
    return f"plan:{workflow_id}"


def planners_recover() -> int:
    """Sends the planner again for each running run whose plan is unfinished while no planner
    holds its plan lock (_one_planner): the planner's process died mid-plan, and the broker
    would return its message only after the visibility timeout (the sweeper's stall grace
    found it a minute later: docs/reliability.md, "Measured"). A planner whose message is
    still queued gets a duplicate, which finds the plan done or waits for the lock: harmless,
    as the sweeper's. Returns how many were sent. PostgreSQL only (the lock is its own)."""
    if connection.vendor != "postgresql":
        return 0
    sent = 0
    for workflow in Workflow.objects.filter(status=WorkflowStatus.RUNNING, planned=False):
        if _planner_alive(workflow.pk):
            continue
        workflow_enqueue(workflow=workflow, fail_on_refusal=False)
        sent += 1
    return sent


def orphans_and_planners_recover(*, queued_too: bool = False) -> int:
    """What a worker that (re)connects asks for (dispatch.orphans_recovery): the chunks of dead
    claims (with `queued_too`, the queued chunks whose messages a dead worker may have held),
    the planners that died mid-plan, and the runs left due to settle. Returns how many chunks
    and planners it sent."""
    sent = leases.orphans_recover(queued_too=queued_too) + planners_recover()
    workflows_settle_due()
    return sent


def _planner_alive(workflow_id: str) -> bool:
    """Whether a planner holds the run's plan lock (tested by taking it, and letting go)."""
    key = _plan_lock_key(workflow_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
        (free,) = cursor.fetchone()
        if free:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
    return not free


def _insert_batches(
    workflow: Workflow, candidates, layout: ChunkLayout, here: list["_InHand"]
) -> None:
    columns, defaults = insert_defaults(WorkflowItem, skip=("workflow_id", "lead_id", "chunk_no"))
    table = WorkflowItem._meta.db_table
    # The start counted the scope (workflow.total): chunks per message as for the whole run.
    per_message = _per_message(layout.chunk_count)
    counted = workflow.total
    # A planner that finds no item plans the run alone (_one_planner): what it inserts is the
    # run's items. One that finds some (a plan cut short and sent again) counts them at the end.
    resumed = WorkflowItem.objects.filter(workflow_id=workflow.pk).exists()
    inserted = last_chunk = 0
    position, after, first_chunk, batch_chunks = 0, None, 0, _PLAN_FIRST_CHUNKS
    while True:
        # The batch's chunks by where each begins: the item at `position + i` goes to the last
        # chunk beginning at or before it (width_bucket), as layout.chunk_no says.
        starts = [layout.start(first_chunk + i) for i in range(batch_chunks + 1)]
        page = candidates if after is None else candidates.filter(id__gt=after)
        select, params = page[: starts[-1] - position].query.sql_with_params()
        with transaction.atomic(), connection.cursor() as cursor:
            if not _plan_open(workflow.pk, share=True):
                return  # expired meanwhile: it counts what it found, nothing more comes
            cursor.execute(
                f"WITH batch (id, lead_id) AS MATERIALIZED ({select}), "  # noqa: S608
                f"inserted AS (INSERT INTO {table} (workflow_id, lead_id, chunk_no, "
                f"{', '.join(columns)}) SELECT %s, b.lead_id, "
                "%s + width_bucket(%s + row_number() OVER (ORDER BY b.id) - 1, %s::bigint[]) - 1, "
                f"{', '.join(['%s'] * len(defaults))} FROM batch AS b "
                "ON CONFLICT (workflow_id, lead_id) DO NOTHING RETURNING chunk_no) "
                "SELECT count(*), max(id), (SELECT count(*) FROM inserted), "
                "(SELECT max(chunk_no) FROM inserted) FROM batch",
                [*params, workflow.pk, first_chunk, position, starts[:-1], *defaults],
            )
            rows, after, batch_inserted, batch_last_chunk = cursor.fetchone()
            inserted += batch_inserted
            last_chunk = max(last_chunk, batch_last_chunk or 0)
            if position + rows > counted:
                # More items than the start counted (the list grew since): `total` follows
                # before their chunks go out, so that no chunk counts past it.
                counted = position + rows
                Workflow.objects.filter(pk=workflow.pk, planned=False).update(
                    total=Greatest("total", counted)
                )
        position += rows
        if rows:
            chunks = range(first_chunk, layout.chunks_holding(position))
            _send_planned(workflow.pk, chunks, layout=layout, per_message=per_message, here=here)
        if position < starts[-1]:
            break
        first_chunk += batch_chunks
        batch_chunks = min(2 * batch_chunks, _PLAN_CHUNKS_PER_BATCH)
    total, chunk_count = inserted, (last_chunk + 1 if inserted else 0)
    if resumed:
        # Recounted (1.2 s of the database's CPU at a million items): the items of the plan
        # cut short may include leads that have since left the scope.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*), coalesce(max(chunk_no) + 1, 0) FROM {table} "  # noqa: S608
                "WHERE workflow_id = %s",
                [workflow.pk],
            )
            total, chunk_count = cursor.fetchone()
    # Only if nobody (the sweeper's expiry) closed the plan meanwhile.
    Workflow.objects.filter(pk=workflow.pk, planned=False).update(
        planned=True, total=total, chunk_count=chunk_count, last_progress_at=timezone.now()
    )
    if total >= _ANALYZE_AFTER_ITEMS or _statistics_behind(table, total):
        # Only the columns the chunks' statements filter on: the whole table's (its attempts
        # JSON above all) took 650 ms for 20,000 items, before any chunk could start; these
        # take 80 ms and give the claims the same plan (docs/benchmarks.md, "Pipeline").
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {table} ({', '.join(_CHUNK_FILTER_COLUMNS)})")


def _statistics_behind(table: str, items: int) -> bool:
    """Whether PostgreSQL's statistics know fewer rows in the table than this plan alone added:
    none yet (`reltuples` -1), or taken while the table was empty (a new deployment's, until
    autovacuum's next analyze). A small run's result writes were then planned as a sequential
    scan of the items per slice (~130 ms a 500-item slice instead of ~3 ms at 5,000 items:
    docs/benchmarks.md, "Writing a chunk's results, second pass"); the ANALYZE of so small a
    table costs a few ms."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        row = cursor.fetchone()
    return row is not None and row[0] < items


def _send_planned(
    workflow_id: str,
    chunk_nos: range,
    *,
    layout: ChunkLayout,
    per_message: int,
    here: list["_InHand"],
) -> None:
    """Sends freshly planned chunks: whole ones `per_message` to a message, the run's smaller
    last ones one to a message, so that the run ends in small pieces whoever takes them.

    In a worker's pool process the batch's first chunk runs here instead, if one of the
    process's chunk drivers is free: the planner holds its process for the whole plan (0.4 to
    2 s for 20,000 items), during which that process's pool had nothing to do and the run
    went at half speed (docs/benchmarks.md, "The run's start and end"). One chunk a batch, so
    that the first batch's other chunk still goes to another process at once; and only once
    the chunks it started before have fed the pool, as a message's next chunk waits (at
    latency 0 a chunk is fed when done: one chunk at a time, as in any process). Those it
    starts are added to `here`."""
    drivers = _drivers if _drivers is not None and _drivers.pid == os.getpid() else None
    ready = chunk_nos and drivers and all(chunk.fed.is_set() for chunk in here)
    started = drivers.start_if_free(workflow_id, chunk_nos[0]) if ready and drivers else None
    if started is not None:
        here.append(started)
        chunk_nos = chunk_nos[1:]
    tail_from = max(chunk_nos.start, min(layout.full, chunk_nos.stop))
    whole, tail = range(chunk_nos.start, tail_from), range(tail_from, chunk_nos.stop)
    if whole:
        dispatch.chunks(workflow_id=workflow_id, chunk_nos=whole, per_message=per_message)
    if tail:
        dispatch.chunks(workflow_id=workflow_id, chunk_nos=tail)


def _plan_open(workflow_id: str, *, share: bool = False) -> bool:
    """Inside the planner's transaction: locks the workflow row and says whether items may
    still be added. _expire closes the plan under a FOR UPDATE lock, so a batch is either in
    before the expiry fails every open item, or never written (no queued item on a finished
    run). With `share`, FOR KEY SHARE: enough to keep the expiry and the settlement out, while
    the run's chunks, already running, still count their items on the row."""
    if not share:
        workflow = Workflow.objects.select_for_update().only("status", "planned")
        locked = workflow.get(pk=workflow_id)
        return not locked.planned and not locked.is_terminal
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT planned, status FROM {Workflow._meta.db_table} "  # noqa: S608
            "WHERE id = %s FOR KEY SHARE",
            [workflow_id],
        )
        planned, status = cursor.fetchone()
    return not planned and status not in TERMINAL_WORKFLOW_STATUSES


def _open_chunks(workflow_id: str) -> list[int]:
    """Chunks that still have work: queued items, or running ones whose lease expired."""
    items = leases.claim_dead(WorkflowItem.objects.filter(OPEN_ITEM, workflow_id=workflow_id))
    if connection.vendor != "postgresql":
        return list(items.order_by("chunk_no").values_list("chunk_no", flat=True).distinct())
    # The run's chunks not yet closed, each read up to one open item (leases.open_chunks), not
    # every item of the run: a chunk showing a queued item has work; a claimed one is looked at.
    chunks = leases.open_chunks(workflow_id=workflow_id)
    queued = {chunk_no for _, chunk_no, status in chunks if status == ItemStatus.QUEUED}
    claimed = [chunk_no for _, chunk_no, status in chunks if status != ItemStatus.QUEUED]
    if claimed:
        queued.update(
            items.filter(chunk_no__in=claimed).values_list("chunk_no", flat=True).distinct()
        )
    return sorted(queued)


# --- Chunks -----------------------------------------------------------------------------------


def _claim(workflow: Workflow, chunk_no: int, token: str) -> QuerySet[WorkflowItem]:
    """Claims the chunk's claimable items for `token`; returns them (not yet loaded)."""
    # Held and renewed from before the claim until chunk_run returns: a live owner's claim is
    # never taken over, a dead one's within seconds (enrichment/services/leases.py).
    leases.lease_keep(workflow_id=workflow.pk, chunk_no=chunk_no, token=token)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_claim_sql(), _claim_params(workflow, chunk_no, token))
    else:
        claimable = leases.claim_dead(
            WorkflowItem.objects.filter(OPEN_ITEM, workflow=workflow, chunk_no=chunk_no)
        ).values("id")
        with transaction.atomic():
            WorkflowItem.objects.filter(id__in=claimable).update(
                status=ItemStatus.RUNNING, claim_token=token, claimed_at=Now()
            )
    return WorkflowItem.objects.filter(
        OPEN_ITEM, workflow=workflow, chunk_no=chunk_no, claim_token=token
    ).order_by("id")


def _claim_rows(workflow: Workflow, chunk_no: int, token: str) -> list[waterfall.Row]:
    """_claim for the waterfall's own chunks: the claimed items with their leads, as rows
    (waterfall.chunk_rows). On PostgreSQL the claim and the read are one statement (the
    claim's RETURNING joined with the leads), one round trip instead of two."""
    if connection.vendor != "postgresql":
        claimed = _claim(workflow, chunk_no, token)
        lead_fields = waterfall.LEAD_READ_FIELDS
        fields = ["id", "lead_id", *(f"lead__{name}" for name in lead_fields)]
        return waterfall.chunk_rows(values_rows(claimed.values_list(*fields)))
    leases.lease_keep(workflow_id=workflow.pk, chunk_no=chunk_no, token=token)  # as _claim
    rows = statement_rows(_claim_rows_sql(), _claim_params(workflow, chunk_no, token))
    return waterfall.chunk_rows(rows)


def _claim_params(workflow: Workflow, chunk_no: int, token: str) -> list[Any]:
    return [ItemStatus.RUNNING, token, workflow.pk, chunk_no, *leases.claim_dead_params()]


@functools.cache
def _claim_sql() -> str:
    """The claim on PostgreSQL, one statement and so its own transaction (the locks it takes,
    its items' and the dead owners' advisory ones it tests, last until it commits): the
    chunk's claimable items (leases.CLAIM_DEAD_SQL) locked, skipping those another claim
    holds, and claimed for the token. Written once per process: compiling it from a queryset
    cost a worker ~1 ms of CPU a chunk. Parameters: _claim_params."""
    items = connection.ops.quote_name(WorkflowItem._meta.db_table)
    return (
        f"UPDATE {items} "  # noqa: S608 - names are ours
        "SET status = %s, claim_token = %s, claimed_at = STATEMENT_TIMESTAMP() WHERE id IN ("
        f"SELECT i.id FROM {items} i WHERE i.workflow_id = %s AND i.chunk_no = %s "
        f"AND i.finished_at IS NULL AND {leases.CLAIM_DEAD_SQL} FOR UPDATE SKIP LOCKED)"
    )


@functools.cache
def _claim_rows_sql() -> str:
    """_claim_sql returning the claimed items with their leads' LEAD_READ_FIELDS."""
    quote = connection.ops.quote_name
    columns = {key: f.column for f in Lead._meta.concrete_fields for key in (f.name, f.attname)}
    leads = ", ".join(f"l.{quote(str(columns[name]))}" for name in waterfall.LEAD_READ_FIELDS)
    return (
        f"WITH claimed AS ({_claim_sql()} RETURNING id, lead_id) "  # noqa: S608 - names are ours
        f"SELECT claimed.id, claimed.lead_id, {leads} FROM claimed "
        f"JOIN {quote(Lead._meta.db_table)} l ON l.id = claimed.lead_id ORDER BY claimed.id"
    )


def _claim_budget(workflow: Workflow, wanted_cost: int) -> int:
    """Under a max_credits cap, reserves up to `wanted_cost` of the run's budget for a chunk
    (worst case: everything found) and returns what it got. Without a cap the hold covers
    every item, so the whole cost is granted."""
    if workflow.max_credits is None:
        return wanted_cost
    with transaction.atomic():
        locked = Workflow.objects.select_for_update().get(pk=workflow.pk)
        granted = max(0, min(wanted_cost, locked.credits_reserved - locked.budget_claimed))
        Workflow.objects.filter(pk=workflow.pk).update(budget_claimed=F("budget_claimed") + granted)
    return granted


def chunks_run(*, workflow_id: str, chunk_nos: list[int]) -> None:
    """Runs a message's chunks one after the other. Each is claimed, leased and written on its
    own (chunk_run), so a worker that dies loses what it loses in one chunk; the chunks it had
    not started are still queued, and the sweeper (or a worker joining) sends them again. Those
    not started within _MESSAGE_SECONDS are sent again now, in a message of their own.

    In a worker process (chunk_drivers_start) the chunks run on the process's chunk drivers and
    overlap: see _ChunkDrivers."""
    if _drivers is not None and _drivers.pid == os.getpid():
        _drivers.run(workflow_id=workflow_id, chunk_nos=chunk_nos)
        return
    started = time.monotonic()
    for position, chunk_no in enumerate(chunk_nos):
        if position and time.monotonic() - started > _MESSAGE_SECONDS:
            _send_rest(workflow_id, chunk_nos[position:])
            return
        chunk_run(workflow_id=workflow_id, chunk_no=chunk_no)


def _send_rest(workflow_id: str, chunk_nos: list[int]) -> None:
    dispatch.chunks(workflow_id=workflow_id, chunk_nos=chunk_nos, per_message=len(chunk_nos))


@dataclass(eq=False)
class _InHand:
    """A chunk on a driver thread, and who answers for its failure: the message that started it
    while that message runs, the driver itself once the message has returned (detached)."""

    workflow_id: str
    chunk_no: int
    fed: threading.Event = field(default_factory=threading.Event)
    finished: bool = False
    detached: bool = False
    error: Exception | None = None


class _ChunkDrivers:
    """A worker process's chunk drivers: up to CHUNKS_IN_HAND chunks at once, on threads of
    their own, feeding the process's one engine pool (providers.engine).

    With 500-lead chunks and 128 threads a chunk lasts ~1.5 s at 200 ms a call, and its tail
    (the last waterfalls, up to three calls long, then the last write) left most threads idle
    (docs/benchmarks.md, "Pipeline"). So a message starts its next chunk, or returns to take the
    next message, as soon as the current chunk has fed the pool all but a pool's worth of its
    people (`fed`); that chunk finishes on its driver meanwhile. Every chunk is still claimed,
    leased and written in slices on its own, so a process that dies loses at most the slice in
    hand of each of its two chunks; and a process takes no more work than its pool can start
    soon, so the run's other messages stay in the queue for the other processes and machines.
    A chunk whose people run in the caller's thread (no provider waits) is fed only when done:
    then the chunks of a process run one after the other, as before.

    A chunk that fails while its message runs fails the message (the broker's retries and
    give-up apply as before); one that fails after its message returned is sent again at once
    in a message of its own. A warm shutdown waits for the chunks in hand (chunk_drivers_stop).
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.threads = ThreadPoolExecutor(CHUNKS_IN_HAND, thread_name_prefix="chunk")
        self.slots = threading.BoundedSemaphore(CHUNKS_IN_HAND)
        self.lock = threading.Lock()

    def run(self, *, workflow_id: str, chunk_nos: list[int]) -> None:
        started = time.monotonic()
        mine: list[_InHand] = []
        try:
            for position, chunk_no in enumerate(chunk_nos):
                if position and time.monotonic() - started > _MESSAGE_SECONDS:
                    _send_rest(workflow_id, chunk_nos[position:])
                    break
                self.slots.acquire()
                if any(chunk.error for chunk in mine):
                    self.slots.release()
                    break  # the message fails below; its retry runs the rest
                chunk = _InHand(workflow_id, chunk_no)
                mine.append(chunk)
                self._submit(chunk)
                chunk.fed.wait()
        finally:
            with self.lock:
                for chunk in mine:
                    chunk.detached = not chunk.finished
            errors = [chunk.error for chunk in mine if chunk.error is not None]
        if errors:
            raise errors[0]

    def start_if_free(self, workflow_id: str, chunk_no: int) -> "_InHand | None":
        """Starts the chunk on a free driver, without a message, if one is free: the planner's
        own process runs chunks while it plans the rest (_send_planned). The chunk answers for
        itself from the start (detached): a failure sends it again in a message of its own."""
        if not self.slots.acquire(blocking=False):
            return None
        chunk = _InHand(workflow_id, chunk_no, detached=True)
        self._submit(chunk)
        return chunk

    def _submit(self, chunk: _InHand) -> None:
        # The driver logs with the workflow and the task that started the chunk.
        context = contextvars.copy_context()
        task = current_task
        if task and task.request.id:
            context.run(task_var.set, (task.name, task.request.id))
        self.threads.submit(context.run, self._drive, chunk)

    def _drive(self, chunk: _InHand) -> None:
        close_old_connections()  # as Celery does around a task: this thread's connection
        try:
            chunk_run(workflow_id=chunk.workflow_id, chunk_no=chunk.chunk_no, fed=chunk.fed)
            error = None
        except Exception as exc:
            error = exc
        finally:
            close_old_connections()
            with self.lock:
                chunk.error, chunk.finished = error, True
                detached = chunk.detached
            chunk.fed.set()
            self.slots.release()
        if error is not None and detached:
            logger.error(
                "chunk %s/%s failed with no message waiting on it: sent again",
                chunk.workflow_id,
                chunk.chunk_no,
                exc_info=error,
            )
            try:
                dispatch.chunks(workflow_id=chunk.workflow_id, chunk_nos=[chunk.chunk_no])
            except dispatch.BROKER_ERRORS:
                logger.exception("could not send it: the sweeper will")

    def stop(self) -> None:
        self.threads.shutdown(wait=True)


_drivers: _ChunkDrivers | None = None


def chunk_drivers_start() -> None:
    """In a worker's pool process, once, before its first task: chunks_run runs chunks on
    the process's chunk drivers (_ChunkDrivers). Elsewhere (tests, eager tasks, the embedded
    mode) a message's chunks run in the caller's thread, one after the other."""
    global _drivers  # one per process, made after the fork
    _drivers = _ChunkDrivers()


def chunk_drivers_stop() -> None:
    """As a worker's pool process exits (a warm shutdown): the chunks in hand finish first."""
    if _drivers is not None and _drivers.pid == os.getpid():
        _drivers.stop()


@leases.renewing
def chunk_run(*, workflow_id: str, chunk_no: int, fed: threading.Event | None = None) -> None:
    """Claims a chunk, runs its waterfalls and writes them in slices. `fed` is set once all but
    a pool's worth of its people are underway (engine.iter_batch), for chunks_run."""
    workflow = workflow_for_chunk(workflow_id=workflow_id)
    if workflow is None or workflow.is_terminal:
        return
    if workflow.status != WorkflowStatus.RUNNING:
        # A run is running from its planner on: only a chunk sent before it (or a test's)
        # moves it, and never back (the transition is conditional on `pending`).
        workflow_transition(workflow_id=workflow_id, to_status=WorkflowStatus.RUNNING)
    if workflow.cancel_requested_at:
        items_cancel_queued(workflow_id=workflow_id, chunk_no=chunk_no)
        workflow_settle_when_done(workflow_id=workflow_id)
        return
    token = secrets.token_hex(16)
    # Another app's kind of workflow (agents) runs its own work on the same claims, with the
    # items and leads as model instances.
    processor = chunk_processors.for_kind(workflow.kind)
    if processor is not None:
        claimed_items = list(_claim(workflow, chunk_no, token).select_related("lead"))
        if claimed_items:
            processor(workflow=workflow, claim_token=token, items=claimed_items)
        workflow_settle_when_done(workflow_id=workflow_id)
        return
    # The waterfall's own chunks: plain rows, no model instances (docs/benchmarks.md).
    items = _claim_rows(workflow, chunk_no, token)
    if items:
        plans = [waterfall.plan_for(workflow, item.lead) for item in items]
        worst_case = sum(plan.max_cost for plan in plans)
        budget = _claim_budget(workflow, worst_case)
        affordable, over_budget, spent = [], [], 0
        for item, plan in zip(items, plans, strict=True):
            if spent + plan.max_cost <= budget:
                affordable.append((item, plan))
                spent += plan.max_cost
            else:
                over_budget.append(item)
        # Results are written in slices while the chunk's other calls go on: a process that
        # dies loses the slice in hand, not the chunk (issue 15), and the pool is never idle
        # while a chunk writes (issue 18). The leads left out and the budget they did not use
        # go with the first slice.
        left_out, unused = over_budget, budget - spent
        for outcomes in waterfall.run_slices(
            affordable,
            workspace_id=str(workflow.workspace_id),
            tag=workflow_id,
            slice_seconds=SLICE_SECONDS,
            fed=fed,
        ):
            _record(workflow, token, outcomes, left_out, unused_budget=unused)
            left_out, unused = [], 0
        if left_out or unused:
            _record(workflow, token, [], left_out, unused_budget=unused)
    workflow_settle_when_done(workflow_id=workflow_id)


def _record(workflow, token, outcomes, over_budget, *, unused_budget: int) -> None:
    """Writes results, lead fields and counters in one transaction, only for the items this
    claim still owns (a claim taken over by another worker is not ours to write)."""
    now = timezone.now()
    fresh = waterfall.fresh_since(now)
    changed_leads, lead_changes = [], set()
    for outcome in outcomes:
        outcome.apply_to_item(now)
        # Decided for every item, written only with the items still ours (below).
        if outcome.apply_to_lead(workflow, now, fresh):
            changed_leads.append((outcome.item.id, outcome.item.lead))
            lead_changes.add(outcome.lead_fields())
    for item in over_budget:
        item.status, item.error, item.finished_at = ItemStatus.SKIPPED, OVER_BUDGET, now
    with transaction.atomic():
        # Who wins: the UPDATE writes (and locks) only the items still claimed by this token;
        # one taken over by another worker after our claim expired is left to that worker,
        # and so is its lead (the same statement writes the leads of the items it wrote).
        mine = rows_update_linked(
            WorkflowItem,
            [outcome.item for outcome in outcomes] + over_budget,
            waterfall.ITEM_FIELDS,
            only_if={"claim_token": token, "status": ItemStatus.RUNNING},
            linked_model=Lead,
            linked=changed_leads,
            linked_fields=waterfall.lead_fields_written(lead_changes),
        )
        counts = {"completed": 0, "not_found": 0, "failed": 0, "skipped": 0}
        found_emails = found_phones = charged = refund_budget = 0
        for outcome in outcomes:
            item = outcome.item
            if item.id not in mine:
                refund_budget += outcome.plan.max_cost
                continue
            counts[item.status] += 1
            found_emails += bool(item.email)
            found_phones += bool(item.phone)
            charged += item.credits_charged
            refund_budget += outcome.plan.max_cost - item.credits_charged
        counts["skipped"] += sum(1 for item in over_budget if item.id in mine)
        budget_back = refund_budget + unused_budget if workflow.max_credits is not None else 0
        with connection.cursor() as cursor:
            cursor.execute(
                _counters_sql(),
                [
                    len(mine),
                    counts["completed"],
                    counts["not_found"],
                    counts["failed"],
                    counts["skipped"],
                    found_emails,
                    found_phones,
                    charged,
                    -budget_back,
                    connection.ops.adapt_datetimefield_value(now),
                    workflow.pk,
                ],
            )


# What a slice's write adds to its run's counters (_record), in _counters_sql's order.
_COUNTERS = (
    "processed", "completed", "not_found", "failed", "skipped", "found_emails", "found_phones",
    "items_charged", "budget_claimed",
)  # fmt: skip


@functools.cache
def _counters_sql() -> str:
    """`Workflow.objects.filter(pk=…).update(processed=F("processed") + %s, …,
    last_progress_at=%s)` as SQL, built once: the ORM compiled its ten expressions again for
    every slice (~1 ms)."""
    meta, quote = Workflow._meta, connection.ops.quote_name

    def column(name: str) -> str:
        field = meta.get_field(name)
        if not isinstance(field, Field) or field.column is None:
            raise TypeError(f"Workflow.{name} is not a column")
        return quote(field.column)

    sets = ", ".join(f"{column(name)} = {column(name)} + %s" for name in _COUNTERS)
    return (
        f"UPDATE {quote(meta.db_table)} SET {sets}, {column('last_progress_at')} = %s "  # noqa: S608 - names are ours
        f"WHERE {column('id')} = %s"
    )


def chunks_give_up(*, workflow_id: str, chunk_nos: list[int], reason: str) -> None:
    """A message whose retries are exhausted: its chunks ran in order, so the failing one is
    the first with unfinished items; it gives up (chunk_give_up) and the ones after it are sent
    again with retries of their own."""
    for position, chunk_no in enumerate(chunk_nos):
        if WorkflowItem.objects.filter(
            OPEN_ITEM,
            workflow_id=workflow_id,
            chunk_no=chunk_no,
            status__in=(ItemStatus.QUEUED, ItemStatus.RUNNING),
        ).exists():
            chunk_give_up(workflow_id=workflow_id, chunk_no=chunk_no, reason=reason)
            rest = chunk_nos[position + 1 :]
            if rest:
                dispatch.chunks(workflow_id=workflow_id, chunk_nos=rest, per_message=len(rest))
            return
    workflow_settle_when_done(workflow_id=workflow_id)


def chunk_give_up(*, workflow_id: str, chunk_no: int, reason: str) -> None:
    """A chunk that exhausted its retries: its unfinished items fail (nothing is charged for
    them) so the run can still end; the settlement decides whether that needs a review."""
    with transaction.atomic():
        count = WorkflowItem.objects.filter(
            OPEN_ITEM,
            workflow_id=workflow_id,
            chunk_no=chunk_no,
            status__in=(ItemStatus.QUEUED, ItemStatus.RUNNING),
        ).update(status=ItemStatus.FAILED, error=reason[:500], finished_at=timezone.now())
        Workflow.objects.filter(pk=workflow_id).update(
            processed=F("processed") + count, failed=F("failed") + count
        )
    workflow_settle_when_done(workflow_id=workflow_id)


# --- Sweeping ---------------------------------------------------------------------------------


def workflows_sweep() -> dict[str, int]:
    """Beat's safety net, safe to run concurrently with itself: re-sends the chunks of dead
    claims, re-dispatches workflows whose message was lost, settles finished ones, and ends
    those past their deadline. Records when it finished (SweeperRun) for /readyz and /metrics."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.SLUICE_STALL_GRACE_SECONDS)
    report = {"redispatched": 0, "rechunked": 0, "expired": 0}
    # Chunks and planners of dead workers first, whether or not their run still progresses
    # elsewhere, and runs whose last chunk died before it could settle them.
    report["recovered"] = leases.orphans_recover()
    report["replanned"] = planners_recover()
    report["settled"] = workflows_settle_due()

    # A pending run whose latest dispatch is older than the grace lost its message (or waits
    # behind a long queue: a duplicate planner is harmless, and this limits them to one per
    # grace period).
    pending = Workflow.objects.filter(status=WorkflowStatus.PENDING, created_at__lt=grace).filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=grace) | Q(deadline__lt=now)
    )
    for workflow in pending:
        if workflow.deadline >= now:
            workflow_enqueue(workflow=workflow, fail_on_refusal=False)
            report["redispatched"] += 1
        else:
            # Never started and past its deadline: end it like a running one (below), or it
            # would stay pending with its credits held for ever.
            _expire(workflow)
            report["expired"] += 1

    running = Workflow.objects.filter(status=WorkflowStatus.RUNNING)
    for workflow in running.filter(deadline__lt=now):
        _expire(workflow)
        report["expired"] += 1
    stalled = running.filter(deadline__gte=now).filter(
        Q(last_progress_at__lt=grace) | Q(last_progress_at__isnull=True, started_at__lt=grace)
    )
    for workflow in stalled:
        if not workflow.planned:
            # On PostgreSQL planners_recover (above) has re-sent it if its planner is gone; a
            # second message would only wait on the plan lock, holding a worker process.
            if connection.vendor != "postgresql":
                workflow_enqueue(workflow=workflow, fail_on_refusal=False)
                report["redispatched"] += 1
            continue
        report["rechunked"] += dispatch.chunks(
            workflow_id=workflow.pk, chunk_nos=_open_chunks(workflow.pk)
        )
    if any(report.values()):
        logger.info("sweep: %s", report)
    SweeperRun.objects.update_or_create(
        name=SWEEP_WORKFLOWS, defaults={"finished_at": Now(), "report": report}
    )
    return report


def _expire(workflow: Workflow) -> None:
    with transaction.atomic():
        # Close the plan first, under the row lock a planner holds while it inserts (and in a
        # transaction of its own: holding the row while failing items would deadlock with a
        # chunk that holds its items and waits for the row to count them). An unplanned run's
        # total is what was inserted so far; the items are failed below.
        locked = Workflow.objects.select_for_update().get(pk=workflow.pk)
        if not locked.planned:
            Workflow.objects.filter(pk=workflow.pk).update(
                planned=True, total=WorkflowItem.objects.filter(workflow=workflow).count()
            )
    with transaction.atomic():
        count = WorkflowItem.objects.filter(
            OPEN_ITEM, workflow=workflow, status__in=(ItemStatus.QUEUED, ItemStatus.RUNNING)
        ).update(status=ItemStatus.FAILED, error="deadline passed", finished_at=timezone.now())
        Workflow.objects.filter(pk=workflow.pk).update(
            processed=F("processed") + count, failed=F("failed") + count
        )
    workflow_settle(workflow_id=workflow.pk, failure="deadline passed")
