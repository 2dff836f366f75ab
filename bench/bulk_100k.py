"""Benchmarks 1 and 5: a bulk enrichment of 100,000 leads, sandbox latency 0, and the workers'
peak RSS during it.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bulk_100k.py [--leads N]

On its own database (`<db>_bulk`): imports N synthetic leads (name, domain, LinkedIn;
no email) through the import pipeline, starts a real gunicorn (2 workers) and a real Celery
worker (prefork, 2 processes), gets a quote and POSTs /enrichment/bulk (partial: email with the
default sandbox finder + sandbox verifier, no latency) through the HTTP API, and polls the
status API until `completed`. Prints the seconds from the POST to `completed`, leads/s, and the
peak RSS of each worker process (main + pool children, sampled from /proc every 0.2 s) and of
all of them together. Goals: ≤ 30 s; ≤ 300 MB.
"""

import argparse
import time

from _common import (
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--processes", type=int, default=2, help="worker pool processes")
    args = parser.parse_args()

    env = bench_env("bulk", SLUICE_SANDBOX_LATENCY_MS="0")
    setup_django(env)
    purge_queue()
    tenant = make_tenant()
    seconds = import_leads(tenant, args.leads)
    say(f"imported {args.leads} leads in {seconds:.1f} s")

    server = start_gunicorn(env, workers=2)
    worker = start_worker(env, concurrency=args.processes)
    try:
        quote_id = quote(server, tenant)
        say(f"start ({load()})")
        with RssSampler(worker) as rss:
            started = time.perf_counter()
            workflow_id = bulk_start(server, tenant, quote_id)["workflow_id"]
            body = wait_done(server, tenant, workflow_id, timeout=1800)
            elapsed = time.perf_counter() - started
        from enrichment.models import Workflow

        workflow = Workflow.objects.get(pk=workflow_id)
        run = (workflow.finished_at - workflow.created_at).total_seconds()
    finally:
        worker.stop()
        server.stop()

    say(f"--- bulk {args.leads:,} leads, sandbox latency 0, {args.processes} worker processes")
    say(f"status            {body['status']} ({body['processed']} processed, "
        f"{body['found_emails']} emails found)")  # fmt: skip
    say(f"POST → completed  {elapsed:.1f} s (server side {run:.1f} s) (goal ≤ 30 s) ({load()})")
    say(f"throughput        {args.leads / elapsed:,.0f} leads/s")
    for pid, mb in sorted(rss.peak.items()):
        role = "main" if pid == worker.process.pid else "child"
        say(f"peak RSS {role:5} {pid:>7}  {mb:6.0f} MB")
    say(f"peak RSS total    {rss.peak_total:.0f} MB (goal ≤ 300 MB)")
    say(f"peak PSS total    {rss.peak_pss_total:.0f} MB (shared pages counted once)")


if __name__ == "__main__":
    main()
