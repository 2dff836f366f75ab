"""A planned run's chunks go out several to a message; the worker runs them one after the other,
each claimed and written on its own, and a message that gives up fails only the chunk it was on
and sends the ones after it again."""

import pytest

from enrichment.models import ItemStatus, WorkflowItem, WorkflowStatus
from enrichment.services import execution
from tests.enrichment.conftest import assert_settled
from tests.enrichment.factories import planned_run

# No worker may run the plan's messages: the tests run the chunks themselves, in an order of
# their choosing (a session worker of the same test process would take them from the broker).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sole_consumer")]


def test_per_message_groups_only_large_runs():
    assert execution._per_message(10) == 1  # a small run: a message per chunk
    assert execution._per_message(200) == 3  # 100,000 leads in chunks of 500
    assert execution._per_message(100_000) == execution._CHUNKS_PER_MESSAGE


def test_chunks_run_runs_every_chunk_of_the_message(funded, settings):
    workflow = planned_run(funded, 40, settings)
    assert workflow.chunk_count == 4

    execution.chunks_run(workflow_id=workflow.pk, chunk_nos=[0, 1, 2, 3])

    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED
    assert workflow.processed == 40
    assert_settled(workflow)  # every item terminal, charged once


def test_chunks_give_up_fails_only_the_chunk_it_was_on(funded, settings):
    # given a message of three chunks whose first ran before the second kept failing
    workflow = planned_run(funded, 30, settings)
    execution.chunk_run(workflow_id=workflow.pk, chunk_no=0)

    # when the message gives up
    execution.chunks_give_up(workflow_id=workflow.pk, chunk_nos=[0, 1, 2], reason="boom")

    # then the second chunk's items failed, the first's stand and the third's wait for their
    # own message
    items = WorkflowItem.objects.filter(workflow=workflow)
    assert not items.filter(chunk_no=0, status=ItemStatus.FAILED).exists()
    assert set(items.filter(chunk_no=1).values_list("status", "error")) == {
        (ItemStatus.FAILED, "boom")
    }
    assert set(items.filter(chunk_no=2).values_list("status", flat=True)) == {ItemStatus.QUEUED}
