"""Failover: how fast a bulk run recovers from a SIGKILLed worker (issue 15).

    DATABASE_URL=postgres://… REDIS_URL=redis://…/N python bench/failover.py \
        [--leads 5000] [--kill-leads 10000] [--kills 20] [--workers 1]

On its own database (`sluice_bench_failover`), default settings (lease, heartbeat, sweeper
interval and grace as shipped), sandbox at 20 ms, a real Celery worker (prefork, 2 processes)
and a real beat:

1. A run of `--leads` leads; at half way the whole worker (main process and children) is
   SIGKILLed and a replacement started at once. Prints the seconds from the replacement being
   ready (it answers a ping) to the run's next progress, and from the kill until the chunks the
   dead worker held are finished by someone else. Goal: progress within 10 s of ready.
2. A run of `--kill-leads` leads without faults, then the same with `--kills` SIGKILLs spread
   evenly over its progress (kill n when n/(kills+1) of the leads are processed), each followed
   at once by a replacement. The bench does not wait for a replacement to be ready before it
   watches for the next mark (a supervisor restarting a container does not stop the faults),
   but it kills only a node that is ready, the oldest: with one node the next kill waits for the
   replacement anyway (no progress without it). The time is the run's, from its start to its
   end; kills still due when it ends are not made (and the bench says so). Prints both times,
   their ratio (goal: under 2x) and where the time went: the replacements' starts, the time no
   node was ready, the items claimed at the kills.

With `--workers 2` two worker nodes run and the kills alternate between them (a deployment
with `--scale worker=2`); the default is the issue's single worker. `--target child` kills one
pool process each time instead of the whole worker.

The machine's load is printed next to every figure: on a shared machine the figures move.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from _common import (
    PYTHON,
    ROOT,
    Worker,
    _stop,
    bench_env,
    import_leads,
    load,
    make_tenant,
    purge_queue,
    say,
    setup_django,
    start_worker,
)


def start_beat(env: dict[str, str]) -> subprocess.Popen:
    log = Path(tempfile.mkstemp(prefix="sluice-bench-beat-", suffix=".log")[1])
    return subprocess.Popen(
        [PYTHON, "-m", "celery", "-A", "config", "beat", "--loglevel=WARNING",
         "--schedule", str(Path(env["SLUICE_VAR_DIR"]) / "celerybeat-schedule")],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def kill(worker: Worker) -> None:
    """SIGKILL to the whole worker: main process and pool children, no warning."""
    if worker.process.poll() is None:
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=60)


def start_run(leads: int, name: str) -> str:
    from credits.services import credits_grant
    from credits.services.quotes import quote_create
    from enrichment.services.start import bulk_enrichment_start

    # A workspace per run: the synthetic people are the same in each import.
    tenant = make_tenant(credits=0)
    credits_grant(workspace=tenant.workspace, amount=10 * leads, reason="bench", reference=name)
    import_leads(tenant, leads, name=name)
    params = {"list_id": str(tenant.lead_list.pk), "enrichment_type": "partial"}
    quote_id = quote_create(workspace=tenant.workspace, tool="enrich_list", params=params)
    return bulk_enrichment_start(
        workspace=tenant.workspace,
        list_id=tenant.lead_list.pk,
        enrichment_type="partial",
        output="skip_existing",
        quote_id=quote_id.quote.quote_id,
    ).workflow.pk


def progress(workflow_id: str) -> tuple[int, int, bool]:
    from enrichment.models import Workflow

    workflow = Workflow.objects.get(pk=workflow_id)
    return workflow.processed, workflow.total, workflow.is_terminal


def wait_processed(workflow_id: str, at_least: int, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while progress(workflow_id)[0] < at_least:
        if time.monotonic() > deadline:
            raise SystemExit(f"{workflow_id}: no progress to {at_least} in {timeout:.0f} s")
        time.sleep(0.02)


def wait_terminal(workflow_id: str, timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while not progress(workflow_id)[2]:
        if time.monotonic() > deadline:
            raise SystemExit(f"{workflow_id} not finished after {timeout:.0f} s")
        time.sleep(0.05)


def check(workflow_id: str, leads: int) -> str:
    from enrichment.models import Workflow, WorkflowItem

    workflow = Workflow.objects.get(pk=workflow_id)
    items = WorkflowItem.objects.filter(workflow_id=workflow_id)
    ok = (
        workflow.status == "completed"
        and workflow.total == workflow.processed == items.count() == leads
        and workflow.failed == 0
        and workflow.credits_charged + workflow.credits_refunded == workflow.credits_reserved
    )
    return f"{workflow.status}, {workflow.processed}/{leads} processed, {'ok' if ok else 'WRONG'}"


def one_kill(env, leads: int, workers: list[Worker]) -> None:
    from enrichment.models import ItemStatus, WorkflowItem

    say(f"\n--- 1. one SIGKILL half way through {leads:,} leads ({load()})")
    workflow_id = start_run(leads, "one-kill")
    started = time.monotonic()
    wait_processed(workflow_id, leads // 2)
    victim = workers.pop(0)
    kill(victim)
    killed = time.monotonic()
    held = list(
        WorkflowItem.objects.filter(workflow_id=workflow_id, status=ItemStatus.RUNNING).values_list(
            "id", flat=True
        )
    )
    at_kill = progress(workflow_id)[0]
    replacement = start_worker(env)
    ready = time.monotonic()
    workers.append(replacement)
    # Progress since the kill: anything recorded after the replacement was ready. With other
    # workers alive, progress never stopped; the figure is then 0.
    while progress(workflow_id)[0] <= at_kill:
        time.sleep(0.01)
    resumed = time.monotonic()
    while WorkflowItem.objects.filter(id__in=held, status=ItemStatus.RUNNING).exists():
        time.sleep(0.05)
    recovered = time.monotonic()
    wait_terminal(workflow_id)
    finished = time.monotonic()
    say(f"run               {check(workflow_id, leads)}")
    say(f"at the kill       {len(held)} items claimed (by the killed worker, and any other)")
    say(f"kill → ready      {ready - killed:.1f} s (replacement start)")
    say(f"ready → progress  {max(0.0, resumed - ready):.1f} s (goal ≤ 10 s) ({load()})")
    say(f"kill → those items finished  {recovered - killed:.1f} s (before: ~300 s)")
    say(f"whole run         {finished - started:.1f} s ({load()})")


def fault_free(leads: int) -> float:
    say(f"\n--- 2a. {leads:,} leads, no fault ({load()})")
    workflow_id = start_run(leads, "fault-free")
    started = time.monotonic()
    wait_terminal(workflow_id)
    seconds = time.monotonic() - started
    say(f"run               {check(workflow_id, leads)}")
    say(f"time              {seconds:.1f} s ({load()})")
    return seconds


class Replacements:
    """Replacement workers started at once after each kill, in threads: the bench goes on
    watching the run (and may kill again) while they start, as a supervisor restarting a
    container does. `ready()` lists the workers that answer a ping, oldest first."""

    def __init__(self, env: dict[str, str], workers: list[Worker]) -> None:
        self.env = env
        self.pool = ThreadPoolExecutor(max_workers=4)
        self.running: list[Worker] = list(workers)
        self.starting: list[Future] = []
        self.starts: list[float] = []  # kill → ready, per replacement

    def replace(self, killed_at: float) -> None:
        self.starting.append(self.pool.submit(self._start, killed_at))

    def _start(self, killed_at: float) -> Worker:
        worker = start_worker(self.env)
        # Within a ping's timeout of the worker being ready.
        self.starts.append(time.monotonic() - killed_at)
        return worker

    def ready(self) -> list[Worker]:
        for future in [f for f in self.starting if f.done()]:
            self.starting.remove(future)
            self.running.append(future.result())
        return self.running

    def all(self) -> list[Worker]:
        self.running.extend(future.result() for future in self.starting)
        self.starting.clear()
        return self.running


def many_kills(env, leads: int, kills: int, workers: list[Worker], target: str) -> float:
    from enrichment.models import ItemStatus, WorkflowItem

    say(f"\n--- 2b. {leads:,} leads, {kills} SIGKILLs ({target}) spread over the run ({load()})")
    workflow_id = start_run(leads, "many-kills")
    started = time.monotonic()
    nodes = Replacements(env, workers)
    held = 0  # items claimed (running) at each kill: the most a kill can throw away
    down = 0.0  # seconds with no worker node ready
    made = 0
    for n in range(1, kills + 1):
        mark = leads * n // (kills + 1)
        while True:
            processed, _, terminal = progress(workflow_id)
            if terminal or (processed >= mark and nodes.ready()):
                break
            if not nodes.ready():
                since = time.monotonic()
                while not nodes.ready():
                    time.sleep(0.02)
                down += time.monotonic() - since
            time.sleep(0.02)
        if terminal:
            break  # the run ended before this kill's mark
        victim = nodes.running.pop(0)  # the oldest ready node: with two, they take turns
        if target == "child":
            # One pool process: the worker's main process replaces it at once.
            children = victim.pids()[1:]
            if children:
                os.kill(children[-1], signal.SIGKILL)
            nodes.running.append(victim)
            made += 1
            continue
        held += WorkflowItem.objects.filter(
            workflow_id=workflow_id, status=ItemStatus.RUNNING
        ).count()
        kill(victim)
        nodes.replace(time.monotonic())
        made += 1
    wait_terminal(workflow_id)
    seconds = time.monotonic() - started
    workers[:] = nodes.all()
    nodes.pool.shutdown()
    say(f"run               {check(workflow_id, leads)}")
    say(f"time              {seconds:.1f} s ({load()})")
    if made < kills:
        say(f"kills             only {made} of {kills}: the run ended before the others' marks")
    if nodes.starts:
        starts = sorted(nodes.starts)
        say(
            f"kill → ready      {sum(starts):.1f} s in all (each {starts[0]:.1f}-{starts[-1]:.1f} "
            f"s, median {starts[len(starts) // 2]:.1f} s); no node ready for {down:.1f} s"
        )
        say(f"claimed at kills  {held:,} items in all, by any node (what the kills could lose)")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5_000)
    parser.add_argument("--kill-leads", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="worker nodes (2 processes each)")
    parser.add_argument(
        "--target",
        choices=("main", "child"),
        default="main",
        help="2b kills the whole worker (main: the issue's case) or one pool process (child)",
    )
    args = parser.parse_args()

    env = bench_env("failover", SLUICE_SANDBOX_LATENCY_MS="20")
    setup_django(env)
    purge_queue()
    from django.conf import settings

    say(
        f"settings: lease {settings.SLUICE_CLAIM_TTL_SECONDS} s, heartbeat "
        f"{settings.SLUICE_CLAIM_HEARTBEAT_SECONDS} s, sweep every "
        f"{settings.SLUICE_SWEEP_INTERVAL_SECONDS} s, stall grace "
        f"{settings.SLUICE_STALL_GRACE_SECONDS} s, chunk {settings.SLUICE_CHUNK_SIZE} leads; "
        f"{args.workers} worker node(s) x 2 processes; {os.cpu_count()} cores"
    )
    beat = start_beat(env)
    workers = [start_worker(env) for _ in range(args.workers)]
    try:
        one_kill(env, args.leads, workers)
        base = fault_free(args.kill_leads)
        faulty = many_kills(env, args.kill_leads, args.kills, workers, args.target)
    finally:
        for worker in workers:
            worker.stop()
        _stop(beat)
    say(f"\n{args.kills} kills / fault-free  {faulty / base:.2f}x (goal < 2x) ({load()})")


if __name__ == "__main__":
    main()
