"""CSV export links: an unchanged export reuses its file, and a link dies with its list and with
the key that asked for it."""

import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from accounts.services import api_key_revoke
from leads.models import ListMembership
from tests.helpers import assert_error
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path) -> Path:
    settings.EXPORT_DIR = tmp_path / "exports"
    return settings.EXPORT_DIR


def _export(api, lead_list, **body):
    response = api.post(
        "/api/v2/export/csv/signed-url", {"list_id": str(lead_list.id), **body}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _download(client, url: str):
    parts = urlsplit(url)
    return client.get(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})


def _files(export_dir: Path) -> list[Path]:
    return sorted(export_dir.rglob("*.csv"))


def _content(response) -> bytes:
    return b"".join(response.streaming_content)


def _assert_gone(response) -> None:
    assert response.status_code == 404, response.status_code
    assert_error(response, 404, "not_found")


def test_export_links_unchanged_list_reuses_its_file(api, client, workspace, export_dir):
    # given a list of two leads exported once
    lead_list = LeadListFactory(workspace=workspace, lead_count=2)
    first = _export(api, lead_list)

    # when it is exported again, unchanged
    second = _export(api, lead_list)

    # then no second file was written, and both links serve the same rows
    assert len(_files(export_dir)) == 1
    assert first["download_url"] != second["download_url"]
    assert (second["row_count"], second["file_size_bytes"]) == (2, first["file_size_bytes"])
    assert _content(_download(client, first["download_url"])) == _content(
        _download(client, second["download_url"])
    )


def test_export_links_changed_list_or_columns_get_a_new_file(api, client, workspace, export_dir):
    lead_list = LeadListFactory(workspace=workspace, lead_count=2)
    _export(api, lead_list)
    # other columns
    _export(api, lead_list, columns=["email", "full_name"])
    assert len(_files(export_dir)) == 2
    # a lead more
    ListMembership.objects.create(lead_list=lead_list, lead=LeadFactory(workspace=workspace))
    grown = _export(api, lead_list)
    assert grown["row_count"] == 3
    assert len(_files(export_dir)) == 3
    # a lead's data changed in place (same members, same count)
    lead = lead_list.memberships.first().lead
    lead.title = "Chief Engineer"
    lead.save()
    edited = _export(api, lead_list)
    assert len(_files(export_dir)) == 4
    assert b"Chief Engineer" in _content(_download(client, edited["download_url"]))


def test_export_links_reuse_keeps_the_file_for_the_new_links_life(
    api, client, workspace, export_dir, settings
):
    # given an export written 50 minutes ago, with links living an hour
    settings.SLUICE_EXPORT_URL_TTL_SECONDS = 3600
    lead_list = LeadListFactory(workspace=workspace, lead_count=1)
    _export(api, lead_list)
    (path,) = _files(export_dir)
    written = time.time() - 50 * 60
    os.utime(path, (written, written))

    # when the unchanged list is exported again and an hour-old purge runs 20 minutes later
    again = _export(api, lead_list)
    assert _files(export_dir) == [path]
    assert path.stat().st_mtime > written + 40 * 60

    # then the file the new link points at is still there
    from leads.exports import export_files_purge

    export_files_purge(workspace_id=workspace.pk, older_than_seconds=3600 - 20 * 60)
    assert _download(client, again["download_url"]).status_code == 200


def test_export_links_die_with_their_list(api, client, workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=1)
    url = _export(api, lead_list)["download_url"]
    assert _download(client, url).status_code == 200

    assert api.delete(f"/api/v2/lead-lists/{lead_list.id}").status_code in (200, 204)

    _assert_gone(_download(client, url))


def test_export_links_die_with_the_key_that_asked(api, make_client, client, workspace):
    lead_list = LeadListFactory(workspace=workspace, lead_count=1)
    other = make_client(workspace)
    url = _export(api, lead_list)["download_url"]
    others_url = _export(other, lead_list)["download_url"]

    api_key_revoke(api_key=api.api_key)

    _assert_gone(_download(client, url))
    # another key's link to the same file lives on
    assert _download(client, others_url).status_code == 200
