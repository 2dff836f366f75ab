"""Chunk claims prove their owner is alive, two ways. The process running a chunk holds a
PostgreSQL advisory lock named after its claim on a connection of its own, which PostgreSQL
releases the moment that process dies; and from the same thread it renews its items'
`claimed_at` every SLUICE_CLAIM_HEARTBEAT_SECONDS (a lease), so a claim not renewed for
SLUICE_CLAIM_TTL_SECONDS belongs to a process that is gone even where the lock cannot tell (a
machine cut off from the database, a pooler in transaction mode). The sweeper, and every worker
as it starts or reconnects to the broker, gives such items back to the queue and re-sends their
chunks, so a lost chunk waits seconds, not the broker's visibility timeout (docs/reliability.md,
"Chunk claims" explains the choice).

Times are the database's clock (`now()`), never a worker's: on several machines the clocks
disagree by more than a lease's slack.
"""

import functools
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Now

from enrichment import dispatch
from enrichment.models import (
    OPEN_ITEM,
    ClosedChunk,
    ItemStatus,
    Workflow,
    WorkflowItem,
    WorkflowStatus,
)

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def _owner_locks() -> bool:
    """Owner locks need PostgreSQL; the embedded mode (SQLite, one machine) has the lease only."""
    return connection.vendor == "postgresql"


def lease_expired_q() -> Q:
    """Running items whose owner stopped renewing its claim."""
    ttl = timedelta(seconds=settings.SLUICE_CLAIM_TTL_SECONDS)
    return Q(status=ItemStatus.RUNNING, claimed_at__lt=Now() - ttl)


def claim_dead(items: QuerySet[WorkflowItem]) -> QuerySet[WorkflowItem]:
    """Of `items`, the queued ones and the running ones whose lease ran out: what a claim takes
    in the embedded mode (SQLite, no owner locks). PostgreSQL's claim also takes those whose
    owner lock is free (CLAIM_DEAD_SQL, in its one statement: execution._claim_sql)."""
    return items.filter(Q(status=ItemStatus.QUEUED) | lease_expired_q())


def _owner_gone_sql(ttl: str) -> str:
    """Whether the owner of a running item `i` is gone, in SQL, for the statements written out
    on PostgreSQL: its lease ran out (`ttl`: the placeholder of SLUICE_CLAIM_TTL_SECONDS), or its
    owner lock is free."""
    return (
        f"(i.claimed_at < STATEMENT_TIMESTAMP() - make_interval(secs => {ttl}) "
        "OR pg_try_advisory_xact_lock(hashtextextended(i.claim_token, 0)))"
    )


# What a claim may take on PostgreSQL (execution._claim_sql): the queued items and the running
# ones whose owner is gone, its lease run out or its owner lock free (tested inside the claim's
# transaction, which holds the test lock until it commits: a redelivered chunk takes a killed
# process's items back at once). The item as `i`; its parameters are claim_dead_params()'s.
CLAIM_DEAD_SQL = f"(i.status = %s OR (i.status = %s AND {_owner_gone_sql('%s')}))"


def claim_dead_params() -> list[object]:
    return [ItemStatus.QUEUED, ItemStatus.RUNNING, settings.SLUICE_CLAIM_TTL_SECONDS]


def lease_renew(*, workflow_id: str, chunk_no: int, token: str) -> int:
    """Moves the claim's `claimed_at` to now; returns how many items it still holds. Rows locked
    by someone else (the chunk's own write of its results) are skipped, never waited for."""
    mine = (
        WorkflowItem.objects.filter(
            OPEN_ITEM,
            workflow_id=workflow_id,
            chunk_no=chunk_no,
            claim_token=token,
            status=ItemStatus.RUNNING,
        )
        .select_for_update(skip_locked=True)
        .values("id")
    )
    with transaction.atomic():
        return WorkflowItem.objects.filter(id__in=mine).update(claimed_at=Now())


def _owner_lock(token: str) -> None:
    """Holds the claim's advisory lock on this thread's connection: PostgreSQL drops it the
    moment the connection dies with its process, so a dead owner is seen at once."""
    if not _owner_locks():
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [token])


def _owner_unlock(token: str) -> None:
    """Gives the claim's advisory lock back, keeping the connection for the thread's next claim;
    a connection that cannot say so is closed, which gives it back as well."""
    if not _owner_locks() or connection.connection is None:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [token])
    except DatabaseError:
        connection.close()


def _renew_until(
    stop: threading.Event, locked: threading.Event, workflow_id: str, chunk_no: int, token: str
) -> None:
    interval = settings.SLUICE_CLAIM_HEARTBEAT_SECONDS
    # The connection kept from this thread's last claim, unless it broke or outlived
    # CONN_MAX_AGE (as Django checks around a request).
    connection.close_if_unusable_or_obsolete()
    try:
        try:
            _owner_lock(token)
        except DatabaseError as exc:
            logger.warning("no owner lock for %s/%s (the lease still holds): %s",
                           workflow_id, chunk_no, exc)  # fmt: skip
            connection.close()  # the next beat reconnects
        finally:
            locked.set()
        while not stop.wait(interval):
            try:
                if lease_renew(workflow_id=workflow_id, chunk_no=chunk_no, token=token) == 0:
                    return  # written, or taken over: nothing left to keep alive
            except DatabaseError as exc:
                # The next beat reconnects; a lease lost meanwhile is refused at write time.
                logger.warning("lease renewal for %s/%s failed: %s", workflow_id, chunk_no, exc)
                connection.close()
    finally:
        _owner_unlock(token)
        connection.close_if_unusable_or_obsolete()


# How long a lease thread waits for its next claim before it closes its connection and ends.
LEASE_THREAD_IDLE_SECONDS = 60.0


class _LeaseThreads:
    """The threads that keep a process's claims alive, one claim at a time each, each on a
    database connection of its own that it keeps from one claim to the next. A thread and a
    connection per claim cost a backend's start and exit on PostgreSQL and a connect in the
    worker for every chunk, ~1 CPU-s per 100,000 leads (docs/benchmarks.md, "Outside the
    chunks"); a process holds two or three claims at once, so it keeps two or three threads.
    Daemon threads: one stuck in a statement never blocks an exit."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.idle: list[queue.SimpleQueue] = []

    def run(self, job: Callable[[], None]) -> None:
        with self.lock:
            inbox = self.idle.pop() if self.idle else None
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), name="lease", daemon=True).start()
        inbox.put(job)

    def _serve(self, inbox: queue.SimpleQueue) -> None:
        while True:
            try:
                job = inbox.get(timeout=LEASE_THREAD_IDLE_SECONDS)
            except queue.Empty:
                with self.lock:
                    if inbox in self.idle:  # else a claim was handed to it meanwhile
                        self.idle.remove(inbox)
                        break
                continue
            try:
                job()
            except Exception:  # a job logs its own failures; this keeps the thread serving
                logger.exception("lease thread job failed")
                connection.close()
            with self.lock:
                self.idle.append(inbox)
        connection.close()


_lease_threads: _LeaseThreads | None = None
_lease_threads_lock = threading.Lock()


def _threads() -> _LeaseThreads:
    """This process's lease threads (a forked process starts with none: its parent's threads
    did not come along)."""
    global _lease_threads  # one per process
    with _lease_threads_lock:
        if _lease_threads is None or _lease_threads.pid != os.getpid():
            _lease_threads = _LeaseThreads()
        return _lease_threads


@contextmanager
def claim_heartbeat(*, workflow_id: str, chunk_no: int, token: str) -> Iterator[None]:
    """Keeps the chunk's claim alive while the block runs, however long that takes. Enter it
    before claiming: the owner lock is held once this returns, so no claim exists without it.
    On the way out the owner lock is given back before this returns."""
    stop, locked, done = threading.Event(), threading.Event(), threading.Event()

    def beat() -> None:
        try:
            _renew_until(stop, locked, workflow_id, chunk_no, token)
        finally:
            done.set()

    _threads().run(beat)
    locked.wait(timeout=settings.SLUICE_CLAIM_TTL_SECONDS)
    try:
        yield
    finally:
        stop.set()
        # A renewal in flight ends within its statement.
        done.wait(timeout=settings.SLUICE_CLAIM_HEARTBEAT_SECONDS + 5)


# The heartbeats started inside the running `@renewing` function (one per claim it took).
_held: ContextVar[ExitStack | None] = ContextVar("sluice_held_leases", default=None)


def renewing(func: Callable[P, R]) -> Callable[P, R]:
    """Every claim taken inside `func` (lease_keep) is renewed until `func` returns or raises.
    A decorator rather than a `with` block in the chunk's body, so the body stays as it is."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with ExitStack() as stack:
            reset = _held.set(stack)
            try:
                return func(*args, **kwargs)
            finally:
                _held.reset(reset)

    return wrapper


def lease_keep(*, workflow_id: str, chunk_no: int, token: str) -> None:
    """Renews the claim `token` names for as long as the enclosing `@renewing` function runs;
    call it before claiming (see claim_heartbeat)."""
    stack = _held.get()
    if stack is None:
        raise RuntimeError("lease_keep() outside a @renewing function: the claim would expire")
    stack.enter_context(claim_heartbeat(workflow_id=workflow_id, chunk_no=chunk_no, token=token))


# The chunks of running runs not yet found closed (ClosedChunk), each with the status of one of
# its open items (NULL: none left). A planned run's chunks are numbered from 0 to its last (one
# step down item_chunk), each looked at with one more: an open item is found in a queued chunk
# at its first entry; a finished chunk is read whole, once, and closed (_RELEASE_DEAD_CLAIMS).
_OPEN_CHUNKS = """
    SELECT w.id AS workflow_id, w.planned, c.chunk_no, o.status
    FROM {workflows} w
    CROSS JOIN LATERAL generate_series(
        0, (SELECT max(i.chunk_no) FROM {items} i WHERE i.workflow_id = w.id)
    ) AS c (chunk_no)
    LEFT JOIN LATERAL (
        SELECT i.status FROM {items} i
        WHERE i.workflow_id = w.id AND i.chunk_no = c.chunk_no AND i.finished_at IS NULL
        LIMIT 1
    ) o ON true
    WHERE w.status = %(running)s AND (%(workflow)s::text IS NULL OR w.id = %(workflow)s)
    AND NOT EXISTS (
        SELECT FROM {closed} d WHERE d.workflow_id = w.id AND d.chunk_no = c.chunk_no
    )
"""


def _statement(sql: str) -> str:
    tables = {
        "items": WorkflowItem._meta.db_table,
        "workflows": Workflow._meta.db_table,
        "closed": ClosedChunk._meta.db_table,
    }
    return sql.format(
        open_chunks=_OPEN_CHUNKS.format(**tables), owner_gone=_owner_gone_sql("%(ttl)s"), **tables
    )


def _no_jit(cursor) -> None:
    """Inside the walk's transaction. The planner prices each chunk's `LIMIT 1` as a read of
    the whole chunk (it cannot know the first entry is open), so the walk's estimate passes
    jit_above_cost, and compiling it took ~50 ms a sweep for ~1 ms of work (100,000 items)."""
    cursor.execute("SET LOCAL jit = off")


def open_chunks(
    *, workflow_id: str | None = None, planned_only: bool = False
) -> list[tuple[str, int, str]]:
    """(workflow, chunk, status of one of its open items) of the running runs' chunks that
    still have open items (of `workflow_id`'s alone if given; of runs whose planning is done
    alone with `planned_only`). PostgreSQL only."""
    with transaction.atomic(), connections["default"].cursor() as cursor:
        _no_jit(cursor)
        cursor.execute(
            _statement("SELECT workflow_id, chunk_no, status FROM ({open_chunks}) c "
                       "WHERE status IS NOT NULL AND (planned OR NOT %(planned_only)s) "
                       "ORDER BY workflow_id, chunk_no"),
            {"running": WorkflowStatus.RUNNING, "workflow": workflow_id,
             "planned_only": planned_only},
        )  # fmt: skip
        return cursor.fetchall()


# Dead claims' items back to the queue, looked for in the claimed chunks of running workflows
# only (_OPEN_CHUNKS). A claim takes all of its chunk's open items, so a claimed chunk shows a
# running item; a chunk showing a queued one is still to be claimed, and the claim that comes
# for it (its message, or the re-sending of a stalled run's open chunks) takes a dead claim's
# items in it along. A planned run's chunk showing no open item is closed on the way: its items
# are finished for good, and no item joins a run once it is planned.
_RELEASE_DEAD_CLAIMS = """
    WITH open_chunk AS MATERIALIZED ({open_chunks}),
    closed AS (
        INSERT INTO {closed} (workflow_id, chunk_no)
        SELECT workflow_id, chunk_no FROM open_chunk WHERE status IS NULL AND planned
        ORDER BY workflow_id, chunk_no  -- two sweepers wait for each other in one order
        ON CONFLICT DO NOTHING
    )
    UPDATE {items} SET status = %(queued)s, claim_token = '', claimed_at = NULL
    WHERE id IN (
        SELECT i.id FROM {items} i
        JOIN open_chunk c ON c.workflow_id = i.workflow_id AND c.chunk_no = i.chunk_no
        WHERE c.status = %(running)s AND i.finished_at IS NULL AND i.status = %(running)s
        AND {owner_gone}
        FOR UPDATE OF i SKIP LOCKED
    )
    RETURNING workflow_id, chunk_no
"""


def _release_dead_claims() -> list[tuple[str, int]]:
    """No index holds running items (item writes stay in place: WorkflowItem), so the search
    goes chunk by chunk (_RELEASE_DEAD_CLAIMS)."""
    with transaction.atomic(), connections["default"].cursor() as cursor:
        _no_jit(cursor)
        cursor.execute(
            _statement(_RELEASE_DEAD_CLAIMS),
            {
                "queued": ItemStatus.QUEUED,
                "running": ItemStatus.RUNNING,
                "workflow": None,
                "ttl": settings.SLUICE_CLAIM_TTL_SECONDS,
            },
        )
        rows = cursor.fetchall()
    return rows


def _release_expired_leases() -> list[tuple[str, int]]:
    """SQLite (the embedded mode, one process): the lease alone, without SKIP LOCKED."""
    dead = WorkflowItem.objects.filter(
        OPEN_ITEM, lease_expired_q(), workflow__status=WorkflowStatus.RUNNING
    )
    rows = list(dead.values_list("id", "workflow_id", "chunk_no"))
    WorkflowItem.objects.filter(id__in=[row[0] for row in rows]).filter(lease_expired_q()).update(
        status=ItemStatus.QUEUED, claim_token="", claimed_at=None
    )
    return [(workflow_id, chunk_no) for _, workflow_id, chunk_no in rows]


def leases_release_dead() -> dict[str, list[int]]:
    """Gives the items of dead claims back to the queue (one conditional UPDATE: of two
    concurrent callers, each item goes to one) and returns their chunks by workflow. A claim is
    dead when its owner lock is free (its process is gone: the lock taken here for the test is
    released at commit) or its lease was not renewed for SLUICE_CLAIM_TTL_SECONDS (a machine cut
    off from the database keeps its connection, and so its lock, until TCP gives up). Only
    running workflows: a terminal one has no running items left to rescue."""
    rows = _release_dead_claims() if _owner_locks() else _release_expired_leases()
    chunks: dict[str, set[int]] = {}
    for workflow_id, chunk_no in rows:
        chunks.setdefault(workflow_id, set()).add(chunk_no)
    if chunks:
        logger.warning(
            "released %s items of dead claims in %s chunks",
            len(rows),
            sum(len(c) for c in chunks.values()),
        )
    return {workflow_id: sorted(nos) for workflow_id, nos in chunks.items()}


def orphans_recover(*, queued_too: bool = False) -> int:
    """Re-sends the chunks of dead claims; returns how many were sent.

    `queued_too` (a worker that has just connected): also every chunk of a running run that
    still has queued items. A dead worker may have held their messages without having claimed
    anything yet (prefetched, or received a moment before it died); the broker would return them
    only after its visibility timeout. A chunk whose message is still waiting is sent twice, and
    the second run claims nothing: a few queries, against an hour's wait."""
    chunks = leases_release_dead()
    if queued_too:
        for workflow_id, chunk_no in _queued_chunks():
            chunks.setdefault(workflow_id, []).append(chunk_no)
    sent = 0
    for workflow_id, chunk_nos in chunks.items():
        sent += dispatch.chunks(workflow_id=workflow_id, chunk_nos=sorted(set(chunk_nos)))
    return sent


def _queued_chunks() -> list[tuple[str, int]]:
    """Chunks of planned running runs that show a queued item (still to be claimed)."""
    if connection.vendor != "postgresql":  # open_chunks is PostgreSQL's
        queued = WorkflowItem.objects.filter(
            OPEN_ITEM,
            status=ItemStatus.QUEUED,
            workflow__status=WorkflowStatus.RUNNING,
            workflow__planned=True,
        )
        return list(queued.values_list("workflow_id", "chunk_no").distinct())
    return [
        (workflow_id, chunk_no)
        for workflow_id, chunk_no, status in open_chunks(planned_only=True)
        if status == ItemStatus.QUEUED
    ]
