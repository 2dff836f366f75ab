"""Smart agents honour the suppression list too: a suppressed person's row is skipped before
any model call, never charged, and their agent column is left out of exports."""

import pytest

from agents.models import AgentOutput
from enrichment.models import ItemStatus, WorkflowItem
from leads import suppression
from leads.models import ListMembership
from tests.agents.test_agent_types import _run
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_agent_run_skips_a_suppressed_person_before_the_model(worker, funded, api):
    kept = LeadFactory(workspace=funded, first_name="Ada", company_name="Acme", title="CTO")
    blocked = LeadFactory(workspace=funded, first_name="Grace", company_name="Navy", title="RADM")
    lead_list = LeadListFactory(workspace=funded)
    ListMembership.objects.bulk_create(
        ListMembership(lead_list=lead_list, lead=x) for x in (kept, blocked)
    )
    suppression.suppressions_add(workspace=funded, entries=suppression.lead_person_entries(blocked))

    workflow = _run(funded, lead_list, "cold_intro_email", "Intro",
                    prompt="Hi {first_name}, {company} caught my eye.")  # fmt: skip

    item = WorkflowItem.objects.get(workflow=workflow, lead=blocked)
    assert (item.status, item.error, item.credits_charged) == (ItemStatus.SKIPPED, "suppressed", 0)
    assert AgentOutput.objects.get(item=item).value is None
    assert workflow.completed == 1
    rows = api.get(
        "/api/v2/export/json", {"list_id": str(lead_list.pk), "columns": "lead_id,Intro"}
    ).json()["leads"]
    assert {row["lead_id"]: row["Intro"] is None for row in rows} == {
        str(kept.pk): False,
        str(blocked.pk): True,
    }
