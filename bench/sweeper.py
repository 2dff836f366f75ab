"""The sweeper's defaults from measurements (issue 15): what a sweep costs, how long a healthy
run goes without recording progress, and how long a lost worker's chunks wait for the sweeper
when no replacement starts.

    DATABASE_URL=postgres://… REDIS_URL=redis://…/N python bench/sweeper.py [--leads 10000]

On its own database (`<db>_sweeper`), default settings, sandbox at 20 ms, real Celery workers
(prefork, 2 processes each) and a real beat:

1. Sweep cost (`workflows_sweep`, what beat runs every SLUICE_SWEEP_INTERVAL_SECONDS), in this
   process: with nothing to do after a finished run of `--leads` items, and while a run of
   `--leads` leads is in flight on one worker. Median and worst of the sweeps, and queries.
2. Progress gaps of that run (one worker): the longest time without `processed` moving once
   the run had started, and the time to its first progress. SLUICE_STALL_GRACE_SECONDS must be
   well above the longest gap, or the sweeper re-sends the chunks of a healthy run.
3. A run behind another: two runs of `--leads` started together on one worker; the second's
   time to first progress (its chunks queue behind the first's): the grace also bounds how long
   a run may wait in line before its open chunks are re-sent (a duplicate claims nothing).
4. Two worker nodes, one SIGKILLed mid-run and not replaced: kill → no item claimed at the
   kill is still claimed (the survivor's finished, the dead node's given back to the queue).
   Only beat's sweeper releases the dead node's here, so this is the interval's cost (half an
   interval on average, more when the survivor's processes are all busy with chunks: the sweep
   is a task like any other).

The machine's load is printed next to every figure.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import bench_env, load, purge_queue, say, setup_django, start_worker
from failover import kill, progress, start_beat, start_run, wait_terminal


def sweep_cost(label: str, sweeps: int = 20, pause: float = 0.2) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from enrichment.services.execution import workflows_sweep

    seconds: list[float] = []
    queries: list[int] = []
    for _ in range(sweeps):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            workflows_sweep()
            seconds.append(time.perf_counter() - started)
        queries.append(len(captured))
        time.sleep(pause)
    say(
        f"sweep, {label}: median {statistics.median(seconds) * 1000:.1f} ms, worst "
        f"{max(seconds) * 1000:.1f} ms, {statistics.median(queries):.0f} queries ({load()})"
    )


def gaps(workflow_id: str) -> tuple[float, float, float]:
    """Polls the run until it ends; returns (time to first progress, longest gap without
    progress after it, whole run) in seconds."""
    started = time.monotonic()
    first = None
    last_change = started
    last_seen = 0
    longest = 0.0
    while True:
        processed, _, terminal = progress(workflow_id)
        now = time.monotonic()
        if processed != last_seen:
            if first is None:
                first = now - started
            else:
                longest = max(longest, now - last_change)
            last_change, last_seen = now, processed
        if terminal:
            return first or 0.0, longest, now - started
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    args = parser.parse_args()

    env = bench_env("sweeper", SLUICE_SANDBOX_LATENCY_MS="20")
    setup_django(env)
    purge_queue()
    from django.conf import settings

    from enrichment.models import ItemStatus, WorkflowItem

    say(
        f"settings: sweep every {settings.SLUICE_SWEEP_INTERVAL_SECONDS} s, stall grace "
        f"{settings.SLUICE_STALL_GRACE_SECONDS} s, lease {settings.SLUICE_CLAIM_TTL_SECONDS} s, "
        f"chunk {settings.SLUICE_CHUNK_SIZE} leads; workers of 2 processes"
    )
    workers = [start_worker(env)]
    beat = None
    try:
        say(f"\n--- 1./2. one run of {args.leads:,} leads on one worker ({load()})")
        workflow_id = start_run(args.leads, "gaps")
        # Sweeps while it runs (the sweep of this process competes with the run: as beat's does).
        sweep_cost("during a run", sweeps=10, pause=0.1)
        first, longest, whole = gaps(workflow_id)
        say(
            f"progress          first after {first:.1f} s, longest gap {longest:.1f} s, "
            f"run {whole:.1f} s ({load()})"
        )
        sweep_cost(f"idle, {args.leads:,} finished items in the table")

        say(f"\n--- 3. two runs of {args.leads:,} leads started together ({load()})")
        ahead = start_run(args.leads, "ahead")
        behind = start_run(args.leads, "behind")
        first, longest, whole = gaps(behind)
        wait_terminal(ahead)
        say(
            f"the second run    first progress after {first:.1f} s, longest gap "
            f"{longest:.1f} s, run {whole:.1f} s: {2 * args.leads / whole:,.0f} leads/s for the "
            f"two ({load()})"
        )

        say(f"\n--- 4. two nodes, one SIGKILLed half way, no replacement, beat ({load()})")
        beat = start_beat(env)
        workers.append(start_worker(env))
        workflow_id = start_run(args.leads, "no-replacement")
        while progress(workflow_id)[0] < args.leads // 2:
            time.sleep(0.02)
        held = set(
            WorkflowItem.objects.filter(
                workflow_id=workflow_id, status=ItemStatus.RUNNING
            ).values_list("id", flat=True)
        )
        victim = workers.pop(0)
        kill(victim)
        killed = time.monotonic()
        # The survivor's own claims end as its chunks do; the dead node's go back to the queue
        # when the sweeper finds them (their chunks are then re-sent behind the run's others).
        while WorkflowItem.objects.filter(id__in=held, status=ItemStatus.RUNNING).exists():
            time.sleep(0.05)
        say(
            f"kill → none of the items running at the kill still claimed  "
            f"{time.monotonic() - killed:.1f} s ({len(held)} items, both nodes') ({load()})"
        )
        wait_terminal(workflow_id)
    finally:
        for worker in workers:
            worker.stop()
        if beat is not None:
            from _common import _stop

            _stop(beat)


if __name__ == "__main__":
    main()
