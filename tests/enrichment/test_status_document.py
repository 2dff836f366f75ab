"""The status poll's fast path: `workflow_status_get` reads only the status columns by a
statement of its own, and `WorkflowStatusSerializer` writes its document out by hand. Both must
answer exactly what the ORM and DRF's generic rendering would."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from common.exceptions import NotFound
from credits.models import RefundStatus
from enrichment.models import ItemStatus, Workflow, WorkflowItem, WorkflowStatus
from enrichment.selectors import STATUS_FIELDS, workflow_status_get
from enrichment.serializers import WorkflowStatusSerializer
from leads.services import cohort_create
from tests.leads.factories import LeadFactory, LeadListFactory
from tests.ops.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


def _generic(workflow: Workflow) -> dict:
    """DRF's own rendering of the declared fields, without the hand-written override."""
    body = serializers.Serializer.to_representation(WorkflowStatusSerializer(workflow), workflow)
    body.pop("timestamp_ms")
    return body


def _workflows(workspace) -> list[Workflow]:
    now = timezone.now()
    lead = LeadFactory(workspace=workspace, email="grace@navy.example", title="Admiral")
    person = WorkflowFactory(
        workspace=workspace, kind=Workflow.Kind.PERSON, status=WorkflowStatus.COMPLETED,
        total=1, processed=1, completed=1, found_emails=1, credits_reserved=1,
        credits_charged=1, started_at=now, finished_at=now + timedelta(seconds=1),
    )  # fmt: skip
    WorkflowItem.objects.create(
        workflow=person, lead=lead, chunk_no=0, status=ItemStatus.COMPLETED, provider="sandbox"
    )
    running = WorkflowFactory(
        workspace=workspace, lead_list=LeadListFactory(workspace=workspace),
        status=WorkflowStatus.RUNNING, total=7, processed=3, completed=1, not_found=1,
        failed=1, found_emails=1, credits_reserved=7, credits_charged=2,
        waterfall_version=4, started_at=now, entity_ids=["a", "b"], waterfall={"x": 1},
    )  # fmt: skip
    failed = WorkflowFactory(
        workspace=workspace, status=WorkflowStatus.FAILED, total=5, processed=5, failed=2,
        skipped=1, cancelled=1, skipped_existing=1, found_phones=2, credits_reserved=5,
        credits_charged=1, refund_status=RefundStatus.PENDING_REVIEW,
        error="providers down", finished_at=now,
    )  # fmt: skip
    pending = WorkflowFactory(workspace=workspace, status=WorkflowStatus.PENDING)
    return [running, failed, pending, person]


def test_workflow_status_get_reads_the_status_columns_as_the_orm_does(workspace):
    for expected in _workflows(workspace):
        expected.refresh_from_db()

        workflow = workflow_status_get(workspace=workspace, workflow_id=expected.pk)

        for name in STATUS_FIELDS:
            assert getattr(workflow, name) == getattr(expected, name), name
        assert workflow.get_deferred_fields() >= {"entity_ids", "waterfall"}
        # A column left out still loads when asked for.
        assert workflow.entity_ids == expected.entity_ids


def test_status_document_equals_drfs_generic_rendering(workspace):
    for workflow in _workflows(workspace):
        fast = workflow_status_get(workspace=workspace, workflow_id=workflow.pk)

        body = WorkflowStatusSerializer(fast).data

        assert isinstance(body.pop("timestamp_ms"), int)
        assert body == _generic(Workflow.objects.get(pk=workflow.pk))
        assert set(body) | {"timestamp_ms"} == set(WorkflowStatusSerializer().fields)


def test_status_document_of_a_person_run_carries_its_result(workspace):
    person = _workflows(workspace)[-1]

    body = WorkflowStatusSerializer(workflow_status_get(workspace=workspace, workflow_id=person.pk))

    assert body.data["result"]["email"] == "grace@navy.example"
    assert body.data["result"]["title"] == "Admiral"


def test_workflow_status_get_answers_only_the_workspaces_enrichment_runs(
    workspace, other_workspace
):
    mine = WorkflowFactory(workspace=workspace)
    agent = WorkflowFactory(workspace=workspace, kind=Workflow.Kind.AGENT)

    for workflow_id, asker in (
        (mine.pk, other_workspace),
        (agent.pk, workspace),
        ("no-such-run", workspace),
        ("nul\x00", workspace),
        ("cl-task_unknown", workspace),
    ):
        with pytest.raises(NotFound):
            workflow_status_get(workspace=asker, workflow_id=workflow_id)


def test_workflow_status_get_resolves_a_cohort_handle(workspace):
    lead = LeadFactory(workspace=workspace)
    cohort = cohort_create(
        workspace=workspace, entity_kind="person", entity_ids=[str(lead.pk)], source="search"
    )
    workflow = WorkflowFactory(workspace=workspace)
    cohort.workflow_id = workflow.pk
    cohort.save(update_fields=["workflow_id"])

    assert workflow_status_get(workspace=workspace, workflow_id=cohort.pk).pk == workflow.pk
