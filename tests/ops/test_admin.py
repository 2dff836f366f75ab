import pytest
from django.urls import reverse

from enrichment.models import WorkflowItem
from tests.leads.factories import LeadFactory
from tests.ops.factories import ProviderCallFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


def test_admin_workflow_page_shows_items_attempts_and_provider_summary(admin_client, workspace):
    # given a finished workflow with one item, its waterfall attempts and tagged provider calls
    workflow = WorkflowFactory(workspace=workspace, status="completed", total=1, processed=1)
    WorkflowItem.objects.create(
        workflow=workflow, lead=LeadFactory(workspace=workspace), chunk_no=0,
        status="completed", email="ada@example.com", provider="hunter",
        attempts=[
            {"provider": "prospeo", "data_point": "email", "outcome": "not_found", "ms": 120,
             "cached": False},
            {"provider": "hunter", "data_point": "email", "outcome": "found", "ms": 80,
             "cached": False},
        ],
    )  # fmt: skip
    for ms in (100, 200, 300):
        ProviderCallFactory(provider="hunter", latency_ms=ms, tag=workflow.pk)
    ProviderCallFactory(provider="hunter", outcome="not_found", latency_ms=400, tag=workflow.pk)
    ProviderCallFactory(provider="prospeo", outcome="found", latency_ms=5, tag="other-run")

    # when
    url = reverse("admin:enrichment_workflow_change", args=[workflow.pk])
    response = admin_client.get(url)

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "ada@example.com" in page
    assert "prospeo email: not_found 120 ms → hunter email: found 80 ms" in page
    summary = page.split("<th>provider</th>", 1)[1].split("</table>", 1)[0]
    # hunter: 4 calls, 0 cache hits, 3 hits, 75 %, p50 250 ms, p95 385 ms, 0 errors
    assert (
        "<td>hunter</td><td>4</td><td>0</td><td>3</td><td>75.0 %</td><td>250</td>"
        "<td>385</td><td>0</td>"
    ) in summary
    assert "prospeo" not in summary


def test_admin_workflow_page_without_calls_renders(admin_client, workspace):
    workflow = WorkflowFactory(workspace=workspace, status="pending")

    response = admin_client.get(reverse("admin:enrichment_workflow_change", args=[workflow.pk]))

    assert response.status_code == 200
    assert "Per provider" in response.content.decode()


def test_admin_workflow_page_marks_the_sandbox_and_splits_its_verdicts(admin_client, workspace):
    # given a run whose finder and verifier were both the sandbox
    workflow = WorkflowFactory(workspace=workspace, status="completed", total=1, processed=1)
    WorkflowItem.objects.create(
        workflow=workflow, lead=LeadFactory(workspace=workspace), chunk_no=0,
        status="not_found", provider="",
        attempts=[
            {"provider": "sandbox", "data_point": "email", "outcome": "found", "ms": 3,
             "cached": False, "verdict": None},
            {"provider": "sandbox", "data_point": "email_verification", "outcome": "found",
             "ms": 2, "cached": False, "verdict": "invalid"},
        ],
    )  # fmt: skip
    ProviderCallFactory(provider="sandbox", data_point="email", latency_ms=3, tag=workflow.pk)
    ProviderCallFactory(
        provider="sandbox", data_point="email_verification", latency_ms=2, tag=workflow.pk
    )

    # when
    response = admin_client.get(reverse("admin:enrichment_workflow_change", args=[workflow.pk]))

    # then the trail names the sandbox as such and shows the verifier's verdict
    page = response.content.decode()
    assert (
        "sandbox [sandbox: invented data] email: found 3 ms → "
        "sandbox [sandbox: invented data] email_verification: found invalid 2 ms"
    ) in page
    # and the lookup and the verification are two rows, the verdict not counted as a hit
    summary = page.split("<th>provider</th>", 1)[1].split("</table>", 1)[0]
    assert (
        "<td>email</td><td>sandbox [sandbox: invented data]</td><td>1</td><td>0</td><td>1</td>"
        "<td>100.0 %</td>"
    ) in summary
    assert (
        "<td>email_verification</td><td>sandbox [sandbox: invented data]</td><td>1</td>"
        "<td>0</td><td>—</td><td>—</td>"
    ) in summary


def test_admin_shows_a_stale_sweeper(admin_client, settings):
    # given beat's sweeper last finished ten minutes ago, stale after two
    from datetime import timedelta

    from django.utils import timezone

    from enrichment.models import SweeperRun

    settings.SLUICE_SWEEPER_STALE_SECONDS = 120
    SweeperRun.objects.create(
        name="enrichment.sweep_workflows", finished_at=timezone.now() - timedelta(minutes=10)
    )

    response = admin_client.get(reverse("admin:enrichment_sweeperrun_changelist"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "enrichment.sweep_workflows" in page
    assert "icon-no.svg" in page  # "running (not stale)": a red cross
