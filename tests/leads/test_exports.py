import csv
import io
import os
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from leads.exports import DEFAULT_COLUMNS, exports_purge_expired
from leads.imports import leads_import_file
from leads.models import ListMembership
from tests.helpers import assert_error
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _export_dir(settings, tmp_path):
    settings.EXPORT_DIR = tmp_path / "exports"


def _fill(lead_list, count: int) -> list:
    leads = LeadFactory.create_batch(count, workspace=lead_list.workspace)
    ListMembership.objects.bulk_create(ListMembership(lead_list=lead_list, lead=x) for x in leads)
    return leads


def _export_csv(api, list_id, **body):
    payload = {"list_id": str(list_id), **body}
    return api.post("/api/v2/export/csv/signed-url", payload, format="json")


def _download(client, url: str):
    parts = urlsplit(url)
    return client.get(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})


def _csv_rows(response) -> list[dict]:
    content = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(content)))


def test_export_json_pages_through_the_list_with_a_cursor(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    leads = _fill(lead_list, 5)
    seen, cursor = [], None
    for _ in range(3):
        params = {"list_id": str(lead_list.id), "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = api.get("/api/v2/export/json", params).json()
        assert body["total"] == 5
        assert list(body["leads"][0]) == list(DEFAULT_COLUMNS)
        seen += [row["lead_id"] for row in body["leads"]]
        cursor = body["cursor"]
    assert cursor is None
    assert seen == [str(lead.id) for lead in leads]


def test_export_json_columns_repeated_and_comma_separated(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    (lead,) = _fill(lead_list, 1)
    response = api.get(
        f"/api/v2/export/json?list_id={lead_list.id}&columns=email,linkedin_url&columns=company"
    )
    assert response.json()["leads"] == [
        {"email": None, "linkedin_url": lead.linkedin_url, "company": lead.company_name}
    ]


def test_export_json_rows_keep_the_requested_column_order_and_raw_values(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    (lead,) = _fill(lead_list, 1)
    response = api.get(
        f"/api/v2/export/json?list_id={lead_list.id}"
        "&columns=added_at,email_confidence,lead_id,enriched_at,created_at"
    )
    (row,) = response.json()["leads"]
    assert list(row) == ["added_at", "email_confidence", "lead_id", "enriched_at", "created_at"]
    assert row["lead_id"] == str(lead.id)
    assert (row["email_confidence"], row["enriched_at"]) == (None, None)
    assert row["created_at"] == lead.created_at.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("columns=email,shoe_size", "columns"),
        ("cursor=garbage", "cursor"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
    ],
)
def test_export_json_rejects_bad_params(api, workspace, query, field):
    lead_list = LeadListFactory(workspace=workspace)
    response = api.get(f"/api/v2/export/json?list_id={lead_list.id}&{query}")
    assert field in assert_error(response, 400, "validation_error")["details"]


def test_export_json_cursor_of_another_list_is_400(api, workspace):
    first, second = LeadListFactory(workspace=workspace), LeadListFactory(workspace=workspace)
    _fill(first, 3)
    cursor = api.get("/api/v2/export/json", {"list_id": first.id, "limit": 1}).json()["cursor"]
    response = api.get("/api/v2/export/json", {"list_id": second.id, "cursor": cursor})
    assert_error(response, 400, "validation_error")


def test_export_json_requires_list_id(api):
    assert (
        "list_id"
        in assert_error(api.get("/api/v2/export/json"), 400, "validation_error")["details"]
    )


def test_export_csv_round_trip_gives_back_the_same_people(api, client, workspace):
    # given a list imported from a CSV
    lead_list = LeadListFactory(workspace=workspace)
    source = (
        "First Name,Last Name,Email,LinkedIn URL,Company,Website,Phone,City\n"
        "Ada,Lovelace,ada@engines.example,,Engines,engines.example,,London\n"
        "Grace,Hopper,,https://linkedin.com/in/grace,Navy,navy.example,+1 415 555 0132,\n"
        "José,Núñez,jose@acme.example,,Acme,acme.example,,Madrid\n"
    )
    leads_import_file(workspace=workspace, lead_list=lead_list, stream=io.BytesIO(source.encode()))
    # when exported and downloaded
    response = _export_csv(api, lead_list.id)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["row_count"] == 3
    assert body["download_url"].startswith("http://testserver/api/v2/export/csv/download/")
    assert body["expires_at"].endswith("Z")
    download = _download(client, body["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    rows = _csv_rows(download)
    # then
    assert int(download["Content-Length"]) == body["file_size_bytes"]
    assert list(rows[0]) == list(DEFAULT_COLUMNS)
    assert [(r["first_name"], r["last_name"], r["email"]) for r in rows] == [
        ("Ada", "Lovelace", "ada@engines.example"),
        ("Grace", "Hopper", ""),
        ("José", "Núñez", "jose@acme.example"),
    ]
    assert rows[1]["linkedin_url"] == "https://www.linkedin.com/in/grace"
    assert rows[1]["phone"] == "+14155550132"  # an E.164 phone is a number, not a formula
    # and re-importing the export into a new list finds the same people
    again = LeadListFactory(workspace=workspace)
    csv_bytes = b"".join(_download(client, body["download_url"]).streaming_content)
    result = leads_import_file(workspace=workspace, lead_list=again, stream=io.BytesIO(csv_bytes))
    assert (result.rows_imported, result.rows_updated) == (0, 3)


def test_export_csv_neutralises_formula_injection(api, client, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    lead = LeadFactory(
        workspace=workspace,
        first_name='=HYPERLINK("http://evil")',
        last_name="+1+1",
        title="@SUM(A1)",
        company_name="-2",
        location="\tTab",
    )
    ListMembership.objects.create(lead_list=lead_list, lead=lead)
    url = _export_csv(api, lead_list.id).json()["download_url"]
    (row,) = _csv_rows(_download(client, url))
    assert row["first_name"] == '\'=HYPERLINK("http://evil")'
    assert row["last_name"] == "'+1+1"
    assert row["title"] == "'@SUM(A1)"
    assert row["company"] == "'-2"
    assert row["location"] == "'\tTab"


def test_export_csv_writes_e164_phones_as_they_are_and_guards_the_rest(api, client, workspace):
    # given phones in E.164 and cells that only look like one
    lead_list = LeadListFactory(workspace=workspace)
    leads = [
        LeadFactory(workspace=workspace, phone="+15125550146", title="+15125550146"),
        LeadFactory(workspace=workspace, phone="+4930901820", title="+1 512 555 0146"),
        LeadFactory(workspace=workspace, title="+15125550146+cmd|' /C calc'!A0"),
        LeadFactory(workspace=workspace, title="+1"),
    ]
    ListMembership.objects.bulk_create(ListMembership(lead_list=lead_list, lead=x) for x in leads)
    # when
    url = _export_csv(api, lead_list.id).json()["download_url"]
    rows = _csv_rows(_download(client, url))
    # then a valid E.164 number is written as it is, in any column
    assert [(row["phone"], row["title"]) for row in rows] == [
        ("+15125550146", "+15125550146"),
        ("+4930901820", "'+1 512 555 0146"),  # spaces: not E.164, so guarded
        ("", "'+15125550146+cmd|' /C calc'!A0"),
        ("", "'+1"),  # too short to be a phone
    ]


def test_export_csv_escape_formulas_false_writes_cells_as_stored(api, client, workspace):
    # given a lead with formula triggers
    lead_list = LeadListFactory(workspace=workspace)
    lead = LeadFactory(workspace=workspace, first_name="=1+1", last_name="@SUM(A1)", phone=None)
    ListMembership.objects.create(lead_list=lead_list, lead=lead)
    # when exported with the guard off, and again with it explicitly on
    off = _export_csv(api, lead_list.id, escape_formulas=False)
    on = _export_csv(api, lead_list.id, escape_formulas=True)
    # then the first file holds the cells as stored, the second neutralised
    assert off.status_code == on.status_code == 200
    (raw,) = _csv_rows(_download(client, off.json()["download_url"]))
    (guarded,) = _csv_rows(_download(client, on.json()["download_url"]))
    assert (raw["first_name"], raw["last_name"]) == ("=1+1", "@SUM(A1)")
    assert (guarded["first_name"], guarded["last_name"]) == ("'=1+1", "'@SUM(A1)")
    # and the option is typed: not a boolean is a validation error
    bad = _export_csv(api, lead_list.id, escape_formulas="sometimes")
    assert "escape_formulas" in assert_error(bad, 400, "validation_error")["details"]


def test_export_csv_chosen_columns(api, client, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    _fill(lead_list, 2)
    body = _export_csv(api, lead_list.id, columns=["email", "full_name"]).json()
    rows = _csv_rows(_download(client, body["download_url"]))
    assert list(rows[0]) == ["email", "full_name"]
    bad = _export_csv(api, lead_list.id, columns=["nope"])
    assert "columns" in assert_error(bad, 400, "validation_error")["details"]


def test_export_csv_signed_url_tampered_other_file_and_expired(api, client, workspace, settings):
    lead_list = LeadListFactory(workspace=workspace)
    _fill(lead_list, 1)
    first = _export_csv(api, lead_list.id).json()["download_url"]
    second = _export_csv(api, lead_list.id).json()["download_url"]
    # valid, and no API key needed
    assert _download(client, first).status_code == 200
    # tampered token
    assert_error(_download(client, first[:-3] + "xyz"), 404, "not_found")
    assert_error(_download(client, first.split("?")[0]), 404, "not_found")
    # one file's token for another file
    other_path = urlsplit(second).path
    assert_error(_download(client, other_path + "?" + urlsplit(first).query), 404, "not_found")
    # expired
    settings.SLUICE_EXPORT_URL_TTL_SECONDS = -1
    expired = _export_csv(api, lead_list.id).json()["download_url"]
    assert_error(_download(client, expired), 410, "link_expired")


def test_export_other_workspaces_list_is_404(other_api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    _fill(lead_list, 1)
    assert_error(other_api.get("/api/v2/export/json", {"list_id": lead_list.id}), 404, "not_found")
    assert_error(_export_csv(other_api, lead_list.id), 404, "not_found")


def test_export_empty_list(api, client, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    body = api.get("/api/v2/export/json", {"list_id": lead_list.id}).json()
    assert (body["leads"], body["total"], body["cursor"]) == ([], 0, None)
    export = _export_csv(api, lead_list.id).json()
    assert export["row_count"] == 0
    assert _csv_rows(_download(client, export["download_url"])) == []


def test_exports_purge_expired_clears_every_workspace_and_keeps_live_links(settings, tmp_path):
    # given two workspaces' export files, one past the link TTL and one fresh in each
    settings.SLUICE_EXPORT_URL_TTL_SECONDS = 60
    stale_time = time.time() - 120
    kept, purged = [], []
    for workspace_id in ("ws-a", "ws-b"):
        directory = tmp_path / "exports" / workspace_id
        directory.mkdir(parents=True)
        old, new = directory / "old.csv", directory / "new.csv"
        old.write_text("a"), new.write_text("b")
        os.utime(old, (stale_time, stale_time))
        purged.append(old)
        kept.append(new)

    # when beat's purge runs
    removed = exports_purge_expired()

    # then only the expired files are gone, in both workspaces
    assert removed == 2
    assert not any(path.exists() for path in purged)
    assert all(path.exists() for path in kept)
