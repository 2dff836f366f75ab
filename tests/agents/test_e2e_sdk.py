"""Every smart-agent method of the official SDK, unchanged, against a live server, a real
worker, PostgreSQL and Redis."""

import json

import pytest
from cleanlist_ai.exceptions import BadRequestException, ConflictException, NotFoundException
from cleanlist_ai.models import RunSmartAgentRequest, SmartAgentResultsResponse

from agents.models import AgentRun
from credits.models import LedgerEntry
from credits.selectors import balance_get
from enrichment.models import Workflow
from tests.agents.conftest import TITLES, estimate, titled_list
from tests.helpers import wait_until
from tests.leads.factories import LeadListFactory
from tests.workers import assert_ledger_consistent, assert_settled

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _run(sdk, lead_list, agent_type, column, quote_id, **fields):
    return sdk.smart_agents.run_smart_agent(
        RunSmartAgentRequest(
            list_id=str(lead_list.pk), agent_type=agent_type, column_name=column,
            quote_id=quote_id, **fields,
        )
    )  # fmt: skip


def _results(sdk, run_id: str) -> SmartAgentResultsResponse:
    """`get_smart_agent_results` as the SDK sends it. Its typed form cannot be used on a row
    holding a value: SDK 2.0.0's `SmartAgentResultRow.from_dict` calls an undefined `AnyOf`
    for any non-null `value` (NameError; see docs/agents.md). So the body is read raw and
    validated against the SDK's own model."""
    raw = sdk.smart_agents.get_smart_agent_results_without_preload_content(run_id)
    assert raw.status == 200, raw.data
    return SmartAgentResultsResponse.model_validate(json.loads(raw.data))


def _poll_done(sdk, run_id: str, timeout: float = 60) -> SmartAgentResultsResponse:
    def done():
        results = _results(sdk, run_id)
        return results if results.status in ("completed", "failed") else None

    return wait_until(done, timeout=timeout, interval=0.1)


def test_sdk_title_normalizer_estimate_run_poll_results_list(sdk, funded):
    # given a list of titled leads and one without a title
    lead_list = titled_list(funded)
    rows = len(TITLES) + 1
    before = balance_get(workspace=funded)

    # when the whole SDK flow runs
    quote = estimate(sdk, lead_list, "title_normalizer", "Seniority", row_count=100)
    assert (quote.row_count, quote.estimated_cost, quote.tool) == (rows, rows, "run_smart_agent")
    started = _run(sdk, lead_list, "title_normalizer", "Seniority", quote.quote_id, max_rows=100)
    assert started.status == "pending"
    assert started.smart_agent_task_id.startswith("agent-")
    assert (started.list_id, started.column_name, started.estimated_cost) == (
        str(lead_list.pk), "Seniority", rows,
    )  # fmt: skip
    results = _poll_done(sdk, started.smart_agent_task_id)

    # then one row per lead: a value for each title, an error for the blank one
    assert (results.status, results.progress, results.total) == ("completed", 100, rows)
    assert (results.succeeded, results.failed) == (len(TITLES), 1)
    assert len(results.results) == rows
    values = [r.value for r in results.results if r.value is not None]
    assert {"title": "VP of Sales", "seniority": "vp", "department": "sales"} in values
    (missing,) = [r for r in results.results if r.value is None]
    assert missing.error == "the lead has no title"

    # and credits moved by the succeeded rows' price only, settled once
    workflow = Workflow.objects.get(pk=started.smart_agent_task_id)
    assert_settled(workflow)
    assert (workflow.credits_charged, workflow.credits_refunded) == (len(TITLES), 1)
    assert balance_get(workspace=funded).balance == before.balance - len(TITLES)
    assert balance_get(workspace=funded).held == 0
    entries = LedgerEntry.objects.filter(workflow_id=workflow.pk)
    assert entries.filter(kind="charge").count() == 1
    assert_ledger_consistent(funded)

    # and the run is listed with its counters, for its list and across lists
    listed = sdk.smart_agents.list_smart_agents(list_id=str(lead_list.pk))
    assert listed.total == 1
    (run,) = listed.runs
    assert (run.task_id, run.agent_type, run.status) == (
        started.smart_agent_task_id, "title_normalizer", "completed",
    )  # fmt: skip
    assert (run.total, run.processed, run.failed) == (rows, rows, 1)
    assert sdk.smart_agents.list_smart_agents(limit=5).runs[0].task_id == run.task_id

    # and the column is readable through the list's JSON export
    export = sdk.export.export_json(list_id=str(lead_list.pk), columns=["title", "Seniority"])
    by_title = {row["title"]: row["Seniority"] for row in export.leads}
    assert by_title["Vice-Président, Ventes"]["seniority"] == "vp"
    assert by_title[""] is None


def test_sdk_quote_reuse_and_mismatch_are_refused(sdk, funded):
    lead_list = titled_list(funded)
    quote = estimate(sdk, lead_list, "title_normalizer", "Level")

    # another column than the quote's: refused, and the quote stays unspent
    with pytest.raises(ConflictException) as mismatch:
        _run(sdk, lead_list, "title_normalizer", "Other", quote.quote_id)
    assert json.loads(mismatch.value.body)["error"]["code"] == "quote_mismatch"
    # another row count than the quote's
    with pytest.raises(ConflictException) as rows:
        _run(sdk, lead_list, "title_normalizer", "Level", quote.quote_id, max_rows=2)
    assert json.loads(rows.value.body)["error"]["code"] == "quote_mismatch"

    started = _run(sdk, lead_list, "title_normalizer", "Level", quote.quote_id)
    with pytest.raises(ConflictException) as reuse:
        _run(sdk, lead_list, "title_normalizer", "Level", quote.quote_id)
    assert json.loads(reuse.value.body)["error"]["code"] == "quote_consumed"
    _poll_done(sdk, started.smart_agent_task_id)
    assert AgentRun.objects.filter(workspace=funded).count() == 1


def test_sdk_all_over_threshold_needs_approval(sdk, funded, settings):
    settings.SLUICE_AGENT_APPROVAL_THRESHOLD = 5
    lead_list = titled_list(funded)
    quote = estimate(sdk, lead_list, "title_normalizer", "Level")
    before = balance_get(workspace=funded)

    with pytest.raises(BadRequestException) as refused:
        _run(sdk, lead_list, "title_normalizer", "Level", quote.quote_id, lead_scope="all")

    error = json.loads(refused.value.body)["error"]
    assert error["code"] == "approval_required"
    assert error["details"] == {"row_count": len(TITLES) + 1, "threshold": 5}
    assert balance_get(workspace=funded) == before
    assert not Workflow.objects.filter(workspace=funded).exists()
    # the quote was not spent: a subset run under it still works
    subset = _run(sdk, lead_list, "title_normalizer", "Level", quote.quote_id, max_rows=100)
    assert _poll_done(sdk, subset.smart_agent_task_id).status == "completed"


def test_sdk_other_workspace_list_and_run_are_404(sdk, funded, other_workspace):
    theirs = LeadListFactory(workspace=other_workspace, lead_count=2)
    with pytest.raises(NotFoundException):
        estimate(sdk, theirs, "title_normalizer", "Level")
    with pytest.raises(NotFoundException):
        _run(sdk, theirs, "title_normalizer", "Level", "qte_k0_1_" + "0" * 32)
    with pytest.raises(NotFoundException):
        sdk.smart_agents.list_smart_agents(list_id=str(theirs.pk))
    with pytest.raises(NotFoundException):
        sdk.smart_agents.get_smart_agent_results("agent-000000000000000000000000")


def test_sdk_model_types_without_a_model_are_400(sdk, funded, settings):
    settings.SLUICE_LLM_PROVIDER = "none"
    lead_list = titled_list(funded)
    for agent_type in ("custom_ai", "pain_point_hypothesis"):
        with pytest.raises(BadRequestException) as refused:
            estimate(sdk, lead_list, agent_type, "Answer")
        assert json.loads(refused.value.body)["error"]["code"] == "model_not_configured"
    # a deterministic type still quotes, and cold_intro_email runs on its template alone
    assert estimate(sdk, lead_list, "cold_intro_email", "Intro").estimated_cost == 3 * 9


def test_sdk_custom_ai_on_the_sandbox_model(sdk, funded):
    lead_list = titled_list(funded, blanks=0)
    quote = estimate(sdk, lead_list, "custom_ai", "Pitch")
    assert quote.estimated_cost == 2 * len(TITLES)
    started = _run(
        sdk, lead_list, "custom_ai", "Pitch", quote.quote_id,
        prompt="One line on why this person would care about data quality.",
    )  # fmt: skip
    results = _poll_done(sdk, started.smart_agent_task_id)
    assert (results.status, results.succeeded) == ("completed", len(TITLES))
    assert all(row.value.startswith("[sandbox] ") for row in results.results)
    assert balance_get(workspace=funded).held == 0


def test_sdk_get_smart_agent_results_typed_when_no_row_holds_a_value(sdk, funded):
    # given a list whose leads have no title: every row ends with an error, none with a value
    lead_list = titled_list(funded, titles=[], blanks=3)
    quote = estimate(sdk, lead_list, "title_normalizer", "Level")
    started = _run(sdk, lead_list, "title_normalizer", "Level", quote.quote_id)
    _poll_done(sdk, started.smart_agent_task_id)

    # when the SDK's typed method reads it
    results = sdk.smart_agents.get_smart_agent_results(started.smart_agent_task_id)

    # then the run is complete with one error row per lead, and nothing was charged
    assert (results.status, results.total, results.succeeded, results.failed) == (
        "completed", 3, 0, 3,
    )  # fmt: skip
    assert {(row.value, row.error) for row in results.results} == {(None, "the lead has no title")}
    assert Workflow.objects.get(pk=started.smart_agent_task_id).credits_charged == 0
    assert balance_get(workspace=funded).held == 0
