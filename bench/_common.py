"""Shared setup for the benchmarks: a dedicated database per benchmark, Django in this process on
it, real gunicorn and Celery worker processes, synthetic leads imported through the import
pipeline (COPY on PostgreSQL), quotes and bulk starts through the HTTP API, RSS sampling from
/proc, and the machine's load next to every figure.

Benchmarks use PostgreSQL and Redis from `DATABASE_URL` / `REDIS_URL`. Each one drops and
recreates its own database on that server, named after the database `DATABASE_URL` names and
the benchmark (`…/bench_perf` → `bench_perf_bulk`), never the test databases: two people
benchmarking on one server with different `DATABASE_URL`s never drop each other's databases.
The Celery queue on `REDIS_URL` is purged before a run (point `REDIS_URL` at a spare Redis DB).
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests
from _floor import floor_database_create

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def load() -> str:
    """The 1/5/15-minute load averages: other agents share this machine while we measure."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def say(text: str) -> None:
    print(text, flush=True)


# --- Database and Django ----------------------------------------------------------------------


def bench_database_url(name: str) -> str:
    """Drops and recreates `<DATABASE_URL's database>_<name>` on the DATABASE_URL server;
    returns its URL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL must point at PostgreSQL (each benchmark creates its own database).")
    parts = urlsplit(url)
    db = f"{parts.path.strip('/') or 'sluice_bench'}_{name}"
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    return urlunsplit(parts._replace(path=f"/{db}"))


def bench_env(name: str, **extra: str) -> dict[str, str]:
    """The environment every process of this benchmark runs with (this one included)."""
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL must point at Redis (the broker and the shared provider limits).")
    work = Path(tempfile.mkdtemp(prefix=f"sluice-bench-{name}-"))
    return {
        **os.environ,
        "DATABASE_URL": bench_database_url(name),
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "SLUICE_VAR_DIR": str(work / "var"),
        "SLUICE_RATE_LIMIT_PER_KEY": "10000000/min",
        "SLUICE_RATE_LIMIT_PER_WORKSPACE": "10000000/min",
        "SLUICE_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def setup_django(env: dict[str, str], *, floor: bool = False) -> None:
    """Migrates the benchmark's database and sets Django up in this process on it. With
    `floor`, also copies the migrated database as the scratch database of the DB floor
    (bench/_floor.py), before anything connects to it."""
    os.environ.clear()
    os.environ.update(env)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    if floor:
        floor_database_create(env["DATABASE_URL"])
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def purge_queue() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        for queue in app.amqp.queues:
            conn.default_channel.queue_purge(queue)


def analyze() -> None:
    """Fresh planner statistics after a bulk import, as autovacuum would give a while later."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# --- Data -------------------------------------------------------------------------------------

FIRSTS = ["Ada", "Grace", "Alan", "Linus", "Barbara", "Edsger", "Margaret", "Ken", "Frances"]
LASTS = ["Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Dijkstra", "Hamilton", "Allen"]
TITLES = ["CEO", "CTO", "VP Sales", "Head of Growth", "Account Executive", "Engineer"]


def write_leads_csv(path: Path, rows: int, *, seed: int | str = 7, tag: str = "") -> None:
    """People with a name, a company domain and a LinkedIn URL, and no email or phone: every
    one of them is something to enrich. `tag` goes into every identity, so that lists written
    with different tags share nobody."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["First Name", "Last Name", "Job Title", "Company", "Website", "LinkedIn URL"]
        )
        for i in range(rows):
            first, last = rng.choice(FIRSTS), rng.choice(LASTS)
            writer.writerow(
                [
                    first,
                    f"{last}{tag}{i}",
                    rng.choice(TITLES),
                    f"Company {i % 20000}",
                    f"https://www.company{i % 20000}.example",
                    f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}-{tag}{i}/",
                ]
            )


@dataclass
class Tenant:
    workspace: object
    raw_key: str
    lead_list: object = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.raw_key}"}


def make_tenant(*, credits: int = 10_000_000) -> Tenant:
    from accounts import scopes
    from accounts.services import api_key_create, workspace_create
    from credits.services import credits_grant

    workspace = workspace_create(name=f"bench-{int(time.time())}")
    _, raw_key = api_key_create(workspace=workspace, scopes=list(scopes.ALL_SCOPES), name="bench")
    if credits:
        credits_grant(workspace=workspace, amount=credits, reason="bench", reference="bench")
    return Tenant(workspace=workspace, raw_key=raw_key)


def import_leads(tenant: Tenant, rows: int, *, name: str = "bench") -> float:
    """Imports `rows` synthetic leads into a new list of the tenant (the import pipeline: COPY
    on PostgreSQL); returns the seconds it took."""
    from leads.imports import leads_import_file
    from leads.services import lead_list_create

    tenant.lead_list = lead_list_create(workspace=tenant.workspace, name=name)[0]
    path = Path(tempfile.mkdtemp(prefix="sluice-bench-csv-")) / "leads.csv"
    write_leads_csv(path, rows)
    started = time.perf_counter()
    with path.open("rb") as handle:
        result = leads_import_file(
            workspace=tenant.workspace, lead_list=tenant.lead_list, stream=handle
        )
    seconds = time.perf_counter() - started
    if result.rows_imported != rows:
        sys.exit(f"import created {result.rows_imported} leads, wanted {rows}")
    analyze()
    return seconds


# --- Processes --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout)


@dataclass
class Server:
    process: subprocess.Popen
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2"

    def stop(self) -> None:
        _stop(self.process)


def start_gunicorn(env: dict[str, str], *, workers: int = 2) -> Server:
    port = _free_port()
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"), "config.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--timeout", "600", "--log-level", "warning",
        ],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    server = Server(process, port)
    deadline = time.monotonic() + 60
    while True:
        try:
            # Any answer will do (401 without a key): the server is up.
            requests.get(f"{server.base}/whoami", timeout=10)
            return server
        except (requests.ConnectionError, requests.Timeout):
            pass  # not bound yet, or no worker booted yet (a loaded machine)
        if time.monotonic() > deadline or process.poll() is not None:
            server.stop()
            sys.exit("gunicorn did not start")
        time.sleep(0.2)


def _children(pid: int) -> list[int]:
    """A process's children, from /proc (no `pgrep` started at every sample)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [int(child) for child in text.split()]


@dataclass
class Worker:
    process: subprocess.Popen
    log: Path

    def pids(self) -> list[int]:
        """The main process and its pool children."""
        return [self.process.pid, *_children(self.process.pid)]

    def stop(self) -> None:
        _stop(self.process, timeout=60)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def start_worker(env: dict[str, str], *, concurrency: int = 2) -> Worker:
    """A real `celery worker` (prefork); returns once it answers a ping."""
    from config.celery import app

    name = f"bench-{os.getpid()}-{time.monotonic_ns()}@localhost"
    log = Path(tempfile.mkstemp(prefix="sluice-bench-worker-", suffix=".log")[1])
    process = subprocess.Popen(
        [
            # The deployments' worker command (config/worker.py).
            PYTHON, "-m", "config.worker", "--loglevel=WARNING",
            f"--hostname={name}", "--pool=prefork", f"--concurrency={concurrency}",
        ],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    worker = Worker(process, log)
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[name], timeout=0.5):
        if time.monotonic() > deadline or process.poll() is not None:
            worker.stop()
            sys.exit(f"the worker did not start:\n{worker.tail()}")
    return worker


# --- Memory -----------------------------------------------------------------------------------


def _proc_kb(path: str, key: str) -> float:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0.0


def rss_mb(pid: int) -> float:
    return _proc_kb(f"/proc/{pid}/status", "VmRSS:")


def pss_mb(pid: int) -> float:
    """Proportional set size: shared (copy-on-write) pages split between the processes."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): field 3 is at index 0."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return text[text.rindex(")") + 2 :].split()


def _cpu_seconds(fields: list[str], *, reaped: bool) -> float:
    """A process's user + system time, plus its reaped children's when `reaped`."""
    return sum(int(value) for value in fields[11 : 15 if reaped else 13]) / _TICKS


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds used by a process and its descendants, living or reaped (the kernel adds a
    child's time to its parent's when the parent waits for it)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if fields := _stat_fields(pid):
            total += _cpu_seconds(fields, reaped=True)
        todo.extend(children.get(pid, ()))
    return total


def postmaster_pid() -> int | None:
    """The PostgreSQL server's main process (the parent of this connection's backend), when it
    runs on this machine; None otherwise."""
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        # Read while the connection lives: once closed, its backend may be gone already (the
        # whole-server figure then read 0.0 s).
        fields = _stat_fields(backend)
    return int(fields[1]) if fields else None


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (every core), from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / _TICKS


def database_backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a PostgreSQL backend on this machine has used so far."""
    fields = _stat_fields(pid)
    return _cpu_seconds(fields, reaped=False) if fields else 0.0


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


# PostgreSQL's own processes, by the title they set (`postgres: [cluster: ]<kind>`).
_PG_BACKGROUND = (
    "checkpointer", "background writer", "walwriter", "autovacuum", "logical replication",
    "archiver", "walsender", "walreceiver", "startup",
)  # fmt: skip


def _pg_kind(title: str, database: str) -> str:
    """`this database`, `other databases` or `background` (WAL writer, checkpointer, …)."""
    if any(kind in title for kind in _PG_BACKGROUND):
        return "background"
    # A backend's title: `postgres: [cluster: ]<user> <database> <host> <activity>`.
    return "this database" if f" {database} " in f"{title} " else "other databases"


class DatabaseCpu:
    """CPU seconds of PostgreSQL's processes while a block runs, by kind: the backends connected
    to this benchmark's database (the database DATABASE_URL names), those of other databases
    (other sessions' work on a shared server, which the whole server's figure counts), and the
    server's background processes (WAL writer, checkpointer, background writer, autovacuum).
    Read from /proc every `interval` (the server's process titles name each backend's
    database): no query of its own, so measuring adds no backend work. A backend that ends
    between two samples loses what it used since the last one (CpuAccount counts that as
    `ended backends`: the server's total minus its live processes' share)."""

    def __init__(self, *, interval: float = 0.05) -> None:
        self.interval = interval
        self.seconds = 0.0
        self.backends = 0
        self.by_kind: dict[str, float] = {}
        self._database = urlsplit(os.environ["DATABASE_URL"]).path.strip("/")
        self._postmaster = postmaster_pid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._kinds: dict[int, str] = {}
        self._seen: dict[int, float] = {}

    def _sample(self, *, every: bool = False) -> dict[int, float]:
        """CPU seconds so far of the server's processes: of every one with `every`, else of this
        database's backends and the background processes (another session's backends are read
        every fifth sample: reading the dozens a shared server has 20 times a second cost this
        process more than a second of CPU a run)."""
        used = {}
        now = time.monotonic()
        for pid in _children(self._postmaster) if self._postmaster else ():
            # A backend's title names its database once the backend has read its startup
            # packet: a new one's is read again for its first second.
            seen = self._seen.setdefault(pid, now)
            kind = self._kinds.get(pid)
            if kind is None or (kind == "other databases" and now - seen < 1.0):
                kind = self._kinds[pid] = _pg_kind(_cmdline(pid), self._database)
            if (every or kind != "other databases") and (fields := _stat_fields(pid)):
                used[pid] = _cpu_seconds(fields, reaped=False)
        return used

    def _run(self) -> None:
        self._start = self._sample(every=True)
        self._ready.set()
        for samples in itertools.count(1):
            self._last.update(self._sample(every=samples % 5 == 0))
            if self._stop.wait(self.interval):
                self._last.update(self._sample(every=True))
                return

    def __enter__(self) -> DatabaseCpu:
        self._ready = threading.Event()
        self._thread.start()
        self._ready.wait(timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        ours = {pid for pid in self._last if self._kinds.get(pid) == "this database"}
        self.backends = len(ours - set(self._start))
        self.by_kind = {}
        for pid, used in self._last.items():
            kind = self._kinds.get(pid, "other databases")
            self.by_kind[kind] = self.by_kind.get(kind, 0.0) + used - self._start.get(pid, 0.0)
        self.seconds = self.by_kind.get("this database", 0.0)


def _named_cpu_seconds(name: str) -> float:
    """CPU seconds of every process whose command is `name` (e.g. redis-server)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
                continue
            if comm == name and (fields := _stat_fields(int(entry.name))):
                total += _cpu_seconds(fields, reaped=False)
    return total


def _self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


# What a run costs outside the chunks' own work: CpuAccount.split().
OUTSIDE = (
    "worker main", "PostgreSQL background", "PostgreSQL ended backends", "Redis", "web",
    "benchmark",
)  # fmt: skip


@dataclass
class CpuAccount:
    """Where the cores went while a block ran: CPU seconds of the worker (main + pool), of
    PostgreSQL (every backend, including those that ended), of this benchmark's database's own
    backends (DatabaseCpu) and of the whole machine. `parts` breaks it down by process: the
    worker's main process and its pool, PostgreSQL's backends of this database, of other
    databases, its background processes and the backends that ended between two samples, Redis,
    the web server (`web`, when given), this benchmark's own process (its polling and samplers)
    and the rest of the machine (other sessions, on a shared one)."""

    worker: Worker
    web: Server | None = None
    worker_s: float = 0.0
    postgres_s: float = 0.0
    machine_s: float = 0.0
    database_s: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> CpuAccount:
        self._postmaster = postmaster_pid()
        self._database = DatabaseCpu().__enter__()
        self._start = self._read()
        return self

    def _read(self) -> dict[str, float]:
        root = self.worker.process.pid
        main = _stat_fields(root)
        return {
            "worker": tree_cpu_seconds(root),
            "worker main": _cpu_seconds(main, reaped=False) if main else 0.0,
            "postgres": tree_cpu_seconds(self._postmaster) if self._postmaster else 0.0,
            "redis": _named_cpu_seconds("redis-server"),
            "web": tree_cpu_seconds(self.web.process.pid) if self.web else 0.0,
            "benchmark": _self_cpu_seconds(),
            "machine": machine_cpu_seconds(),
        }

    def __exit__(self, *exc) -> None:
        end = self._read()
        self._database.__exit__(*exc)
        used = {key: end[key] - self._start[key] for key in end}
        self.worker_s, self.postgres_s = used["worker"], used["postgres"]
        self.machine_s = used["machine"]
        self.database_s = self._database.seconds
        kinds = self._database.by_kind
        self.parts = {
            "worker main": used["worker main"],
            "worker pool": used["worker"] - used["worker main"],
            "PostgreSQL this database": self.database_s,
            "PostgreSQL background": kinds.get("background", 0.0),
            "PostgreSQL ended backends": max(0.0, used["postgres"] - sum(kinds.values())),
            "PostgreSQL other databases": kinds.get("other databases", 0.0),
            "Redis": used["redis"],
            "web": used["web"],
            "benchmark": used["benchmark"],
        }
        self.parts["rest of the machine"] = self.machine_s - sum(self.parts.values())

    def text(self) -> str:
        other = self.machine_s - self.worker_s - self.postgres_s
        return (
            f"CPU {self.machine_s:.1f} s: worker {self.worker_s:.1f} s, PostgreSQL "
            f"{self.postgres_s:.1f} s (this database's backends {self.database_s:.1f} s), "
            f"everything else {other:.1f} s"
        )

    def split(self) -> str:
        """CPU seconds by process, and their sum outside the worker's pool and this database's
        backends (OUTSIDE)."""
        listed = ", ".join(f"{key} {value:.2f}" for key, value in self.parts.items())
        outside = sum(self.parts[key] for key in OUTSIDE)
        return (
            f"{listed}; outside the pool and the backends {outside:.2f} s; "
            f"{self._database.backends} backends of this database started"
        )


@dataclass
class RssSampler:
    """Samples the RSS of the worker's processes (main + pool children) from /proc."""

    worker: Worker
    interval: float = 0.2
    pss_every: int = 25
    peak: dict[int, float] = field(default_factory=dict)
    peak_total: float = 0.0
    peak_pss_total: float = 0.0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        samples = 0
        while not self._stop.is_set():
            total = pss = 0.0
            pids = self.worker.pids()
            for pid in pids:
                mb = rss_mb(pid)
                total += mb
                self.peak[pid] = max(self.peak.get(pid, 0.0), mb)
            self.peak_total = max(self.peak_total, total)
            if samples % self.pss_every == 0:
                # smaps_rollup walks the process's page tables: ~10 ms for a pool process, so
                # read every 5 s (once a second it was most of this benchmark's CPU).
                pss = sum(pss_mb(pid) for pid in pids)
                self.peak_pss_total = max(self.peak_pss_total, pss)
            samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# --- API --------------------------------------------------------------------------------------


def quote(
    server: Server, tenant: Tenant, *, scope: str = "partial", output: str = "skip_existing"
) -> str:
    body = {"tool": "enrich_list", "list_id": str(tenant.lead_list.pk), "scope": scope}
    if output != "skip_existing":
        body["extra"] = {"output": output}
    response = requests.post(
        f"{server.base}/credits/estimate", headers=tenant.headers, json=body, timeout=60
    )
    response.raise_for_status()
    return response.json()["quote_id"]


def bulk_start(
    server: Server,
    tenant: Tenant,
    quote_id: str | None,
    *,
    scope: str = "partial",
    output: str = "skip_existing",
) -> dict:
    body = {"list_id": str(tenant.lead_list.pk), "scope": scope, "output": output}
    if quote_id:
        body["quote_id"] = quote_id
    response = requests.post(
        f"{server.base}/enrichment/bulk", headers=tenant.headers, json=body, timeout=60
    )
    if response.status_code not in (200, 202):
        sys.exit(f"bulk start answered {response.status_code}: {response.text[:500]}")
    return response.json()


# How often wait_done polls: a tenth of the time the run is expected to take still, between
# these. Every poll costs the web server and PostgreSQL a status request (~6 ms of CPU): at
# 0.1 s throughout, polling a 12-second run cost ~1 CPU-s, counted in the run's `cores`. Near
# the end it is 0.1 s again, so the seconds a run took are read as closely as before.
POLL_SECONDS = (0.1, 0.5)


def wait_done(
    server: Server, tenant: Tenant, workflow_id: str, *, timeout: float, progress: bool = True
) -> dict:
    """Polls the status API until the run is terminal; prints a line every 5 s. Polls every
    0.1 s near the end (when the run is expected to finish within a second, from its pace so
    far), less often before."""
    started = time.monotonic()
    deadline = started + timeout
    last_print = started
    while True:
        body = requests.get(
            f"{server.base}/enrichment/status/{workflow_id}", headers=tenant.headers, timeout=30
        ).json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
        now = time.monotonic()
        if now > deadline:
            sys.exit(f"{workflow_id} not done after {timeout:.0f} s: {body}")
        if progress and now - last_print > 5:
            last_print = now
            say(f"  … {body['processed']}/{body['total']} processed ({load()})")
        processed, total = body.get("processed") or 0, body.get("total") or 0
        expected = (total - processed) * (now - started) / processed if processed else 0.0
        time.sleep(min(max(expected / 10, POLL_SECONDS[0]), POLL_SECONDS[1]))
