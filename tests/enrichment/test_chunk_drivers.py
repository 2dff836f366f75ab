"""In a worker process a message's chunks run on the process's chunk drivers: the next chunk
starts (or the message returns for the next one) once the current chunk has fed the engine
pool all but a pool's worth of its people, while that chunk finishes on its driver. Every chunk
is still claimed and written on its own, and a failure reaches whoever answers for it."""

import threading

import pytest

from enrichment import dispatch
from enrichment.models import WorkflowStatus
from enrichment.services import execution
from tests.enrichment.conftest import assert_settled
from tests.enrichment.factories import planned_run

# No worker may run the plan's messages: the tests run the chunks themselves.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sole_consumer")]


@pytest.fixture
def drivers(monkeypatch):
    """This process as a worker's pool process (chunk_drivers_start), stopped afterwards."""
    monkeypatch.setattr(execution, "_drivers", None)
    execution.chunk_drivers_start()
    yield
    execution.chunk_drivers_stop()


def test_chunk_drivers_run_every_chunk_of_the_message_once(funded, settings, monkeypatch):
    # given calls that wait (the engine pool is used) and a pool smaller than a chunk, the run
    # planned before this process's drivers start (a planner's own process would run a chunk)
    settings.SLUICE_SANDBOX_INSTANCES = {"sandbox": {"latency_ms": 5, "email_hit_rate": 0.6}}
    settings.SLUICE_ENGINE_THREADS = 4
    workflow = planned_run(funded, 40, settings)
    assert workflow.chunk_count == 4
    monkeypatch.setattr(execution, "_drivers", None)
    execution.chunk_drivers_start()

    # when a message of the four chunks runs, and the process then exits
    execution.chunks_run(workflow_id=workflow.pk, chunk_nos=[0, 1, 2, 3])
    execution.chunk_drivers_stop()

    # then every item was written once and the run settled
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED
    assert workflow.processed == 40
    assert_settled(workflow)  # every item terminal, charged once


def test_chunk_drivers_raise_a_failure_in_the_message_and_start_no_later_chunk(
    funded, settings, drivers, monkeypatch
):
    started: list[int] = []

    def chunk_run(*, workflow_id: str, chunk_no: int, fed: threading.Event) -> None:
        started.append(chunk_no)
        if chunk_no == 1:
            raise RuntimeError("boom")

    monkeypatch.setattr(execution, "chunk_run", chunk_run)

    with pytest.raises(RuntimeError, match="boom"):
        execution.chunks_run(workflow_id="wf", chunk_nos=[0, 1, 2, 3])

    assert started == [0, 1]


def test_chunk_drivers_send_again_a_chunk_that_fails_after_its_message(
    settings, drivers, monkeypatch
):
    # given a chunk that has fed the pool and fails once its message has returned
    returned, sent = threading.Event(), []

    def chunk_run(*, workflow_id: str, chunk_no: int, fed: threading.Event) -> None:
        fed.set()
        returned.wait(timeout=30)
        raise RuntimeError("lost the database")

    monkeypatch.setattr(execution, "chunk_run", chunk_run)
    monkeypatch.setattr(
        dispatch, "chunks", lambda *, workflow_id, chunk_nos, **_: sent.append(chunk_nos)
    )

    # when its message returns, then the chunk fails
    execution.chunks_run(workflow_id="wf", chunk_nos=[7])
    returned.set()
    execution.chunk_drivers_stop()

    # then it is sent again, in a message of its own
    assert sent == [[7]]
