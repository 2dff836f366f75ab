"""Open chunks are found outside the item rows (enrichment migration 0010): no item index holds a
column a chunk writes, so the claim and the result are HOT updates, and the sweeper closes a
planned run's finished chunks once (ClosedChunk) instead of an index of open items."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from enrichment.models import ClosedChunk, ItemStatus, Workflow, WorkflowItem
from enrichment.services import execution, leases
from tests.enrichment.factories import planned_run

BEFORE = [("enrichment", "0009_item_writes_in_place")]


def _item_updates() -> tuple[int, int]:
    """(updates, of which HOT) of the item table in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
            [WorkflowItem._meta.db_table],
        )
        return cursor.fetchone()


def _closed(workflow: Workflow) -> set[int]:
    return set(ClosedChunk.objects.filter(workflow=workflow).values_list("chunk_no", flat=True))


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s",
            [WorkflowItem._meta.db_table],
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db
def test_a_chunk_s_claim_and_results_are_hot_updates(funded, settings):
    # given a planned run of two 3-item chunks
    workflow = planned_run(funded, settings=settings, leads=6, chunk_size=3)
    updates_before, hot_before = _item_updates()

    # when its first chunk runs: a claim and a result on each of its items
    execution.chunk_run(workflow_id=workflow.pk, chunk_no=0)

    # then every new version stayed in its page, with no new index entry
    updates, hot = _item_updates()
    assert (updates - updates_before, hot - hot_before) == (6, 6)
    items = WorkflowItem.objects.filter(workflow=workflow, chunk_no=0)
    assert not items.filter(finished_at=None).exists()


@pytest.mark.django_db(transaction=True)
def test_sweeper_closes_a_planned_run_s_finished_chunks_once(funded, settings, sole_consumer):
    # given a running run of three chunks: the first finished, the second claimed by a process
    # that died a minute ago, the third queued
    workflow = planned_run(funded, settings=settings, leads=9, chunk_size=3)
    items = WorkflowItem.objects.filter(workflow=workflow)
    now = timezone.now()
    items.filter(chunk_no=0).update(status=ItemStatus.NOT_FOUND, finished_at=now)
    items.filter(chunk_no=1).update(
        status=ItemStatus.RUNNING, claim_token="died", claimed_at=now - timedelta(minutes=1)
    )

    # when the sweeper looks for dead claims
    released = leases.leases_release_dead()

    # then the dead claim's items are queued again, and the finished chunk is closed (the next
    # sweeps skip it); the open ones are not
    assert released == {workflow.pk: [1]}
    assert _closed(workflow) == {0}
    assert leases.open_chunks(workflow_id=workflow.pk) == [
        (workflow.pk, 1, ItemStatus.QUEUED),
        (workflow.pk, 2, ItemStatus.QUEUED),
    ]
    assert execution._open_chunks(workflow.pk) == [1, 2]

    # and a second sweep finds nothing more to do, closing nothing new
    assert leases.leases_release_dead() == {}
    assert _closed(workflow) == {0}


@pytest.mark.django_db(transaction=True)
def test_a_starting_worker_sends_again_the_queued_chunks_of_planned_runs_only(
    funded, settings, sole_consumer
):
    # given a planned run of three chunks (the second finished) and a run whose planner has
    # not finished
    workflow = planned_run(funded, settings=settings, leads=9, chunk_size=3)
    WorkflowItem.objects.filter(workflow=workflow, chunk_no=1).update(
        status=ItemStatus.NOT_FOUND, finished_at=timezone.now()
    )
    planning = planned_run(funded, settings=settings, leads=3, chunk_size=3)
    Workflow.objects.filter(pk=planning.pk).update(planned=False)

    # when a worker that has just connected recovers orphans, queued chunks too
    sent = leases.orphans_recover(queued_too=True)

    # then the planned run's queued chunks are sent again, not the finished one, and nothing
    # of the run still planning (its planner sends its chunks itself)
    assert sent == 2
    assert leases.open_chunks(planned_only=True) == [
        (workflow.pk, 0, ItemStatus.QUEUED),
        (workflow.pk, 2, ItemStatus.QUEUED),
    ]
    assert leases.open_chunks(workflow_id=planning.pk) == [(planning.pk, 0, ItemStatus.QUEUED)]


@pytest.mark.django_db(transaction=True)
def test_sweeper_leaves_the_finished_chunks_of_a_run_still_planning_open(
    funded, settings, sole_consumer
):
    # given a run whose planner has not finished (a chunk of it could still get items) and
    # whose first chunk is finished
    workflow = planned_run(funded, settings=settings, leads=6, chunk_size=3)
    Workflow.objects.filter(pk=workflow.pk).update(planned=False)
    WorkflowItem.objects.filter(workflow=workflow, chunk_no=0).update(
        status=ItemStatus.NOT_FOUND, finished_at=timezone.now()
    )

    # when the sweeper runs, then it closes nothing until the plan is closed
    leases.leases_release_dead()
    assert _closed(workflow) == set()
    Workflow.objects.filter(pk=workflow.pk).update(planned=True)
    leases.leases_release_dead()
    assert _closed(workflow) == {0}


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_a_run_in_flight_going_and_reverts(funded, settings, sole_consumer):
    # given a run in flight on the schema before: a finished chunk, one held by a process that
    # died, a queued one
    workflow = planned_run(funded, settings=settings, leads=9, chunk_size=3)
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    assert _indexes() >= {"item_open", "item_lead"}
    assert "item_chunk" not in _indexes()
    items = WorkflowItem.objects.filter(workflow=workflow)
    now = timezone.now()
    items.filter(chunk_no=0).update(status=ItemStatus.NOT_FOUND, finished_at=now)
    Workflow.objects.filter(pk=workflow.pk).update(processed=3, not_found=3)
    items.filter(chunk_no=1).update(
        status=ItemStatus.RUNNING, claim_token="died", claimed_at=now - timedelta(minutes=1)
    )

    # when the migration runs
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    # then the item indexes are the new ones, and the sweeper finds the run's open chunks
    # without any data migrated: the dead claim goes back to the queue, the finished chunk
    # is closed, and the run's chunks then run to the end
    assert _indexes() >= {"item_chunk", "item_lead"}
    assert "item_open" not in _indexes()
    assert leases.leases_release_dead() == {workflow.pk: [1]}
    assert _closed(workflow) == {0}
    for chunk_no in execution._open_chunks(workflow.pk):
        execution.chunk_run(workflow_id=workflow.pk, chunk_no=chunk_no)
    workflow.refresh_from_db()
    assert workflow.status == "completed"
    assert not items.filter(finished_at=None).exists()

    # and it reverts (and applies again)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(BEFORE)
    assert "item_open" in _indexes()
    assert "item_chunk" not in _indexes()
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert "item_chunk" in _indexes()
