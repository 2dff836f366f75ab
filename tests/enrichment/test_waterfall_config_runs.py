"""A workspace's waterfall in real runs: catch-all policies priced end to end (a bulk run under
each policy charges exactly the emails the policy charges, and settles), the configuration
version a run pins, and an `auto` order recorded with its reasons."""

import pytest
from django.db.models import Sum

from credits.selectors import balance_get
from enrichment.models import ItemStatus, Workflow, WorkflowItem
from enrichment.services import execution, start
from providers.waterfalls import auto_orders_refresh_all
from tests.enrichment.conftest import assert_ledger_consistent, assert_settled
from tests.enrichment.factories import list_quote, list_with_leads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def half_risky(settings):
    """Two finders that always find; the verifier says valid for half the emails, risky
    (catch-all) for the other half."""
    settings.SLUICE_SANDBOX_INSTANCES = {
        "sandbox": {"latency_ms": 0, "email_hit_rate": 1.0, "verify_mix": (1, 1, 0, 0)}
    }
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b"]
    settings.SLUICE_VERIFIER = "sandbox"
    settings.SLUICE_CHUNK_SIZE = 100


def _run(api, workspace, policy: str, **config) -> Workflow:
    body = {"catch_all_policy": policy, **config}
    assert api.put("/api/v2/waterfall", body, format="json").status_code == 200
    lead_list = list_with_leads(workspace, 40)
    started = start.bulk_enrichment_start(
        workspace=workspace,
        list_id=lead_list.pk,
        enrichment_type="partial",
        output="skip_existing",
        quote_id=list_quote(workspace, lead_list),
    )
    execution.workflow_plan(workflow_id=started.workflow.pk)
    execution.chunk_run(workflow_id=started.workflow.pk, chunk_no=0)
    workflow = Workflow.objects.get(pk=started.workflow.pk)
    assert_settled(workflow)
    return workflow


@pytest.mark.parametrize(
    ("policy", "charged_statuses", "found_statuses"),
    [
        ("accept", {"valid", "risky"}, {"valid", "risky"}),
        ("accept_uncharged", {"valid"}, {"valid", "risky"}),
        ("reject", {"valid"}, {"valid"}),
    ],
)
def test_catch_all_policy_prices_the_run(
    api, funded, half_risky, sole_consumer, policy, charged_statuses, found_statuses
):
    before = balance_get(workspace=funded).balance

    workflow = _run(api, funded, policy)

    items = WorkflowItem.objects.filter(workflow=workflow)
    found = items.filter(status=ItemStatus.COMPLETED)
    assert set(found.values_list("email_status", flat=True)) == found_statuses
    # each found email costs 1 credit when its status is charged, 0 otherwise
    for item in found:
        assert item.credits_charged == (1 if item.email_status in charged_statuses else 0)
    expected = found.filter(email_status__in=charged_statuses).count()
    assert expected > 0
    assert workflow.credits_charged == expected
    assert items.aggregate(total=Sum("credits_charged"))["total"] == expected
    assert balance_get(workspace=funded).balance == before - expected
    assert_ledger_consistent(funded)
    if policy == "reject":
        # a risky email sends the waterfall on to sandbox_b (which finds the same address,
        # risky again: the verifier judges the address)
        missed = items.filter(status=ItemStatus.NOT_FOUND)
        assert missed.exists()
        for item in missed:
            finders = [a["provider"] for a in item.attempts if a["data_point"] == "email"]
            assert finders == ["sandbox_a", "sandbox_b"]
    # the run records the configuration it used, in its status too
    assert workflow.waterfall_version == 1
    assert workflow.waterfall["catch_all_policy"] == policy
    status = api.get(f"/api/v2/enrichment/status/{workflow.pk}").json()
    assert status["waterfall_version"] == 1


def test_a_run_keeps_the_version_its_first_chunk_pinned(api, funded, half_risky, sole_consumer):
    api.put("/api/v2/waterfall", {"catch_all_policy": "reject"}, format="json")
    lead_list = list_with_leads(funded, 20)
    started = start.bulk_enrichment_start(
        workspace=funded,
        list_id=lead_list.pk,
        enrichment_type="partial",
        output="skip_existing",
        quote_id=list_quote(funded, lead_list),
    )
    execution.workflow_plan(workflow_id=started.workflow.pk)
    Workflow.objects.filter(pk=started.workflow.pk).update(waterfall_version=None)

    execution.chunk_run(workflow_id=started.workflow.pk, chunk_no=0)
    api.put("/api/v2/waterfall", {"catch_all_policy": "accept"}, format="json")  # version 2

    workflow = Workflow.objects.get(pk=started.workflow.pk)
    assert workflow.waterfall_version == 1
    items = WorkflowItem.objects.filter(workflow=workflow, status=ItemStatus.COMPLETED)
    assert set(items.values_list("email_status", flat=True)) == {"valid"}


def test_an_auto_run_records_its_order_and_reasons(api, funded, settings, sole_consumer):
    settings.SLUICE_SANDBOX_INSTANCES = {
        "sandbox": {"latency_ms": 0, "verify_mix": (1, 0, 0, 0)},
        "sandbox_a": {"email_hit_rate": 0.1, "cost": 3.0, "miss_cost": 3.0},
        "sandbox_b": {"email_hit_rate": 0.9, "cost": 1.0, "miss_cost": 1.0},
    }
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b"]
    settings.SLUICE_AUTO_ORDER_MIN_CALLS = 10
    settings.SLUICE_AUTO_ORDER_EXPLORE_SHARE = 0
    first = _run(api, funded, "accept", email="auto")
    auto_orders_refresh_all()  # what beat runs
    refreshed = api.get("/api/v2/waterfall").json()
    second = _run(api, funded, "accept", email="auto")

    # no history: the operator's order; then the workspace's own records put b first
    assert first.waterfall["auto"]["email"]["source"] == "prior"
    assert first.waterfall["orders"]["email"] == ["sandbox_a", "sandbox_b"]
    assert refreshed["effective"]["email"] == ["sandbox_b", "sandbox_a"]
    assert second.waterfall["auto"]["email"]["source"] == "workspace"
    reasons = second.waterfall["auto"]["email"]["reasons"]
    assert [r["provider"] for r in reasons] == ["sandbox_b", "sandbox_a"]
    assert reasons[0]["expected_cost_per_hit"] < reasons[1]["expected_cost_per_hit"]
