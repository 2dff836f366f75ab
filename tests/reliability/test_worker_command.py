"""`python -m config.worker` (config/worker.py), the command every deployment starts its workers
with: a worker of this app without Celery's command-line plugins, mingle, gossip or Django's
system checks at start, which a replacement for a lost worker would otherwise wait for."""

import re
import subprocess
import sys

import pytest

from config.worker import FLAGS
from tests.helpers import wait_until
from tests.reliability.faults import assert_invariants, fund, start_bulk
from tests.workers import ROOT, SANDBOX_ENV, WORKER_COMMAND, WorkerProcess, wait_terminal

pytestmark = [pytest.mark.reliability, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# A chunk's task, or the planner's (whose process runs a chunk of the plan itself when one of
# its chunk drivers is free: all of a one-chunk run).
CHUNK_SUCCEEDED = re.compile(r"Task enrichment\.(run_chunk|plan_workflow)\[[^]]+\] succeeded")
# Web-only or command-line-only modules a worker must not load (each costs start time and the
# memory of every pool process).
NOT_IN_A_WORKER = (
    "flower",
    "click_repl",
    "celery.bin.amqp",
    "config.urls",
    "drf_spectacular.views",
    # the API's framework and the admin's registrations (docs/operations.md, "Worker memory")
    "rest_framework.serializers",
    "rest_framework.response",
    "accounts.admin",
    "leads.admin",
)


def test_worker_command_runs_a_bulk_run(workspace, sole_consumer):
    # given a worker started as the deployments start one
    fund(workspace, 200)
    process = WorkerProcess(env=SANDBOX_ENV)
    assert WORKER_COMMAND[1:] == ("-m", "config.worker")  # what the tests' workers run
    process.start()
    try:
        # when a bulk run is started
        workflow = wait_terminal(start_bulk(workspace, 20).pk)
        # (the chunk settles the run before its task logs that it succeeded: read the log until
        # that line is there)
        wait_until(lambda: CHUNK_SUCCEEDED.search(process.output()), timeout=30, interval=0.1)
    finally:
        process.stop()

    # then that worker ran its chunks, and the run completed with every invariant held
    assert workflow.status == "completed", workflow.status
    assert CHUNK_SUCCEEDED.search(process.output()), process.output()[-2000:]
    assert assert_invariants(workspace, label="worker command") > 0


def test_worker_command_loads_no_web_or_cli_module():
    # given the worker's module loading as `python -m config.worker` does it: the command, then
    # Django's setup and every app's tasks (Celery's Django fixup, with its start-up checks)
    code = (
        "import sys\n"
        "import config.worker\n"
        "from config.celery import app\n"
        "app.loader.import_default_modules()\n"
        f"print(sorted(m for m in {NOT_IN_A_WORKER!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    # then none of the web's or the command line's modules is loaded, and mingle and gossip
    # are off
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
    assert set(FLAGS) == {"--without-mingle", "--without-gossip"}
