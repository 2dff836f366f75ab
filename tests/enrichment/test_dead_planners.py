"""What a dead worker leaves that no message will bring back for an hour (the broker's
visibility timeout): a planner that died mid-plan, and a run whose last chunk died between
writing its last items and settling it. A worker that connects and each sweep see to both at
once, instead of after the sweeper's stall grace."""

import base64
import json

import pytest
import redis
from django.conf import settings as django_settings
from django.utils import timezone

from enrichment.models import ItemStatus, Workflow, WorkflowItem, WorkflowStatus
from enrichment.services import execution
from enrichment.services.start import bulk_enrichment_start
from tests.enrichment.factories import list_quote, list_with_leads, planned_run, planner_at_work


def _planner_messages(workflow_id: str) -> int:
    """Messages naming the run waiting in the planning queue."""
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    raw = broker.lrange(django_settings.SLUICE_PLANNING_QUEUE, 0, -1)
    bodies = [json.loads(base64.b64decode(json.loads(message)["body"])) for message in raw]
    return sum(1 for body in bodies if body[0] and body[0][0] == workflow_id)


def _running_unplanned(workspace) -> Workflow:
    """A bulk run whose planner started (the run is running) and is not done."""
    lead_list = list_with_leads(workspace, 4)
    workflow = bulk_enrichment_start(
        workspace=workspace, list_id=lead_list.pk, enrichment_type="partial",
        output="skip_existing", quote_id=list_quote(workspace, lead_list),
    ).workflow  # fmt: skip
    Workflow.objects.filter(pk=workflow.pk).update(
        status=WorkflowStatus.RUNNING, started_at=timezone.now()
    )
    return workflow


# No worker may take the planner's messages: the test reads them from the broker.
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sole_consumer")
def test_a_planner_that_died_mid_plan_is_sent_again_and_a_live_one_is_left_alone(funded, settings):
    # given a run mid-plan whose planner holds the plan lock (and that the sweeper counts as
    # stalled: no grace)
    settings.SLUICE_STALL_GRACE_SECONDS = 0
    workflow = _running_unplanned(funded)
    sent_at_start = _planner_messages(workflow.pk)
    with planner_at_work(workflow.pk):
        # when a worker connects while the planner lives, then nothing is sent
        assert execution.orphans_and_planners_recover(queued_too=True) == 0
        assert _planner_messages(workflow.pk) == sent_at_start

    # and when the planner's process is gone (its lock with it), a worker that connects sends
    # the planner again, and so does the next sweep, once
    assert execution.orphans_and_planners_recover(queued_too=True) == 1
    assert _planner_messages(workflow.pk) == sent_at_start + 1
    assert execution.workflows_sweep()["replanned"] == 1
    assert _planner_messages(workflow.pk) == sent_at_start + 2


@pytest.mark.django_db
@pytest.mark.parametrize("caller", ["a sweep", "a worker that connects"])
def test_a_run_whose_last_chunk_died_before_settling_is_settled_at_once(funded, settings, caller):
    # given a planned run whose every item was written, by a process that died before it could
    # settle the run (its progress is recent: no stall grace has passed)
    workflow = planned_run(funded, settings=settings, leads=2, chunk_size=2)
    WorkflowItem.objects.filter(workflow=workflow).update(
        status=ItemStatus.NOT_FOUND, finished_at=timezone.now()
    )
    Workflow.objects.filter(pk=workflow.pk).update(
        processed=2, not_found=2, last_progress_at=timezone.now()
    )

    # when the next sweep runs, or a worker connects
    if caller == "a sweep":
        assert execution.workflows_sweep()["settled"] == 1
    else:
        execution.orphans_and_planners_recover(queued_too=True)

    # then the run is settled, once
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.COMPLETED
    assert workflow.credits_refunded == workflow.credits_reserved
    assert execution.workflows_sweep()["settled"] == 0
