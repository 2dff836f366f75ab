"""Profiles the worker's side of a bulk run in this process with cProfile: planning a list and
running its chunks exactly as the Celery tasks do (same service functions), no broker involved.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/profile_chunk.py [--leads 5000]

Prints wall time per phase and the top functions by cumulative time. Uses `<db>_profile`.
"""

import argparse
import cProfile
import pstats
import time

from _common import bench_env, import_leads, make_tenant, purge_queue, say, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--no-profile", action="store_true", help="wall time only")
    args = parser.parse_args()

    setup_django(bench_env("profile", SLUICE_SANDBOX_LATENCY_MS="0"))
    purge_queue()
    tenant = make_tenant()
    import_leads(tenant, args.leads)

    from credits.services import quote_create
    from enrichment.services import execution
    from enrichment.services.start import bulk_enrichment_start

    estimate = quote_create(
        workspace=tenant.workspace,
        tool="enrich_list",
        params={"list_id": str(tenant.lead_list.pk), "enrichment_type": "partial"},
    )
    workflow = bulk_enrichment_start(
        workspace=tenant.workspace,
        list_id=tenant.lead_list.pk,
        enrichment_type="partial",
        output="skip_existing",
        quote_id=estimate.quote.quote_id,
    ).workflow
    purge_queue()  # the plan task the start enqueued: we run the services ourselves

    profiler = cProfile.Profile()
    started = time.perf_counter()
    if not args.no_profile:
        profiler.enable()
    execution._insert_items(workflow)
    planned = time.perf_counter()
    workflow.refresh_from_db()
    for chunk_no in range(workflow.chunk_count):
        execution.chunk_run(workflow_id=workflow.pk, chunk_no=chunk_no)
    profiler.disable()
    done = time.perf_counter()
    purge_queue()
    workflow.refresh_from_db()
    say(f"{workflow.status}: plan {planned - started:.2f} s, chunks {done - planned:.2f} s "
        f"= {args.leads / (done - started):,.0f} leads/s "
        f"({'not ' if args.no_profile else ''}profiled)")  # fmt: skip
    if not args.no_profile:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
