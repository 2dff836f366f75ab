"""The official Cleanlist SDK against a live Sluice: imports and exports parse unchanged."""

import base64
import csv
import io

import pytest
import requests
from cleanlist_ai import Cleanlist
from cleanlist_ai.models.csv_import_request import CsvImportRequest
from cleanlist_ai.models.export_csv_request import ExportCsvRequest

from tests.factories import ApiKeyFactory, WorkspaceFactory
from tests.leads.factories import LeadListFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _export_dir(settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"


def test_sdk_csv_import_export_json_export_csv(live_server):
    # given
    workspace = WorkspaceFactory()
    api_key = ApiKeyFactory(workspace=workspace)
    lead_list = LeadListFactory(workspace=workspace)
    content = (
        "First Name,Last Name,Email,LinkedIn URL,Company\n"
        "Ada,Lovelace,ada@engines.example,,Engines\n"
        "Grace,Hopper,,linkedin.com/in/grace,Navy\n"
        "No,Identity,,,\n"
    )
    with Cleanlist(access_token=api_key.raw_key, host=live_server.url) as cl:
        # when
        imported = cl.lead_lists.csv_import(
            str(lead_list.id),
            CsvImportRequest(
                csv_content_base64=base64.b64encode(content.encode()).decode(),
                column_mapping={"email": "Email"},
                dispatch_enrichment=False,
                idempotency_key="sdk-import-1",
            ),
        )
        page = cl.export.export_json(str(lead_list.id), limit=1, columns=["email", "full_name"])
        rest = cl.export.export_json(str(lead_list.id), cursor=page.cursor)
        exported = cl.export.export_csv(ExportCsvRequest(list_id=str(lead_list.id)))
    # then
    assert (imported.rows_parsed, imported.rows_imported, imported.rows_skipped) == (3, 2, 1)
    assert imported.skip_reasons == {"missing_identity": 1}
    assert imported.sample_skip_rows == [4]
    assert imported.idempotency_replayed is False
    assert page.total == 2
    assert page.leads == [{"email": "ada@engines.example", "full_name": "Ada Lovelace"}]
    assert [lead["full_name"] for lead in rest.leads] == ["Grace Hopper"]
    assert rest.cursor is None
    assert exported.row_count == 2
    assert exported.download_url.startswith(live_server.url + "/api/v2/export/csv/download/")
    download = requests.get(exported.download_url, timeout=10)
    assert download.status_code == 200
    assert len(download.content) == exported.file_size_bytes
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [(r["first_name"], r["linkedin_url"]) for r in rows] == [
        ("Ada", ""),
        ("Grace", "https://www.linkedin.com/in/grace"),
    ]
