"""Several machines (issue 15): two web processes and two worker processes with different node
names and a var folder each, sharing only PostgreSQL, Redis and the export storage (an S3 API:
moto's server, started here). A run started on web A is read on web B, an export made on A
downloads from B, the chunks are spread over both workers, and killing one of them loses
nothing."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from accounts import scopes
from accounts.services import api_key_create
from tests.enrichment.factories import list_with_leads
from tests.helpers import wait_until
from tests.reliability.faults import assert_invariants, count_fault, free_port, fund, sweep_once
from tests.workers import ROOT, SANDBOX_ENV, WorkerProcess
from tests.workers import test_database_url as database_url  # not collected as a test

pytestmark = [pytest.mark.reliability, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LEADS = 600


class WebNode:
    """gunicorn on a port of its own, with its own (empty) var folder."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the process
            prefix="sluice-web-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py", "--bind",
             f"127.0.0.1:{self.port}", "--workers", "1", "config.wsgi:application"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(Path(self.log.name).read_text(errors="replace")[-3000:])
        try:
            return requests.get(f"{self.base}/healthz", timeout=30).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture
def shared_bucket(monkeypatch):
    """An S3 API on loopback and an empty bucket: the only storage the nodes share."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                   "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    bucket = f"sluice-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    yield {
        **credentials,
        "SLUICE_EXPORT_STORAGE": "s3",
        "SLUICE_EXPORT_S3_BUCKET": bucket,
        "SLUICE_EXPORT_S3_ENDPOINT_URL": endpoint,
        "SLUICE_EXPORT_S3_REGION": "us-east-1",
    }
    server.stop()


def _node_env(shared: dict[str, str]) -> dict[str, str]:
    """A machine's environment: the shared services, a var folder nobody else sees."""
    return {
        **os.environ,
        **SANDBOX_ENV,
        **shared,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": database_url(),
        "SLUICE_VAR_DIR": tempfile.mkdtemp(prefix="sluice-node-"),
        "SLUICE_SANDBOX_LATENCY_MS": "20",
        "SLUICE_CHUNK_SIZE": "25",
        "PYTHONUNBUFFERED": "1",
    }


def _chunks_run(worker: WorkerProcess) -> int:
    log = Path(worker.log.name).read_text(errors="replace")
    return len(re.findall(r"Task enrichment\.run_chunk\[[^\]]+\] succeeded", log))


def test_multinode_two_webs_two_workers_share_only_database_redis_and_storage(
    workspace, shared_bucket, sole_consumer, settings
):
    # the sweeper runs in this process, as beat would elsewhere: a short stall grace re-sends
    # the messages the killed worker held unclaimed
    settings.SLUICE_STALL_GRACE_SECONDS = 2
    # given two web nodes and two worker nodes, each with a var folder of its own
    fund(workspace, LEADS * 2)
    lead_list = list_with_leads(workspace, LEADS)
    _, raw_key = api_key_create(workspace=workspace, scopes=list(scopes.ALL_SCOPES), name="nodes")
    headers = {"Authorization": f"Bearer {raw_key}"}
    web_a, web_b = WebNode(_node_env(shared_bucket)), WebNode(_node_env(shared_bucket))
    workers = [WorkerProcess(env=_node_env(shared_bucket)) for _ in range(2)]
    assert workers[0].name != workers[1].name
    try:
        wait_until(lambda: web_a.up() and web_b.up(), timeout=90, interval=0.2)
        for worker in workers:
            worker.start()

        # when a bulk run is started on web A
        body = {"list_id": str(lead_list.pk), "scope": "partial"}
        estimate = requests.post(f"{web_a.base}/api/v2/credits/estimate", headers=headers,
                                 json={"tool": "enrich_list", **body}, timeout=30)  # fmt: skip
        assert estimate.status_code == 200, estimate.text
        started = requests.post(f"{web_a.base}/api/v2/enrichment/bulk", headers=headers,
                                json={**body, "quote_id": estimate.json()["quote_id"]},
                                timeout=30)  # fmt: skip
        assert started.status_code in (200, 202), started.text
        workflow_id = started.json()["workflow_id"]

        def status() -> dict:
            response = requests.get(
                f"{web_b.base}/api/v2/enrichment/status/{workflow_id}", headers=headers, timeout=30
            )
            assert response.status_code == 200, response.text
            return response.json()

        # then web B reads it; and while both workers run chunks, one of them is SIGKILLed
        wait_until(lambda: status()["processed"] >= LEADS // 3, timeout=120, interval=0.1)
        assert all(_chunks_run(worker) for worker in workers), "a worker ran no chunk"
        workers[0].kill()
        count_fault("SIGKILL one of two worker nodes")

        def finished() -> dict | None:
            sweep_once()  # beat, on its own machine
            current = status()
            return current if current["status"] in ("completed", "failed") else None

        done = wait_until(finished, timeout=180, interval=0.5)
        assert done["status"] == "completed", done
        assert done["processed"] == LEADS

        # and an export made on web A downloads from web B
        export = requests.post(f"{web_a.base}/api/v2/export/csv/signed-url", headers=headers,
                               json={"list_id": str(lead_list.pk)}, timeout=30)  # fmt: skip
        assert export.status_code == 200, export.text
        url = export.json()["download_url"]
        path = url[url.index("/api/v2/") :]
        download = requests.get(f"{web_b.base}{path}", timeout=30)
    finally:
        for worker in workers:
            worker.kill()
        web_a.stop()
        web_b.stop()

    assert download.status_code == 200, download.text[:500]
    assert download.text.count("\n") == LEADS + 1
    # nothing lost to the killed worker: every lead once, credits balanced
    assert_invariants(workspace, label="multi-node")
