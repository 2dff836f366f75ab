"""Real Celery worker processes for tests whose subject is the worker's behaviour. The worker
runs this checkout's code against the test database and the test Redis, started by the command
every deployment uses (`python -m config.worker`: the worker command alone, no mingle or gossip)."""

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import Sum

from config.celery import app
from credits.models import LedgerEntry
from credits.selectors import balance_get
from enrichment.models import TERMINAL_ITEM_STATUSES, Workflow, WorkflowItem
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent
# How every worker the tests start is started (one place): the deployments' own command, whose
# flags (no mingle or gossip) keep a test's worker from waiting at start for the others.
WORKER_COMMAND = (sys.executable, "-m", "config.worker")


def test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    def __init__(
        self, *, env: dict[str, str] | None = None, concurrency: int = 2, pool: str = "prefork"
    ) -> None:
        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the process
            prefix="sluice-worker-", suffix=".log", delete=False
        )
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "TEST_DATABASE_URL": test_database_url(),
            "TEST_REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.args = [
            *WORKER_COMMAND, "--loglevel=INFO", f"--hostname={self.name}",
            f"--pool={pool}", f"--concurrency={concurrency}",
        ]  # fmt: skip
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until(self._answers_ping, timeout=60, interval=0.2)
        except BaseException:
            self.kill()  # never leave a worker behind that no test will stop
            raise
        return self

    def _answers_ping(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited early:\n{self.output()}")
        return bool(app.control.ping(destination=[self.name], timeout=0.3))

    def children(self) -> list[int]:
        result = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in result.stdout.split()]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kills the whole worker (main process and pool children) with `sig`."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=60)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM): the worker finishes the tasks it is running, then exits. For
        a worker that is no longer needed once the test's assertions are done, `kill()` is
        enough and takes no time: the test database is flushed next anyway."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-5000:]


# --- Shared workers ---------------------------------------------------------------------------

# The sandbox as the end-to-end tests want it: a 60 % hit rate, no latency, no faults.
SANDBOX_ENV = {
    "SLUICE_SANDBOX_EMAIL_HIT_RATE": "0.6",
    "SLUICE_SANDBOX_PHONE_HIT_RATE": "0.6",
    "SLUICE_SANDBOX_COMPANY_HIT_RATE": "0.6",
}
SANDBOX_INSTANCES = {"sandbox": {"email_hit_rate": 0.6, "phone_hit_rate": 0.6,
                                 "company_hit_rate": 0.6}}  # fmt: skip

# Long-lived workers of the session (any package's); `sole_consumer` pauses them all.
SHARED_WORKERS: list[WorkerProcess] = []


def _alive(process: WorkerProcess) -> bool:
    return bool(process.process and process.process.poll() is None)


@pytest.fixture(scope="session")
def session_worker(django_db_setup, django_db_blocker):
    """One real worker process (SANDBOX_ENV) for the session, started by the first test that
    needs it (`worker`); tests that kill workers start their own. Imported by more than one
    conftest: a second definition reuses the first's worker rather than starting another."""
    known = [p for p in SHARED_WORKERS if getattr(p, "session_default", False)]
    if known:
        yield known[0]
        return
    process = WorkerProcess(env=SANDBOX_ENV)
    process.session_default = True
    SHARED_WORKERS.append(process)
    yield process
    process.kill()  # the session is over: nothing it could still run matters


@pytest.fixture
def worker(session_worker, transactional_db):
    """The session worker for one test, (re)started if `sole_consumer` made it step aside.
    Afterwards it waits until the worker has finished what the test left it (a late chunk, a
    webhook retry): the test database is flushed next, and a TRUNCATE racing a busy worker
    deadlocks or leaves rows for the following test."""
    if not _alive(session_worker):
        session_worker.start()
    yield session_worker
    wait_until_idle()


def wait_until_idle(timeout: float = 60) -> None:
    """Every shared worker idle and every queue empty, twice in a row."""
    names = [p.name for p in SHARED_WORKERS if _alive(p)]
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    quiet_checks = 0

    def quiet() -> bool:
        nonlocal quiet_checks
        inspect = app.control.inspect(destination=names, timeout=0.5)
        active, reserved = inspect.active() or {}, inspect.reserved() or {}
        # A worker that did not answer (busy, on a loaded machine) is not known to be idle.
        answered = set(active) >= set(names) and set(reserved) >= set(names)
        busy = (
            not answered
            or any(active.values())
            or any(reserved.values())
            or any(broker.llen(queue) > 0 for queue in settings.SLUICE_QUEUES)
        )
        quiet_checks = 0 if busy else quiet_checks + 1
        return quiet_checks >= 2

    if names:
        wait_until(quiet, timeout=timeout, interval=0.1)


@pytest.fixture
def sole_consumer():
    """For tests that start (and kill) their own workers: the session workers, if running,
    step aside so they cannot pick up their tasks. They come back when a test next asks for
    one (`worker`), not after each such test: these tests mostly run one after another, and a
    worker's start takes seconds. They are killed rather than stopped warm: the test that used
    them last waited until they were idle (`worker`), and anything a stray task of an earlier
    test would still do concerns rows that test's flush removed."""
    for process in SHARED_WORKERS:
        process.kill()


def sweep_until_terminal(workflow_id: str, timeout: float = 60) -> Workflow:
    """Polls like beat would: runs the sweeper until the workflow is terminal."""
    from enrichment.services.execution import workflows_sweep

    def terminal():
        workflow = Workflow.objects.get(pk=workflow_id)
        if workflow.is_terminal:
            return workflow
        workflows_sweep()
        return None

    return wait_until(terminal, timeout=timeout, interval=0.3)


def wait_terminal(workflow_id: str, timeout: float = 60) -> Workflow:
    def terminal():
        workflow = Workflow.objects.get(pk=workflow_id)
        return workflow if workflow.is_terminal else None

    return wait_until(terminal, timeout=timeout, interval=0.1)


# --- Invariants -------------------------------------------------------------------------------


def assert_settled(workflow: Workflow) -> None:
    """The invariants every finished workflow must hold (docs/credits.md, docs/workflows.md)."""
    workflow.refresh_from_db()
    assert workflow.is_terminal
    items = WorkflowItem.objects.filter(workflow=workflow)
    assert items.exclude(status__in=TERMINAL_ITEM_STATUSES).count() == 0
    assert items.count() == workflow.total == workflow.processed
    charged = items.aggregate(total=Sum("credits_charged"))["total"] or 0
    assert workflow.credits_charged == charged
    if workflow.refund_status == "not_applicable":
        assert workflow.credits_charged + workflow.credits_refunded == workflow.credits_reserved
    entries = LedgerEntry.objects.filter(workflow_id=workflow.pk)
    assert entries.filter(kind="hold").count() == (1 if workflow.credits_reserved else 0)
    assert entries.filter(kind="charge").count() <= 1
    charges = entries.filter(kind="charge").aggregate(total=Sum("amount"))["total"] or 0
    assert charges == workflow.credits_charged


def assert_ledger_consistent(workspace) -> None:
    balance = balance_get(workspace=workspace)
    sums = LedgerEntry.objects.filter(workspace=workspace).aggregate(
        balance=Sum("balance_delta"), held=Sum("held_delta")
    )
    assert (balance.balance, balance.held) == (sums["balance"] or 0, sums["held"] or 0)
    assert balance.available >= 0
