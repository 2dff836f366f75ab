import json
import uuid

import pytest

from config.celery import app
from enrichment.models import Workflow
from tests.enrichment.conftest import SANDBOX_ENV, wait_terminal
from tests.helpers import wait_until
from tests.leads.factories import LeadListFactory
from tests.ops.factories import WorkflowFactory
from tests.workers import WorkerProcess

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _json_lines(text: str) -> list[dict]:
    lines = []
    for raw in text.splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


def test_worker_logs_json_lines_with_workflow_and_task_ids(workspace):
    # given a worker logging JSON on a queue of its own (so no other test worker takes the
    # tasks), and a bulk workflow for it: planned, run in one chunk, settled
    queue = f"ops-logs-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(
        # every kind of work on the private queue (empty names: the default queue)
        env={
            **SANDBOX_ENV,
            "SLUICE_LOG_FORMAT": "json",
            "SLUICE_DEFAULT_QUEUE": queue,
            "SLUICE_PLANNING_QUEUE": "",
            "SLUICE_CHUNK_QUEUE": "",
            "SLUICE_WEBHOOK_QUEUE": "",
            "SLUICE_HOUSEKEEPING_QUEUE": "",
        },
        concurrency=1,
    ).start()
    try:
        lead_list = LeadListFactory(workspace=workspace, lead_count=3)
        workflow = WorkflowFactory(
            workspace=workspace, lead_list=lead_list, credits_reserved=3, total=0
        )

        # when
        app.send_task("enrichment.plan_workflow", args=[workflow.pk], queue=queue)
        wait_terminal(workflow.pk)

        # then the settlement line is JSON and names the workflow and the task that logged it
        def settled_line():
            for line in _json_lines(worker.output()):
                if line.get("logger") == "enrichment.services.lifecycle":
                    return line
            return None

        line = wait_until(settled_line, timeout=10)
    finally:
        worker.stop()
    assert line["workflow_id"] == workflow.pk
    assert line["message"].startswith(f"workflow {workflow.pk} completed")
    assert line["task_name"] in ("enrichment.run_chunk", "enrichment.plan_workflow")
    uuid.UUID(line["task_id"])
    assert line["level"] == "INFO"
    assert line["request_id"] == "-"
    assert Workflow.objects.get(pk=workflow.pk).status == "completed"
    # Celery's own lines go through the same JSON handler (no hijacked root logger)
    assert any(entry["logger"].startswith("celery") for entry in _json_lines(worker.output()))
