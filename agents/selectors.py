"""Reads of smart-agent runs, always through the caller's workspace (another workspace's run or
list answers 404, exactly like one that does not exist)."""

import uuid

from django.db.models import QuerySet

from accounts.models import Workspace
from agents.models import AgentRun
from common.exceptions import NotFound
from enrichment.models import TERMINAL_ITEM_STATUSES, WorkflowItem, WorkflowStatus
from leads.selectors import lead_list_get

# The SDK's four run states.
SDK_STATUS: dict[str, str] = {
    WorkflowStatus.PENDING: "pending",
    WorkflowStatus.RUNNING: "processing",
    WorkflowStatus.COMPLETED: "completed",
    WorkflowStatus.FAILED: "failed",
    WorkflowStatus.CANCELLED: "failed",
}


def agent_runs_list(
    *, workspace: Workspace, list_id: uuid.UUID | str | None = None, limit: int = 20
) -> list[AgentRun]:
    """Most recent first; `list_id` narrows to one list this workspace can see (else 404)."""
    runs: QuerySet[AgentRun] = AgentRun.objects.filter(workspace=workspace)
    if list_id is not None:
        runs = runs.filter(lead_list=lead_list_get(workspace=workspace, list_id=list_id))
    return list(runs.select_related("workflow").order_by("-created_at", "-pk")[:limit])


def agent_run_get(*, workspace: Workspace, run_id: str) -> AgentRun:
    # PostgreSQL cannot even compare a text holding NUL: no such id can exist.
    run = (
        None
        if "\x00" in run_id
        else AgentRun.objects.filter(workspace=workspace, pk=run_id)
        .select_related("workflow")
        .first()
    )
    if run is None:
        raise NotFound("No smart-agent run with that id.", details={"smart_agent_task_id": run_id})
    return run


def agent_run_results(*, run: AgentRun) -> list[WorkflowItem]:
    """The leads processed so far, in the run's order, each with its value (if any)."""
    return list(
        WorkflowItem.objects.filter(workflow_id=run.pk, status__in=TERMINAL_ITEM_STATUSES)
        .select_related("agent_output")
        .order_by("id")
    )
