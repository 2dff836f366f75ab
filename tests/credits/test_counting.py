import pytest
from django.core.exceptions import ImproperlyConfigured

from credits import counting
from credits.counting import register_scope_counter, scope_counts
from credits.models import Tool
from tests.leads.factories import LeadListFactory


@pytest.fixture
def no_counters(monkeypatch):
    monkeypatch.setattr(counting, "_scope_counters", {})


def test_scope_counts_asks_the_counters_leads_registered(workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=4)
    params = {"list_id": str(lead_list.pk), "enrichment_type": "partial", "output": "overwrite"}
    assert scope_counts(workspace=workspace, tool=Tool.ENRICH_LIST, params=params) == (4, 0)


def test_scope_counts_single_row_and_unknown_tools_are_one_row(workspace, no_counters):
    assert scope_counts(workspace=workspace, tool="enrich_person", params={}) == (1, 0)
    assert scope_counts(workspace=workspace, tool="enrich_company", params={}) == (1, 0)
    assert scope_counts(workspace=workspace, tool="something_else", params={}) == (1, 0)


@pytest.mark.parametrize("tool", [Tool.ENRICH_LIST, Tool.ENRICH_TASK])
def test_scope_counts_refuses_a_counted_tool_without_a_counter(workspace, no_counters, tool):
    with pytest.raises(ImproperlyConfigured, match=tool):
        scope_counts(workspace=workspace, tool=tool, params={})


def test_register_scope_counter_replaces_the_tools_counter(workspace, no_counters):
    register_scope_counter(Tool.ENRICH_TASK, lambda *, workspace, params: (9, 1))
    register_scope_counter(Tool.ENRICH_TASK, lambda *, workspace, params: (7, 2))
    assert scope_counts(workspace=workspace, tool=Tool.ENRICH_TASK, params={}) == (7, 2)
