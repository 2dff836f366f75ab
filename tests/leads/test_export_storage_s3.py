"""Export files in an S3-compatible bucket (SLUICE_EXPORT_STORAGE=s3), against a real S3 API:
moto's server, started by the test on a loopback port and spoken to over HTTP by boto3 exactly
as a production bucket would be. Nothing of ours is replaced."""

import socket
import uuid
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from moto.server import ThreadedMotoServer

from config.settings.base import export_storage_config
from leads.exports import exports_purge_expired
from tests.helpers import assert_error
from tests.leads.factories import LeadListFactory

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(settings, s3_endpoint, monkeypatch):
    """A fresh bucket as the `exports` storage."""
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):  # fmt: skip
        monkeypatch.setenv(name, value)
    name = f"sluice-exports-{uuid.uuid4().hex[:8]}"
    s3 = boto3.resource("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": export_storage_config(
            "s3", bucket=name, endpoint_url=s3_endpoint, region="us-east-1", prefix="exports"
        ),
    }
    return s3.Bucket(name)


def _export(api, lead_list):
    response = api.post(
        "/api/v2/export/csv/signed-url", {"list_id": str(lead_list.id)}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _download(client, url: str):
    parts = urlsplit(url)
    return client.get(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})


def _keys(bucket) -> list[str]:
    return sorted(obj.key for obj in bucket.objects.all())


def test_export_storage_s3_export_downloads_from_the_bucket(api, client, workspace, bucket):
    # given a list of three leads
    lead_list = LeadListFactory(workspace=workspace, lead_count=3)

    # when it is exported twice (unchanged) and downloaded
    first = _export(api, lead_list)
    second = _export(api, lead_list)
    response = _download(client, second["download_url"])

    # then one object sits in the bucket, under the workspace, and the download is its bytes
    keys = _keys(bucket)
    assert len(keys) == 1
    assert keys[0].startswith(f"exports/{workspace.pk}/")
    assert keys[0].endswith(".csv")
    body = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert body == bucket.Object(keys[0]).get()["Body"].read()
    assert body.count(b"\n") == 4  # header and three rows
    assert first["file_size_bytes"] == second["file_size_bytes"] == len(body)


def test_export_storage_s3_purge_deletes_expired_objects(api, client, workspace, bucket, settings):
    # given an exported list whose file is in the bucket
    lead_list = LeadListFactory(workspace=workspace, lead_count=2)
    export = _export(api, lead_list)
    assert len(_keys(bucket)) == 1

    # when beat's purge runs after the links' lifetime (here: none at all)
    settings.SLUICE_EXPORT_URL_TTL_SECONDS = 0
    removed = exports_purge_expired()

    # then the object is gone, and so is the download
    assert removed == 1
    assert _keys(bucket) == []
    settings.SLUICE_EXPORT_URL_TTL_SECONDS = 3600
    assert_error(_download(client, export["download_url"]), 404, "not_found")
