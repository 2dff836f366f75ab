"""The agent types on a real worker: company briefs, intro lines from a template, the
`overwrite` rule, and the column in the list's CSV export."""

import csv
import io
import json

import pytest

from agents.models import AgentOutput
from agents.services import smart_agent_start
from common.exceptions import ValidationFailed
from credits.services import quote_create
from leads.exports import resolve_columns, write_csv
from leads.models import Company, Lead, LeadList, ListMembership
from providers.adapters.sandbox import SandboxProvider
from providers.base import CompanyInput
from tests.agents.conftest import titled_list
from tests.leads.factories import CompanyFactory, LeadFactory, LeadListFactory
from tests.workers import SANDBOX_INSTANCES, assert_settled, wait_terminal

# The session worker's sandbox (tests/workers.py SANDBOX_ENV): which domains it knows.
SANDBOX = SandboxProvider(name="sandbox", config=SANDBOX_INSTANCES["sandbox"])

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _run(workspace, lead_list, agent_type, column, *, prompt=None, overwrite=False):
    params = {"list_id": str(lead_list.pk), "agent_type": agent_type, "column_name": column}
    quote = quote_create(workspace=workspace, tool="run_smart_agent", params=params).quote
    run = smart_agent_start(
        workspace=workspace, api_key=None, list_id=lead_list.pk, agent_type=agent_type,
        prompt=prompt, column_name=column, lead_scope="all", max_rows=None,
        quote_id=quote.quote_id, overwrite=overwrite,
    )  # fmt: skip
    workflow = wait_terminal(run.pk)
    assert_settled(workflow)
    return workflow


def _values(workflow) -> dict[str, object]:
    return {
        str(output.item.lead_id): output.value
        for output in AgentOutput.objects.filter(item__workflow=workflow).select_related("item")
    }


def test_company_intel_brief_from_the_company_record(worker, funded, settings):
    settings.SLUICE_LLM_PROVIDER = "none"  # in this process; the worker polishes with the sandbox
    company = CompanyFactory(
        workspace=funded, name="Acme", domain="acme.example", industry="Software",
        employee_count_range="51-200", funding_stage="Series B", total_funding_usd=25_000_000,
        hq_location="Lyon, France", tech_stack=["Python", "AWS"],
    )  # fmt: skip
    known = LeadFactory(workspace=funded, company=company, company_name="", domain="")
    unknown = LeadFactory(workspace=funded, company=None, company_name="", domain="")
    lead_list = LeadListFactory(workspace=funded)
    ListMembership.objects.bulk_create(
        ListMembership(lead_list=lead_list, lead=x) for x in (known, unknown)
    )

    workflow = _run(funded, lead_list, "company_intel", "Brief")

    values = _values(workflow)
    assert values[str(unknown.pk)] is None
    # the worker's model is the sandbox: the brief comes back polished and marked as such
    assert values[str(known.pk)].startswith("[sandbox] ")
    assert (workflow.completed, workflow.not_found, workflow.credits_charged) == (1, 1, 2)


def test_company_intel_looks_a_company_up_through_the_company_waterfall(worker, funded):
    domains = [f"brief{n}.example.com" for n in range(100)]
    found = next(
        d for d in domains if SANDBOX.enrich_company(CompanyInput(domain=d)).kind == "found"
    )
    lead = LeadFactory(workspace=funded, company=None, company_name="", domain=found)
    lead_list = LeadListFactory(workspace=funded)
    ListMembership.objects.create(lead_list=lead_list, lead=lead)

    workflow = _run(funded, lead_list, "company_intel", "Brief")

    company = Company.objects.get(workspace=funded, domain=found)
    assert Lead.objects.get(pk=lead.pk).company == company
    assert _values(workflow)[str(lead.pk)].startswith("[sandbox] ")
    assert workflow.credits_charged == 2  # the run's price covers the lookup


def test_cold_intro_email_fills_the_template(worker, funded):
    lead = LeadFactory(workspace=funded, first_name="Ada", company_name="Acme", title="CTO")
    nameless = LeadFactory(workspace=funded, first_name="", company_name="Acme")
    lead_list = LeadListFactory(workspace=funded)
    ListMembership.objects.bulk_create(
        ListMembership(lead_list=lead_list, lead=x) for x in (lead, nameless)
    )

    workflow = _run(
        funded, lead_list, "cold_intro_email", "Intro",
        prompt="Hi {first_name}, congrats on leading tech at {company}!",
    )  # fmt: skip

    items = {str(i.lead_id): i for i in workflow.items.all()}
    assert items[str(nameless.pk)].error == "the lead has no first_name"
    assert _values(workflow)[str(lead.pk)].startswith("[sandbox] ")  # polished by the sandbox
    assert workflow.credits_charged == 3


def test_cold_intro_email_template_fields_are_checked_up_front(funded):
    lead_list = titled_list(funded)
    with pytest.raises(ValidationFailed) as refused:
        smart_agent_start(
            workspace=funded, api_key=None, list_id=lead_list.pk, agent_type="cold_intro_email",
            prompt="Hi {first_name.__class__} {email}", column_name="Intro", lead_scope="all",
            max_rows=None, quote_id="qte_k0_1_" + "0" * 32, overwrite=False,
        )  # fmt: skip
    assert "Unknown template field" in str(refused.value.details)


def test_overwrite_false_keeps_values_and_true_replaces_them(worker, funded):
    lead_list = titled_list(funded, titles=["VP Sales", "CTO"], blanks=0)
    first = _run(funded, lead_list, "title_normalizer", "Level")
    assert first.credits_charged == 2
    membership = ListMembership.objects.filter(lead_list=lead_list).first()
    membership.custom_values = {"Level": "hand-written"}
    membership.save()

    kept = _run(funded, lead_list, "title_normalizer", "Level")
    membership.refresh_from_db()
    assert membership.custom_values["Level"] == "hand-written"
    # both leads hold a value (one hand-written, one from the first run): kept, and free
    assert (kept.skipped, kept.credits_charged) == (2, 0)

    replaced = _run(funded, lead_list, "title_normalizer", "Level", overwrite=True)
    membership.refresh_from_db()
    assert membership.custom_values["Level"]["seniority"] in ("vp", "c_level")
    assert (replaced.completed, replaced.credits_charged) == (2, 2)


def test_the_column_is_in_the_csv_export(worker, funded, tmp_path):
    lead_list = titled_list(funded, titles=["VP Sales"], blanks=0)
    _run(funded, lead_list, "title_normalizer", "Level")
    lead_list = LeadList.objects.get(pk=lead_list.pk)
    assert lead_list.custom_columns == ["Level"]

    columns = resolve_columns(None, lead_list=lead_list)
    assert columns[-1] == "Level"
    path = tmp_path / "out.csv"
    write_csv(lead_list=lead_list, columns=columns, path=path)
    (row,) = csv.DictReader(io.StringIO(path.read_text()))
    assert json.loads(row["Level"]) == {
        "title": "VP of Sales", "seniority": "vp", "department": "sales",
    }  # fmt: skip
    assert "Level" not in resolve_columns(None, lead_list=lead_list, include_custom=False)
