import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests import workers
from tests.helpers import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def flower():
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="sluice-flower-", suffix=".log", delete=False)  # noqa: SIM115
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": workers.test_database_url(),
        "TEST_REDIS_URL": settings.REDIS_URL,
        # Flower 2 serves its HTTP API only with auth configured or this set.
        "FLOWER_UNAUTHENTICATED_API": "true",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "flower",
         f"--port={port}", "--address=127.0.0.1"],
        cwd=workers.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            output = Path(log.name).read_text(errors="replace")
            if "Address already in use" in output or "Errno 98" in output:
                pytest.skip(f"Flower could not bind port {port}")
            raise AssertionError(f"flower exited early:\n{output[-3000:]}")
        try:
            return requests.get(f"{base}/healthcheck", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_until(up, timeout=60, interval=0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_flower_lists_the_running_worker(flower, ops_worker):
    def listed():
        response = requests.get(f"{flower}/api/workers", params={"refresh": 1}, timeout=10)
        return response.status_code == 200 and ops_worker.name in response.json()

    assert wait_until(listed, timeout=60, interval=0.5)
