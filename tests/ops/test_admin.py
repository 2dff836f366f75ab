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
