"""Cleanlist's base64 `csv-import`."""

import base64

import pytest

from accounts import scopes
from leads.models import Lead, ListMembership
from tests.helpers import assert_error
from tests.leads.factories import LeadListFactory

pytestmark = pytest.mark.django_db

CSV = (
    "First Name,Last Name,Email,LinkedIn\n"
    "Ada,Lovelace,ada@x.example,\n"
    "Ada,L.,ADA@x.example,\n"  # row 3: repeats row 2's email
    "No,Body,,\n"  # row 4: no identity
    "Bob,Builder,,linkedin.com/in/bob\n"
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _post(api, list_id, **body):
    payload = {"csv_content_base64": _b64(CSV), "column_mapping": {}, "dispatch_enrichment": False}
    payload.update(body)
    return api.post(f"/api/v2/lead-lists/{list_id}/csv-import", payload, format="json")


def test_csv_import_response_shape(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    response = _post(api, lead_list.id)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["list_id"] == str(lead_list.id)
    assert (body["rows_parsed"], body["rows_imported"], body["rows_skipped"]) == (4, 2, 2)
    assert body["skip_reasons"] == {"duplicate_email": 1, "missing_identity": 1}
    assert body["sample_skip_rows"] == [3, 4]
    assert body["idempotency_replayed"] is False
    assert body["workflow_id"] is None
    assert isinstance(body["timestamp_ms"], int)
    assert ListMembership.objects.filter(lead_list=lead_list).count() == 2


def test_csv_import_column_mapping_and_missing_column(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    text = "Who,Where\nJane Roe,jane@x.example\n"
    ok = _post(
        api,
        lead_list.id,
        csv_content_base64=_b64(text),
        column_mapping={"full_name": "Who", "email": "Where"},
    )
    assert ok.status_code == 201, ok.content
    lead = Lead.objects.get(workspace=workspace)
    assert (lead.first_name, lead.last_name, lead.email) == ("Jane", "Roe", "jane@x.example")
    missing = _post(
        api, lead_list.id, csv_content_base64=_b64(text), column_mapping={"email": "Mail"}
    )
    error = assert_error(missing, 400, "missing_column")
    assert error["details"]["missing_columns"] == ["Mail"]


def test_csv_import_idempotent_replay_and_conflict(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    first = _post(api, lead_list.id, idempotency_key="import-1")
    assert first.status_code == 201
    Lead.objects.all().delete()  # a real re-import would bring these back
    replay = _post(api, lead_list.id, idempotency_key="import-1")
    assert replay.status_code == 201
    assert replay.json()["idempotency_replayed"] is True
    assert replay.json()["rows_imported"] == first.json()["rows_imported"]
    assert not Lead.objects.exists()
    other = _post(api, lead_list.id, idempotency_key="import-1", column_mapping={"email": "Email"})
    assert_error(other, 409, "idempotency_conflict")


def test_csv_import_idempotency_key_header(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    first = api.post(
        f"/api/v2/lead-lists/{lead_list.id}/csv-import",
        {"csv_content_base64": _b64(CSV), "dispatch_enrichment": False},
        format="json",
        HTTP_IDEMPOTENCY_KEY="hdr-1",
    )
    again = api.post(
        f"/api/v2/lead-lists/{lead_list.id}/csv-import",
        {"csv_content_base64": _b64(CSV), "dispatch_enrichment": False},
        format="json",
        HTTP_IDEMPOTENCY_KEY="hdr-1",
    )
    assert first.json()["idempotency_replayed"] is False
    assert again.json()["idempotency_replayed"] is True


def test_csv_import_dispatch_needs_enrich_write(make_client, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    client = make_client(workspace, scopes=[scopes.LISTS_WRITE])
    error = assert_error(
        _post(client, lead_list.id, dispatch_enrichment=True), 403, "insufficient_scope"
    )
    assert error["details"]["required_scope"] == scopes.ENRICH_WRITE
    # omitted means Cleanlist's default, which dispatches
    response = client.post(
        f"/api/v2/lead-lists/{lead_list.id}/csv-import",
        {"csv_content_base64": _b64(CSV)},
        format="json",
    )
    assert_error(response, 403, "insufficient_scope")
    assert not Lead.objects.exists()


def test_csv_import_dispatch_without_credits_imports_nothing(api, workspace):
    # The import and the enrichment start commit together (dispatch itself: tests/enrichment).
    lead_list = LeadListFactory(workspace=workspace)
    response = _post(api, lead_list.id, dispatch_enrichment=True, enrichment_type="partial")
    assert_error(response, 402, "insufficient_credits")
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"csv_content_base64": "!!not base64!!"}, "csv_content_base64"),
        ({"csv_content_base64": ""}, "csv_content_base64"),
        ({"csv_content_base64": _b64("\n\n")}, "file"),
        ({"column_mapping": {"shoe_size": "Email"}}, "column_mapping"),
        ({"enrichment_type": "everything"}, "enrichment_type"),
    ],
)
def test_csv_import_validation_errors(api, workspace, body, field):
    lead_list = LeadListFactory(workspace=workspace)
    error = assert_error(_post(api, lead_list.id, **body), 400, "validation_error")
    assert field in error["details"]


def test_csv_import_body_over_json_cap_is_413(api, workspace, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    lead_list = LeadListFactory(workspace=workspace)
    big = "email\n" + "".join(f"p{i}@x.example\n" for i in range(200))
    assert_error(_post(api, lead_list.id, csv_content_base64=_b64(big)), 413, "payload_too_large")


def test_csv_import_another_workspaces_list_is_404(other_api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    assert_error(_post(other_api, lead_list.id), 404, "not_found")
    assert not Lead.objects.exists()
