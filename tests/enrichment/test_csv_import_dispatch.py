"""csv-import with `dispatch_enrichment: true` starts a bulk enrichment of the list."""

import base64

import pytest
from cleanlist_ai import Cleanlist
from cleanlist_ai.models.csv_import_request import CsvImportRequest

from credits.models import Hold
from enrichment.models import Workflow, WorkflowStatus
from leads.models import Lead
from tests.enrichment.conftest import assert_ledger_consistent, assert_settled, wait_terminal
from tests.enrichment.factories import list_quote
from tests.factories import ApiKeyFactory
from tests.helpers import assert_error
from tests.leads.factories import LeadListFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _csv(rows: int, *, with_email: bool = False) -> str:
    lines = ["First Name,Last Name,LinkedIn,Email"]
    for n in range(rows):
        email = f"p{n}@firm.example" if with_email else ""
        lines.append(f"Pat,Doe{n},https://www.linkedin.com/in/pat-doe-{n},{email}")
    return base64.b64encode("\n".join(lines).encode()).decode()


def _post(api, lead_list, **body):
    payload = {"csv_content_base64": _csv(20), "dispatch_enrichment": True, **body}
    return api.post(f"/api/v2/lead-lists/{lead_list.pk}/csv-import", payload, format="json")


def test_csv_import_dispatch_starts_a_bulk_run(api, funded, worker):
    lead_list = LeadListFactory(workspace=funded)
    response = _post(api, lead_list, enrichment_type="partial", idempotency_key="imp-1")

    assert response.status_code == 201
    body = response.json()
    assert body["rows_imported"] == 20
    assert body["workflow_id"].startswith("bulk-enrich-")
    assert body["enrichment_status_url"].endswith(
        f"/api/v2/enrichment/status/{body['workflow_id']}"
    )
    assert body["credits_reserved"] == 20
    workflow = wait_terminal(body["workflow_id"])
    assert (workflow.status, workflow.lead_list_id, workflow.total) == (
        WorkflowStatus.COMPLETED,
        lead_list.pk,
        20,
    )
    assert_settled(workflow)
    assert_ledger_consistent(funded)
    # a replay imports and starts nothing again
    replay = _post(api, lead_list, enrichment_type="partial", idempotency_key="imp-1")
    assert replay.json()["idempotent_replayed"] is True
    assert replay.json()["workflow_id"] == workflow.pk
    assert Workflow.objects.filter(workspace=funded).count() == 1


def test_csv_import_dispatch_with_nothing_to_enrich_imports_only(api, funded, worker):
    lead_list = LeadListFactory(workspace=funded)
    response = _post(api, lead_list, csv_content_base64=_csv(5, with_email=True))
    assert response.status_code == 201
    assert (response.json()["rows_imported"], response.json()["workflow_id"]) == (5, None)
    assert not Hold.objects.filter(workspace=funded).exists()


def test_csv_import_dispatch_quote_is_checked_when_given(api, funded, worker):
    lead_list = LeadListFactory(workspace=funded)
    # quoted on the empty list: it caps the cost at 0, the import's 20 leads cost 20
    assert_error(
        _post(api, lead_list, quote_id=list_quote(funded, lead_list)), 400, "spend_cap_exceeded"
    )
    assert not Lead.objects.filter(workspace=funded).exists()  # nothing imported either
    assert_error(_post(api, lead_list, quote_id="qte_bogus"), 409, "quote_mismatch")


def test_csv_import_dispatch_through_the_sdk(live_server, funded, worker):
    lead_list = LeadListFactory(workspace=funded)
    api_key = ApiKeyFactory(workspace=funded)
    with Cleanlist(access_token=api_key.raw_key, host=live_server.url) as client:
        imported = client.lead_lists.csv_import(
            str(lead_list.pk),
            CsvImportRequest(
                csv_content_base64=_csv(10),
                column_mapping={},
                dispatch_enrichment=True,
                enrichment_type="partial",
            ),
        )
        assert imported.workflow_id.startswith("bulk-enrich-")
        assert imported.enrichment_status_url.startswith(live_server.url)
        wait_terminal(imported.workflow_id)
        status = client.enrichment.enrichment_status(imported.workflow_id)
    assert status.status == "completed"
    assert status.credits_charged + status.credits_refunded == 10
