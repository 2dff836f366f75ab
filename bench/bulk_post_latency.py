"""Benchmark 3: latency of POST /enrichment/bulk on a 100,000-lead list.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bulk_post_latency.py [--calls 30]

On its own database (`<db>_post`): imports 100,000 leads, starts a real gunicorn (2
workers) and no Celery worker. Each round gets a fresh quote (not timed), times the bulk POST
alone (the request writes the workflow and its hold and enqueues the planner: no per-lead work),
then cancels the run (not timed) so its hold is released. One untimed warm-up round first.
Prints p50/p95/max (goal p50 ≤ 100 ms).
"""

import argparse
import statistics
import time

import requests
from _common import (
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
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()

    env = bench_env("post")
    setup_django(env)
    purge_queue()
    tenant = make_tenant()
    seconds = import_leads(tenant, args.leads)
    say(f"imported {args.leads} leads in {seconds:.1f} s")

    server = start_gunicorn(env, workers=2)
    timings = []
    try:
        for round_no in range(args.calls + 1):
            quote_id = quote(server, tenant)
            started = time.perf_counter()
            body = bulk_start(server, tenant, quote_id)
            ms = (time.perf_counter() - started) * 1000
            if round_no:  # the first round warms the server's connections and caches
                timings.append(ms)
            requests.post(
                f"{server.base}/enrichment/{body['workflow_id']}/cancel",
                headers=tenant.headers,
                timeout=60,
            ).raise_for_status()
    finally:
        server.stop()
        purge_queue()

    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    say(f"--- POST /enrichment/bulk on a {args.leads:,}-lead list, {len(timings)} calls")
    say(f"total_leads       {body['total_leads']}")
    say(f"p50               {statistics.median(timings):.0f} ms (goal ≤ 100 ms) ({load()})")
    say(f"p95               {p95:.0f} ms")
    say(f"max               {timings[-1]:.0f} ms")


if __name__ == "__main__":
    main()
