"""The chunk layout: a run of many chunks ends in smaller ones, so that its last pieces are
shared by every worker process; a run of a few keeps whole chunks; and every planner (the
start's, the batched one, the SQL one) numbers the same scope the same way."""

import pytest

from enrichment.chunk_layout import TAPER_FROM_CHUNKS, chunk_layout
from enrichment.models import Workflow, WorkflowItem
from enrichment.services import execution
from enrichment.services.start import bulk_enrichment_start, leads_enrichment_start
from leads.models import ListMembership
from tests.enrichment.factories import list_quote, list_with_leads


def _sizes(layout) -> list[int]:
    return [layout.start(c + 1) - layout.start(c) for c in range(layout.chunk_count)]


def test_chunk_layout_ends_a_large_run_in_halves_then_quarters_of_a_chunk():
    # given the waterfall benchmark's run: 20,000 items in chunks of 500
    layout = chunk_layout(total=20_000, size=500)

    # then whole chunks, then the last two chunks' worth in halves and in quarters
    assert _sizes(layout) == [500] * 38 + [250, 250, 125, 125, 125, 125]
    assert layout.chunk_count == 44
    # and the odd items of a total go to the halves, never to a short chunk among whole ones
    assert _sizes(chunk_layout(total=20_100, size=500))[-7:] == [500, 300, 300] + [125] * 4


def test_chunk_layout_keeps_whole_chunks_for_a_run_of_a_few():
    # given runs of fewer than TAPER_FROM_CHUNKS chunks' worth
    for total in (1, 499, 500, 1_001, TAPER_FROM_CHUNKS * 500 - 1):
        layout = chunk_layout(total=total, size=500)

        # then every chunk is whole but the last, as before the taper
        assert [layout.chunk_no(p) for p in range(total)] == [p // 500 for p in range(total)]
        assert layout.chunk_count == -(-total // 500)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50, 500])
def test_chunk_layout_numbers_every_position_into_consecutive_chunks(size):
    for total in range(12 * size + 3):
        layout = chunk_layout(total=total, size=size)
        chunks = [layout.chunk_no(p) for p in range(total)]
        # consecutive chunks from 0, none empty, none larger than a chunk, smaller toward the end
        assert chunks == sorted(chunks)
        assert set(chunks) == set(range(layout.chunk_count))
        sizes = _sizes(layout)
        assert sum(sizes) == total
        assert all(0 < s <= size for s in sizes)
        assert sizes[layout.full :] == sorted(sizes[layout.full :], reverse=True)
        # and where each chunk starts agrees with where its items go
        assert all(chunks[layout.start(c)] == c for c in range(layout.chunk_count))
        assert layout.chunks_holding(total) == layout.chunk_count


def test_chunk_layout_goes_on_in_whole_chunks_past_the_counted_total():
    # given a list that grew after the start counted it
    layout = chunk_layout(total=20_000, size=500)

    # then the items past the count follow in whole chunks after the counted run's last
    assert [layout.chunk_no(p) for p in (19_999, 20_000, 20_499, 20_500)] == [43, 44, 44, 45]
    assert layout.start(45) == 20_500
    assert layout.chunks_holding(20_501) == 46


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sole_consumer")  # no worker runs the chunks: the test reads them
@pytest.mark.parametrize("total", [9, 29])
def test_chunk_layout_is_the_same_whichever_planner_numbers_the_run(funded, settings, total):
    # given chunks of 2: a run of a few chunks (9), and one whose smaller last chunks span two
    # of the SQL planner's batches (29: chunks 12-17; batches of chunks 6-13 and 14-29)
    settings.SLUICE_CHUNK_SIZE = 2
    layout = chunk_layout(total=total, size=2)
    lead_list = list_with_leads(funded, total)
    ids = [str(i) for i in ListMembership.objects.filter(lead_list=lead_list).values_list(
        "lead_id", flat=True).order_by("id")]  # fmt: skip

    # when the start numbers them (leads by id), the batched planner does (the same run's ids,
    # planned again from scratch) and the SQL planner does (the list)
    by_ids = leads_enrichment_start(
        workspace=funded, lead_ids=ids, enrichment_type="partial"
    ).workflow  # type: ignore[union-attr]
    at_start = _chunks_by_position(by_ids, by_ids.entity_ids)
    WorkflowItem.objects.filter(workflow=by_ids).delete()
    Workflow.objects.filter(pk=by_ids.pk).update(planned=False, chunk_count=0)
    execution.workflow_plan(workflow_id=by_ids.pk)
    batched = _chunks_by_position(by_ids, by_ids.entity_ids)
    bulk = bulk_enrichment_start(
        workspace=funded, list_id=lead_list.pk, enrichment_type="partial",
        output="overwrite", quote_id=list_quote(funded, lead_list, output="overwrite"),
    ).workflow  # type: ignore[union-attr]  # fmt: skip
    execution.workflow_plan(workflow_id=bulk.pk)
    in_sql = _chunks_by_position(bulk, ids)

    # then each gives every position the layout's chunk, and counts the layout's chunks
    expected = [layout.chunk_no(p) for p in range(total)]
    assert at_start == batched == in_sql == expected
    for workflow in (by_ids, bulk):
        workflow.refresh_from_db()
        assert workflow.chunk_count == layout.chunk_count


def _chunks_by_position(workflow: Workflow, lead_ids: list[str]) -> list[int]:
    chunk_of = {
        str(lead_id): chunk_no
        for lead_id, chunk_no in WorkflowItem.objects.filter(workflow=workflow).values_list(
            "lead_id", "chunk_no"
        )
    }
    return [chunk_of[lead_id] for lead_id in lead_ids]
