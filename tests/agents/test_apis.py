"""Refusals of the smart-agent endpoints: the error format, and nothing written."""

import pytest

from agents.models import AgentRun
from credits.models import Quote
from credits.selectors import balance_get
from enrichment.models import Workflow
from tests.agents.conftest import titled_list
from tests.helpers import assert_error
from tests.leads.factories import LeadListFactory

pytestmark = pytest.mark.django_db


def _estimate(api, lead_list, **fields):
    body = {"tool": "run_smart_agent", "list_id": str(lead_list.pk), **fields}
    return api.post("/api/v2/credits/estimate", body, format="json")


def _run(api, lead_list, quote_id="qte_k0_1_" + "0" * 32, **fields):
    body = {"list_id": str(lead_list.pk), "column_name": "Level", "quote_id": quote_id, **fields}
    return api.post("/api/v2/smart-agents/run", body, format="json")


def test_estimate_needs_a_column_name_and_a_known_agent_type(api, workspace):
    lead_list = titled_list(workspace)
    error = assert_error(
        _estimate(api, lead_list, agent_type="title_normalizer"), 400, "validation_error"
    )
    assert "column_name" in error["details"]
    error = assert_error(
        _estimate(api, lead_list, agent_type="mind_reader", column_name="x"),
        400,
        "validation_error",
    )
    assert "agent_type" in error["details"]


def test_estimate_takes_the_column_at_the_top_level_too(api, workspace):
    lead_list = titled_list(workspace)
    response = _estimate(
        api, lead_list, agent_type="title_normalizer", column_name="Level", row_count=3
    )
    assert response.status_code == 200, response.content
    assert (response.json()["row_count"], response.json()["estimated_cost"]) == (3, 3)
    assert Quote.objects.get(quote_id=response.json()["quote_id"]).params == {
        "list_id": str(lead_list.pk), "agent_type": "title_normalizer", "column_name": "Level",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        (
            {"agent_type": "title_normalizer", "column_name": "title"},
            "validation_error",
            "column_name",
        ),
        ({"agent_type": "custom_ai"}, "validation_error", "prompt"),
        ({"agent_type": "cold_intro_email", "prompt": "Hi {email}"}, "validation_error", "prompt"),
        (
            {"agent_type": "title_normalizer", "lead_scope": "some"},
            "validation_error",
            "lead_scope",
        ),
        ({"agent_type": "title_normalizer", "max_rows": 10001}, "validation_error", "max_rows"),
        ({"agent_type": "title_normalizer"}, "quote_mismatch", None),
    ],
)
def test_run_refusals_write_nothing(api, workspace, fields, code, field):
    lead_list = titled_list(workspace)
    before = balance_get(workspace=workspace)

    response = _run(api, lead_list, **fields)

    error = assert_error(response, 409 if code == "quote_mismatch" else 400, code)
    if field:
        assert field in error["details"]
    assert not Workflow.objects.exists()
    assert not AgentRun.objects.exists()
    assert balance_get(workspace=workspace) == before


def test_run_on_an_empty_list(api, workspace):
    assert_error(
        _run(api, LeadListFactory(workspace=workspace), agent_type="title_normalizer"),
        400,
        "empty_lead_scope",
    )


def test_run_without_credits_is_402_and_keeps_the_quote(api, workspace):
    lead_list = titled_list(workspace)
    quote = _estimate(api, lead_list, agent_type="title_normalizer", extra={"column_name": "Level"})
    assert quote.json()["sufficient"] is False

    response = _run(
        api, lead_list, quote_id=quote.json()["quote_id"], agent_type="title_normalizer"
    )

    assert_error(response, 402, "insufficient_credits")
    assert not Workflow.objects.exists()
    assert Quote.objects.get(quote_id=quote.json()["quote_id"]).consumed_at is None


def test_reads_of_another_workspace_are_404(api, other_api, workspace, other_workspace):
    assert_error(api.get("/api/v2/smart-agents/agent-missing"), 404, "not_found")
    assert_error(api.get("/api/v2/smart-agents/agent-%00x"), 404, "not_found")
    assert_error(
        api.get(f"/api/v2/smart-agents?list_id={LeadListFactory(workspace=other_workspace).pk}"),
        404,
        "not_found",
    )
    assert_error(api.get("/api/v2/smart-agents?limit=101"), 400, "validation_error")
    assert api.get("/api/v2/smart-agents").json()["runs"] == []
