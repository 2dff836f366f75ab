"""Benchmark 2: a bulk enrichment of 20,000 leads through three sandbox providers at 200 ms,
against the ideal throughput of the workers' call capacity.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/waterfall_20k.py [--leads N]

On its own database (`<db>_waterfall`): the email waterfall is
`sandbox_a,sandbox_b,sandbox_c`, each answering after 200 ms and finding 40 % of the people it
is asked about (the instances hash differently, so the waterfall really walks on: 1.96 calls
per lead expected); no verifier, so every call is a finder call. A real gunicorn and a real
Celery worker (prefork, 2 processes) run the bulk from the HTTP API to `completed`.

    ideal = concurrency / (calls per lead x latency)
    concurrency = worker processes x min(engine threads, chunk size)

Calls per lead are counted from the run's call records. Prints achieved and ideal leads/s and
their ratio (goal ≥ 0.97).
"""

import argparse
import time

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
    start_worker,
    wait_done,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--hit-rate", type=float, default=0.4)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()

    knobs = {}
    for suffix in ("A", "B", "C"):
        knobs[f"SLUICE_SANDBOX_{suffix}_LATENCY_MS"] = str(args.latency_ms)
        knobs[f"SLUICE_SANDBOX_{suffix}_EMAIL_HIT_RATE"] = str(args.hit_rate)
    env = bench_env(
        "waterfall",
        SLUICE_WATERFALL_EMAIL="sandbox_a,sandbox_b,sandbox_c",
        SLUICE_VERIFIER="",
        **knobs,
    )
    setup_django(env)
    purge_queue()
    from django.conf import settings

    threads, chunk = settings.SLUICE_ENGINE_THREADS, settings.SLUICE_CHUNK_SIZE
    tenant = make_tenant()
    seconds = import_leads(tenant, args.leads)
    say(f"imported {args.leads} leads in {seconds:.1f} s")

    server = start_gunicorn(env, workers=2)
    worker = start_worker(env, concurrency=args.processes)
    try:
        quote_id = quote(server, tenant)
        say(f"start ({load()})")
        started = time.perf_counter()
        posted_at = time.time()
        workflow_id = bulk_start(server, tenant, quote_id)["workflow_id"]
        body = wait_done(server, tenant, workflow_id, timeout=3600)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop()
        server.stop()

    from django.db.models import Sum

    from providers.models import ProviderCall

    real = ProviderCall.objects.filter(tag=workflow_id, cached=False)
    calls = real.aggregate(n=Sum("calls"))["n"] or 0  # a row may stand for several calls
    per_lead = calls / args.leads
    concurrency = args.processes * min(threads, chunk)
    achieved = args.leads / elapsed
    ideal = concurrency / (per_lead * args.latency_ms / 1000)
    say(f"--- bulk {args.leads:,} leads, sandbox_a,b,c at {args.latency_ms:.0f} ms, "
        f"hit rate {args.hit_rate:.0%} each")  # fmt: skip
    say(f"status            {body['status']} ({body['found_emails']} emails found)")
    say(f"calls per lead    {per_lead:.2f} ({calls} calls)")
    say(f"concurrency       {concurrency} = {args.processes} processes x min({threads} threads, "
        f"chunk {chunk})")  # fmt: skip
    say(f"elapsed           {elapsed:.1f} s ({load()})")
    say(f"achieved          {achieved:,.0f} leads/s")
    say(f"ideal             {ideal:,.0f} leads/s = {concurrency} / ({per_lead:.2f} x "
        f"{args.latency_ms / 1000:.3f} s)")  # fmt: skip
    say(f"ratio             {achieved / ideal:.3f} (goal ≥ 0.97) ({load()})")
    _timeline(workflow_id, posted_at, args.latency_ms / 1000, elapsed)
    say(f"worker log        {worker.log}")


def _timeline(workflow_id: str, posted_at: float, latency: float, elapsed: float) -> None:
    """Where the run's start and end went, in seconds after the POST was sent: from the
    workflow's and items' timestamps and the call records (a call started its latency before
    it was recorded)."""
    from django.db.models import Max, Min

    from enrichment.models import Workflow, WorkflowItem
    from providers.models import ProviderCall

    workflow = Workflow.objects.get(pk=workflow_id)
    items = WorkflowItem.objects.filter(workflow_id=workflow_id).aggregate(
        first_claim=Min("claimed_at"), last_lease=Max("claimed_at"), last_done=Max("finished_at")
    )
    calls = ProviderCall.objects.filter(tag=workflow_id, cached=False).aggregate(
        first=Min("created_at"), last=Max("created_at")
    )

    def at(moment, minus: float = 0.0) -> str:
        return f"{moment.timestamp() - minus - posted_at:6.2f} s" if moment else "     ?"

    say("timeline (after the POST was sent)")
    say(f"  workflow created  {at(workflow.created_at)}")
    say(f"  planner started   {at(workflow.started_at)}")
    say(f"  first claim       {at(items['first_claim'])}")
    say(f"  first call began  {at(calls['first'], latency)}")
    # A claim's lease renewal moves `claimed_at` too: this is the last claim or renewal.
    say(f"  last lease        {at(items['last_lease'])}")
    say(f"  last call ended   {at(calls['last'])}")
    say(f"  last item written {at(items['last_done'])}")
    say(f"  settled           {at(workflow.finished_at)}")
    say(f"  seen by the poll  {elapsed:6.2f} s")


if __name__ == "__main__":
    main()
