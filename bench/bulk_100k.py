"""Bulk 100,000 leads, sandbox latency 0: POST → completed, the same list again with
`output: overwrite` (every answer from the result cache), the workers' peak RSS, and the DB
floor measured in the same run.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bulk_100k.py [--leads N]

On its own database (`<db>_bulk`): imports N synthetic leads (name, domain, LinkedIn;
no email) through the import pipeline, starts a real gunicorn (2 workers) and a real Celery
worker (prefork, 2 processes), gets a quote and POSTs /enrichment/bulk (partial: email with the
default sandbox finder + sandbox verifier, no latency) through the HTTP API, and polls the
status API until `completed`; then POSTs the same list with `output: overwrite`. Prints the
seconds from the POST to `completed`, leads/s, the peak RSS of each worker process (main + pool
children, sampled from /proc every 0.2 s) and of all of them together, and each run's time
divided by the DB floor (bench/_floor.py: the run's four per-lead writes done set-based on a
scratch copy of the database, measured right after). Goals at 100k: ≤ 10 s; rerun ≤ 8 s;
≤ 250 MB; floor ratio ≤ 6. `--leads 1000000` is the linearity run (≤ 10.5 x the 100k run,
RSS ≤ 1.1 x).
"""

import argparse
import time

from _common import (
    CpuAccount,
    RssSampler,
    bench_env,
    bulk_start,
    import_leads,
    load,
    make_tenant,
    purge_queue,
    quote,
    say,
    setup_django,
    start_gunicorn,
    start_worker,
    wait_done,
)
from _floor import db_floor


def _run(
    server, tenant, worker, quote_id, *, output: str
) -> tuple[dict, float, float, RssSampler, CpuAccount]:
    """POST → completed of one bulk run; returns its status body, the seconds the client saw
    and the server's, the RSS samples and where the CPU went."""
    with RssSampler(worker) as rss, CpuAccount(worker, web=server) as cpu:
        started = time.perf_counter()
        workflow_id = bulk_start(server, tenant, quote_id, output=output)["workflow_id"]
        body = wait_done(server, tenant, workflow_id, timeout=3600)
        elapsed = time.perf_counter() - started
    from enrichment.models import Workflow

    workflow = Workflow.objects.get(pk=workflow_id)
    run = (workflow.finished_at - workflow.created_at).total_seconds()
    return body, elapsed, run, rss, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2, help="worker pool processes")
    parser.add_argument("--no-rerun", action="store_true", help="skip the cache-hit rerun")
    args = parser.parse_args()

    env = bench_env("bulk", SLUICE_SANDBOX_LATENCY_MS="0")
    setup_django(env, floor=True)
    purge_queue()
    tenant = make_tenant()
    seconds = import_leads(tenant, args.leads)
    say(f"imported {args.leads:,} leads in {seconds:.1f} s ({load()})")

    server = start_gunicorn(env, workers=2)
    worker = start_worker(env, concurrency=args.processes)
    try:
        quote_id = quote(server, tenant)
        say(f"start ({load()})")
        first = _run(server, tenant, worker, quote_id, output="skip_existing")
        body, elapsed, run, rss, cpu = first
        say(f"first run done: {elapsed:.1f} s ({load()})")
        rerun = None
        if not args.no_rerun:
            # The same list again, every answer now in the result cache: pure overhead.
            again_quote = quote(server, tenant, output="overwrite")
            rerun = _run(server, tenant, worker, again_quote, output="overwrite")
    finally:
        worker.stop()
        server.stop()
    floor = db_floor(env["DATABASE_URL"], args.leads)

    say(f"--- bulk {args.leads:,} leads, sandbox latency 0, {args.processes} worker processes")
    say(f"DB floor          {floor.text()} ({load()})")
    say(f"status            {body['status']} ({body['processed']} processed, "
        f"{body['found_emails']} emails found)")  # fmt: skip
    say(f"POST → completed  {elapsed:.1f} s (server side {run:.1f} s) (goal ≤ 10 s at 100k)")
    say(f"throughput        {args.leads / elapsed:,.0f} leads/s")
    say(f"floor ratio       {elapsed / floor.total:.1f} (run ÷ DB floor; goal ≤ 6)")
    say(f"cores             {cpu.text()}")
    say(f"  by process      {cpu.split()}")
    for pid, mb in sorted(rss.peak.items()):
        role = "main" if pid == worker.process.pid else "child"
        say(f"peak RSS {role:5} {pid:>7}  {mb:6.0f} MB")
    say(f"peak RSS total    {rss.peak_total:.0f} MB (goal ≤ 250 MB)")
    say(f"peak PSS total    {rss.peak_pss_total:.0f} MB (shared pages counted once)")
    if rerun is not None:
        again, again_elapsed, again_run, again_rss, again_cpu = rerun
        say(f"rerun, overwrite  {again_elapsed:.1f} s (server side {again_run:.1f} s), all "
            f"answers from the cache ({again['processed']} processed, {again['found_emails']} "
            f"emails) (goal ≤ 8 s at 100k); ratio to the floor {again_elapsed / floor.total:.1f}; "
            f"peak RSS {again_rss.peak_total:.0f} MB")  # fmt: skip
        say(f"rerun's cores     {again_cpu.text()}")
        say(f"  by process      {again_cpu.split()}")
    say(f"load now          {load()}")


if __name__ == "__main__":
    main()
