"""One workspace cannot learn what another prospected: the provider result cache is per
workspace, so a person another workspace looked up minutes ago is, in this workspace's items,
a fresh provider call like any other (no `cached` flag, a real latency, the provider's cost)."""

import pytest

from credits.services import credits_grant
from tests.leads.factories import LeadListFactory
from tests.workers import WorkerProcess, wait_terminal

pytestmark = [pytest.mark.reliability, pytest.mark.worker]

LATENCY_MS = 40
PERSON = {"first_name": "Grace", "last_name": "Hopper", "domain": "navy.example"}


@pytest.fixture
def slow_sandbox_worker(sole_consumer):
    """A worker whose sandbox always answers, after LATENCY_MS: a fresh call shows its time."""
    worker = WorkerProcess(
        env={
            "SLUICE_SANDBOX_LATENCY_MS": str(LATENCY_MS),
            "SLUICE_SANDBOX_EMAIL_HIT_RATE": "1",
            "SLUICE_SANDBOX_PHONE_HIT_RATE": "1",
            "SLUICE_SANDBOX_VERIFY_MIX": "1,0,0,0",
        }
    ).start()
    yield worker
    worker.kill()  # the test's assertions are done; its data is flushed next


def _enrich(client, workspace) -> list[dict]:
    """Enriches PERSON in `workspace` and returns the attempts of its one item."""
    credits_grant(workspace=workspace, amount=100, reason="test", reference=f"t{workspace.pk}")
    lead_list = LeadListFactory(workspace=workspace)
    started = client.post(
        "/api/v2/enrichment/person",
        {"lead_list_id": str(lead_list.pk), "enrichment_type": "full", **PERSON},
    )
    assert started.status_code == 202, started.content
    workflow = wait_terminal(started.json()["workflow_id"])
    [item] = client.get(f"/api/v2/enrichment/{workflow.pk}/items").json()["items"]
    assert item["status"] == "completed"
    return item["attempts"]


@pytest.mark.django_db(transaction=True)
def test_cache_isolation_another_workspaces_lookup_leaves_no_trace(
    api, workspace, other_api, other_workspace, slow_sandbox_worker
):
    # given another workspace looked the person up first (its answers are in the cache)
    theirs = _enrich(other_api, other_workspace)
    assert [a["cached"] for a in theirs] == [False, False, False]

    # when this workspace looks up the same person
    mine = _enrich(api, workspace)

    # then its items read like a fresh lookup: the same steps, none cached, each with the
    # provider's latency and cost
    def steps(attempts: list[dict]) -> list[tuple]:
        return [(a["provider"], a["data_point"], a["outcome"], a["cost"]) for a in attempts]

    assert steps(mine) == steps(theirs)
    assert [a["data_point"] for a in mine] == ["email", "email_verification", "phone"]
    assert not any(a["cached"] for a in mine)
    assert all(a["ms"] >= LATENCY_MS - 1 for a in mine), mine
