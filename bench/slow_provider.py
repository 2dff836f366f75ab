"""A slow provider: 20,000 leads through one sandbox answering after 2 s, under a shared rate
limit of 100 calls/s. The rate limit, not our concurrency, should set the pace.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/slow_provider.py [--leads N]

On its own database (`<db>_slow`): the email waterfall is the one `sandbox`, at 2,000 ms, with
`SLUICE_SANDBOX_RATE_LIMIT=100/s` (shared by every worker through Redis) and no verifier, so
every lead is one call. A real gunicorn and a real Celery worker (prefork, 2 processes, the
default SLUICE_ENGINE_THREADS) run the bulk from the HTTP API to `completed`. Prints calls/s
achieved and its ratio to the rate limit (goal ≥ 0.95; 64 calls in flight gave ≈ 0.32), the
calls in flight that needs (rate x latency), and the workers' peak RSS.
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
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=2000)
    parser.add_argument("--rate", type=int, default=100, help="calls/s")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()

    env = bench_env(
        "slow",
        SLUICE_WATERFALL_EMAIL="sandbox",
        SLUICE_VERIFIER="",
        SLUICE_SANDBOX_LATENCY_MS=str(args.latency_ms),
        SLUICE_SANDBOX_RATE_LIMIT=f"{args.rate}/s",
    )
    setup_django(env)
    purge_queue()
    from django.conf import settings

    from providers.limits import get_limits

    get_limits().reset("sandbox")  # a bucket left by an earlier run
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
            body = wait_done(server, tenant, workflow_id, timeout=3600)
            elapsed = time.perf_counter() - started
    finally:
        worker.stop()
        server.stop()

    from django.db.models import Sum

    from providers.models import ProviderCall

    records = ProviderCall.objects.filter(tag=workflow_id)  # a row may stand for several calls
    calls = records.filter(cached=False).aggregate(n=Sum("calls"))["n"] or 0
    skipped = records.filter(outcome="skipped").aggregate(n=Sum("calls"))["n"] or 0
    achieved = calls / elapsed
    say(f"--- slow provider: {args.leads:,} leads, one sandbox at {args.latency_ms:.0f} ms, "
        f"rate limit {args.rate}/s, {args.processes} worker processes x "
        f"{settings.SLUICE_ENGINE_THREADS} engine threads")  # fmt: skip
    say(f"status            {body['status']} ({body['found_emails']} emails found, "
        f"{body['failed']} failed)")  # fmt: skip
    say(f"calls             {calls} ({skipped} recorded as skipped)")
    say(f"elapsed           {elapsed:.1f} s ({load()})")
    say(f"in flight needed  {args.rate * args.latency_ms / 1000:.0f} (rate x latency)")
    say(f"achieved          {achieved:.1f} calls/s")
    say(f"ratio             {achieved / args.rate:.2f} of the rate limit (goal ≥ 0.95)")
    say(f"peak RSS total    {rss.peak_total:.0f} MB (PSS {rss.peak_pss_total:.0f} MB)")


if __name__ == "__main__":
    main()
