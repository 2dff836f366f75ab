"""A chunk's claim and its small reads (issue 18, seventh pass): the owner lock is held while
the chunk runs and released as it ends, however it ends; the lease is still renewed; the reads
a chunk makes of its workflow, the suppression list and the settlement rule, each by a statement
written once per process, answer as the ORM's did."""

import pytest
from django.db import connection
from django.utils import timezone

from enrichment import waterfall
from enrichment.models import ItemStatus, Workflow, WorkflowItem, WorkflowStatus
from enrichment.selectors import workflow_for_chunk, workflow_waterfall_version
from enrichment.services import execution, leases
from enrichment.services.lifecycle import workflow_settle_when_done
from leads import suppression
from leads.models import Suppression
from tests.enrichment.factories import planned_run
from tests.helpers import wait_until


def _owner_locks_held(token: str) -> int:
    """Granted advisory locks on the claim's key (pg_advisory_lock of a bigint: its high and low
    halves as classid and objid), whichever connection holds them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND objsubid = 1 AND database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database()) "
            "AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(%s, 0)",
            [token],
        )
        return cursor.fetchone()[0]


def _claim_token(workflow, chunk_no: int) -> str:
    items = WorkflowItem.objects.filter(workflow=workflow, chunk_no=chunk_no)
    return items.values_list("claim_token", flat=True).first()


def _during_the_claim(monkeypatch, look):
    """Runs `look()` inside the chunk, once its items are claimed (while its lease is held)."""
    budget = execution._claim_budget
    seen = []

    def claim_budget(workflow, wanted_cost):
        seen.append(look())
        return budget(workflow, wanted_cost)

    monkeypatch.setattr(execution, "_claim_budget", claim_budget)
    return seen


# The session's workers, if running, would take the plan's chunk messages: they step aside.
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sole_consumer")
def test_the_owner_lock_is_held_while_the_chunk_runs_and_released_as_it_ends(
    funded, settings, monkeypatch
):
    # given a planned run
    workflow = planned_run(funded, settings=settings, leads=6, chunk_size=3)

    # when its first chunk runs
    seen = _during_the_claim(
        monkeypatch,
        lambda: (token := _claim_token(workflow, 0), _owner_locks_held(token)),
    )
    execution.chunk_run(workflow_id=workflow.pk, chunk_no=0)

    # then the claim's owner lock was held while the chunk ran, and is free once it returned
    [(token, held)] = seen
    assert held == 1
    assert _owner_locks_held(token) == 0
    assert not WorkflowItem.objects.filter(workflow=workflow, chunk_no=0, finished_at=None)


# The session's workers, if running, would take the plan's chunk messages: they step aside.
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sole_consumer")
def test_a_failed_chunk_releases_its_owner_lock_so_its_items_can_be_taken_at_once(
    funded, settings, monkeypatch
):
    # given a planned run whose chunk fails after its claim
    workflow = planned_run(funded, settings=settings, leads=6, chunk_size=3)

    def fail(*args, **kwargs):
        raise RuntimeError("provider pool gone")

    monkeypatch.setattr(waterfall, "run_slices", fail)

    # when it runs
    with pytest.raises(RuntimeError):
        execution.chunk_run(workflow_id=workflow.pk, chunk_no=0)

    # then its items are still claimed, but nobody owns them any more: the lock is released,
    # and the dead-claim search gives them back to the queue without waiting out the lease
    assert _owner_locks_held(_claim_token(workflow, 0)) == 0
    running = WorkflowItem.objects.filter(workflow=workflow, chunk_no=0, status=ItemStatus.RUNNING)
    assert running.count() == 3
    assert leases.leases_release_dead() == {workflow.pk: [0]}
    assert not running.exists()


# The session's workers, if running, would take the plan's chunk messages: they step aside.
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sole_consumer")
def test_a_long_chunk_s_lease_is_still_renewed(funded, settings, monkeypatch):
    # given a planned run and a heartbeat much shorter than the chunk will take
    workflow = planned_run(funded, settings=settings, leads=3, chunk_size=3)
    settings.SLUICE_CLAIM_HEARTBEAT_SECONDS = 0.05
    items = WorkflowItem.objects.filter(workflow=workflow, chunk_no=0)

    def renewed() -> bool:
        first = items.values_list("claimed_at", flat=True).first()
        wait_until(lambda: items.values_list("claimed_at", flat=True).first() > first, timeout=30)
        return True

    # when its chunk waits, claimed, for a renewal
    seen = _during_the_claim(monkeypatch, renewed)
    execution.chunk_run(workflow_id=workflow.pk, chunk_no=0)

    # then the renewing thread moved claimed_at on while the chunk ran, and the chunk finished
    assert seen == [True]
    assert not items.filter(finished_at=None).exists()


@pytest.mark.django_db
def test_a_chunk_moves_a_pending_run_to_running_and_leaves_a_running_one_be(funded, settings):
    # given a planned run sent back to pending (a chunk sent before its planner ran)
    workflow = planned_run(funded, settings=settings, leads=6, chunk_size=3)
    Workflow.objects.filter(pk=workflow.pk).update(status=WorkflowStatus.PENDING)

    # when a chunk runs, then the run is running, started now
    execution.chunk_run(workflow_id=workflow.pk, chunk_no=0)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.RUNNING
    started = workflow.started_at

    # and the next chunk (the last) does not start it again, and settles it
    execution.chunk_run(workflow_id=workflow.pk, chunk_no=1)
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED
    assert workflow.started_at == started


@pytest.mark.django_db
def test_workflow_settle_when_done_settles_a_due_run_once(funded, settings):
    # given a planned run with an item left
    workflow = planned_run(funded, settings=settings, leads=2, chunk_size=2)
    assert workflow_settle_when_done(workflow_id=workflow.pk) is False
    assert Workflow.objects.get(pk=workflow.pk).status == WorkflowStatus.RUNNING

    # when every item is processed
    WorkflowItem.objects.filter(workflow=workflow).update(
        status=ItemStatus.NOT_FOUND, finished_at=timezone.now()
    )
    Workflow.objects.filter(pk=workflow.pk).update(processed=2, not_found=2)

    # then the first call settles it, a second finds nothing due
    assert workflow_settle_when_done(workflow_id=workflow.pk) is True
    settled = Workflow.objects.get(pk=workflow.pk)
    assert settled.status == WorkflowStatus.COMPLETED
    assert settled.credits_refunded == settled.credits_reserved
    assert workflow_settle_when_done(workflow_id=workflow.pk) is False
    assert workflow_settle_when_done(workflow_id="no-such-run") is False


@pytest.mark.django_db
def test_workflow_for_chunk_reads_what_the_orm_would(funded, settings):
    workflow = planned_run(funded, settings=settings, leads=2, chunk_size=2)
    Workflow.objects.filter(pk=workflow.pk).update(entity_ids=["a", "b"], waterfall_version=3)
    expected = Workflow.objects.get(pk=workflow.pk)

    read = workflow_for_chunk(workflow_id=workflow.pk)

    assert read is not None
    for field in Workflow._meta.concrete_fields:
        assert getattr(read, field.attname) == getattr(expected, field.attname), field.attname
    assert workflow_for_chunk(workflow_id="no-such-run") is None
    assert workflow_waterfall_version(workflow_id=workflow.pk) == 3
    assert workflow_waterfall_version(workflow_id="no-such-run") is None


@pytest.mark.django_db
def test_any_listed_sees_the_workspace_s_and_the_operator_s_entries_only(
    workspace, other_workspace
):
    assert suppression.any_listed(workspace.pk) is False
    Suppression.objects.create(workspace=other_workspace, kind="email", digest="a" * 64)
    assert suppression.any_listed(workspace.pk) is False
    assert suppression.any_listed(str(other_workspace.pk)) is True
    Suppression.objects.create(workspace=None, kind="email", digest="b" * 64)
    assert suppression.any_listed(workspace.pk) is True
    assert suppression.any_listed(None) is True
