"""Profiles the worker's side of a bulk run in this process with cProfile: planning a list and
running its chunks exactly as the Celery tasks do (same service functions), no broker involved.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/profile_chunk.py [--leads 5000]

Prints wall time per phase and the top functions by cumulative time. Uses `<db>_profile`.
"""

import argparse
import cProfile
import pstats
import time

from _common import (
    DatabaseCpu,
    bench_env,
    database_backend_cpu,
    import_leads,
    load,
    make_tenant,
    purge_queue,
    say,
    setup_django,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--no-profile", action="store_true", help="wall time only")
    parser.add_argument(
        "--phases", action="store_true", help="wall time per chunk phase (implies --no-profile)"
    )
    args = parser.parse_args()
    args.no_profile = args.no_profile or args.phases

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

    phases = _time_phases() if args.phases else None
    profiler = cProfile.Profile()
    started = time.perf_counter()
    if not args.no_profile:
        profiler.enable()
    execution._insert_items(workflow)
    planned = time.perf_counter()
    workflow.refresh_from_db()
    with DatabaseCpu() as database_cpu:
        for chunk_no in range(workflow.chunk_count):
            execution.chunk_run(workflow_id=workflow.pk, chunk_no=chunk_no)
    profiler.disable()
    done = time.perf_counter()
    purge_queue()
    workflow.refresh_from_db()
    say(f"{workflow.status}: plan {planned - started:.2f} s, chunks {done - planned:.2f} s "
        f"= {args.leads / (done - started):,.0f} leads/s "
        f"({'not ' if args.no_profile else ''}profiled)")  # fmt: skip
    say(f"PostgreSQL CPU of the chunks: {database_cpu.seconds:.2f} s "
        f"({1e6 * database_cpu.seconds / args.leads:.0f} µs a lead; this database's backends, "
        f"{database_cpu.backends} opened meanwhile) ({load()})")  # fmt: skip
    if phases is not None:
        total = done - planned
        say(f"  {'phase':40} {'wall':>7}  {'share':>7}  {'PostgreSQL CPU':>14}")
        for name, (calls, seconds, backend) in sorted(phases.items(), key=lambda kv: -kv[1][1]):
            say(f"  {name:40} {seconds:7.2f} s  {100 * seconds / total:5.1f} %  "
                f"{backend:12.2f} s  ({calls} calls)")  # fmt: skip
    if not args.no_profile:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


def _backend_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL backend of this thread's connection (0 before
    it connects): what a phase cost the database, whatever else runs on the machine."""
    from django.db import connection

    if connection.connection is None:
        return 0.0
    return database_backend_cpu(connection.connection.info.backend_pid)


def _time_phases() -> dict[str, list]:
    """Wraps the chunk's phases (module functions the chunk calls by attribute) with timers of
    the wall clock and of this connection's PostgreSQL backend; returns the totals, filled as
    the chunks run. Nested phases count in both."""
    import functools
    import importlib

    targets = [
        ("enrichment.services.execution", "_claim"),
        ("enrichment.services.execution", "_claim_budget"),
        ("enrichment.services.execution", "_record"),
        ("enrichment.services.execution", "workflow_transition"),
        ("enrichment.services.execution", "workflow_settle_if_done"),
        ("enrichment.services.leases", "lease_keep"),
        ("enrichment.services.leases", "claim_heartbeat"),
        ("enrichment.waterfall", "chunk_rows"),
        ("enrichment.waterfall", "run_slices"),
        ("enrichment.waterfall", "run_waterfall"),
        ("enrichment.waterfall", "_withhold_found_suppressed"),
        ("leads.suppression", "leads_suppressed"),
        ("providers.engine", "iter_batch"),
        ("providers.engine", "cache_lookup"),
        ("providers.engine", "cache_store_many"),
        ("providers.engine", "calls_record"),
        ("providers.engine", "active_marks"),
        ("enrichment.services.execution", "rows_update"),
    ]
    totals: dict[str, list] = {}
    for module_name, attr in targets:
        module = importlib.import_module(module_name)
        func = getattr(module, attr, None)
        if func is None:
            continue
        key = f"{module_name.rsplit('.', 1)[-1]}.{attr}"
        totals[key] = [0, 0.0, 0.0]

        def timed(*a, __func=func, __key=key, **kw):
            started, backend = time.perf_counter(), _backend_cpu()
            try:
                return __func(*a, **kw)
            finally:
                if a and isinstance(a[0], type):  # rows_update(Model, …): one line per model
                    __key = f"{__key}({a[0].__name__})"
                    totals.setdefault(__key, [0, 0.0, 0.0])
                totals[__key][0] += 1
                totals[__key][1] += time.perf_counter() - started
                totals[__key][2] += _backend_cpu() - backend

        setattr(module, attr, functools.wraps(func)(timed))
    return totals


if __name__ == "__main__":
    main()
