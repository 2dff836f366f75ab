"""The run's charges kept as a counter (`Workflow.items_charged`), bumped in the transaction
that writes the items' charges: only for the items the writing claim still owns, and charged
whole by the settlement; the migration that adds it counts what runs in flight were charged."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum

from enrichment.models import ItemStatus, Workflow, WorkflowItem, WorkflowStatus
from enrichment.services import execution
from tests.enrichment.factories import planned_run

BEFORE = [("enrichment", "0010_open_chunks_outside_items")]


def _items_charged(workflow: Workflow, **filters) -> int:
    items = WorkflowItem.objects.filter(workflow=workflow, **filters)
    return items.aggregate(total=Sum("credits_charged"))["total"] or 0


@pytest.mark.django_db
def test_each_chunk_adds_its_items_charges_and_the_settlement_charges_the_sum(funded, settings):
    # given a run of two chunks whose leads' emails the sandbox finds
    workflow = planned_run(funded, settings=settings, leads=6, chunk_size=3, emails_found=True)

    # when its first chunk runs
    execution.chunk_run(workflow_id=workflow.pk, chunk_no=0)

    # then the counter holds what that chunk's items were charged
    workflow.refresh_from_db()
    first = _items_charged(workflow, chunk_no=0)
    assert workflow.items_charged == first > 0

    # and when the second runs, the settlement charges the counter, which is the items' sum
    execution.chunk_run(workflow_id=workflow.pk, chunk_no=1)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED
    assert workflow.credits_charged == workflow.items_charged == _items_charged(workflow) > first
    assert workflow.credits_charged + workflow.credits_refunded == workflow.credits_reserved


@pytest.mark.django_db
def test_items_taken_over_before_the_write_add_nothing(funded, settings, monkeypatch):
    # given a chunk whose first item another worker takes over between its lookups and its
    # write (its claim expired meanwhile)
    workflow = planned_run(funded, settings=settings, leads=3, chunk_size=3, emails_found=True)
    record = execution._record
    taken: list[int] = []

    def record_after_a_takeover(workflow, token, outcomes, over_budget, **kwargs):
        if outcomes and not taken:
            taken.append(outcomes[0].item.id)
            WorkflowItem.objects.filter(pk=taken[0]).update(claim_token="another-worker")
        return record(workflow, token, outcomes, over_budget, **kwargs)

    monkeypatch.setattr(execution, "_record", record_after_a_takeover)

    # when the chunk runs
    execution.chunk_run(workflow_id=workflow.pk, chunk_no=0)

    # then the taken item is left to its new owner, uncharged, and the counter holds what the
    # two written items were charged
    workflow.refresh_from_db()
    taken_item = WorkflowItem.objects.get(pk=taken[0])
    assert (taken_item.status, taken_item.credits_charged) == (ItemStatus.RUNNING, 0)
    assert workflow.processed == 2
    assert workflow.items_charged == _items_charged(workflow) > 0
    assert workflow.status == WorkflowStatus.RUNNING


# Migrations run outside a test transaction; the session's workers, if running, would take
# the plan's chunk messages: they step aside.
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sole_consumer")
def test_the_migration_counts_what_runs_were_charged_and_a_run_in_flight_settles_whole(
    funded, settings
):
    # given, on the schema before, a run whose first chunk was charged and an ended run
    ended = planned_run(funded, settings=settings, leads=2, chunk_size=2, emails_found=True)
    execution.chunk_run(workflow_id=ended.pk, chunk_no=0)
    ended.refresh_from_db()
    assert ended.status == WorkflowStatus.COMPLETED
    assert ended.credits_charged > 0
    in_flight = planned_run(funded, settings=settings, leads=6, chunk_size=3, emails_found=True)
    execution.chunk_run(workflow_id=in_flight.pk, chunk_no=0)
    charged_before = _items_charged(in_flight)
    assert charged_before > 0
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)

    # when the migration runs
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    # then the ended run's counter is what it was charged, the run in flight's what its items
    # were charged so far
    ended.refresh_from_db()
    in_flight.refresh_from_db()
    assert ended.items_charged == ended.credits_charged
    assert in_flight.items_charged == charged_before

    # and the run in flight, run to its end, is charged for every item
    execution.chunk_run(workflow_id=in_flight.pk, chunk_no=1)
    in_flight.refresh_from_db()
    assert in_flight.status == WorkflowStatus.COMPLETED
    assert in_flight.credits_charged == _items_charged(in_flight) > charged_before
