"""Profiles the worker's side of a bulk run in this process with cProfile: planning a list and
running its chunks exactly as the Celery tasks do (same service functions), no broker involved.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/profile_chunk.py [--leads 5000]

Prints wall time per phase and the top functions by cumulative time, and the CPU seconds the
chunks cost this process and PostgreSQL (the backends of this process's connections). With
`--rerun`, the same list is run again with `output: overwrite` (every answer from the result
cache) and only that run is measured. Uses `<db>_profile`.
"""

import argparse
import cProfile
import pstats
import time

from _common import (
    bench_env,
    database_backend_cpu,
    import_leads,
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
    parser.add_argument(
        "--statements",
        action="store_true",
        help="PostgreSQL CPU and wall time per kind of statement (implies --no-profile)",
    )
    parser.add_argument(
        "--rerun",
        action="store_true",
        help="run the list once unmeasured, then measure it again with output: overwrite",
    )
    args = parser.parse_args()
    args.no_profile = args.no_profile or args.phases or args.statements

    setup_django(bench_env("profile", SLUICE_SANDBOX_LATENCY_MS="0"))
    purge_queue()
    tenant = make_tenant()
    import_leads(tenant, args.leads)

    from enrichment.services import execution

    if args.rerun:
        workflow = _start(tenant, "skip_existing")
        execution._insert_items(workflow)
        workflow.refresh_from_db()
        for chunk_no in range(workflow.chunk_count):
            execution.chunk_run(workflow_id=workflow.pk, chunk_no=chunk_no)
    workflow = _start(tenant, "overwrite" if args.rerun else "skip_existing")

    phases = _time_phases() if args.phases else None
    statements = _time_statements() if args.statements else None
    profiler = cProfile.Profile()
    cpu = _CpuSeconds()
    started = time.perf_counter()
    if not args.no_profile:
        profiler.enable()
    execution._insert_items(workflow)
    planned = time.perf_counter()
    workflow.refresh_from_db()
    cpu.start()
    for chunk_no in range(workflow.chunk_count):
        execution.chunk_run(workflow_id=workflow.pk, chunk_no=chunk_no)
    cpu.stop()
    profiler.disable()
    done = time.perf_counter()
    purge_queue()
    workflow.refresh_from_db()
    say(f"{workflow.status}{' (rerun, overwrite)' if args.rerun else ''}: "
        f"plan {planned - started:.2f} s, chunks {done - planned:.2f} s "
        f"= {args.leads / (done - started):,.0f} leads/s "
        f"({'not ' if args.no_profile else ''}profiled)")  # fmt: skip
    say(f"chunks' CPU: this process {cpu.process_s:.2f} s "
        f"({1e6 * cpu.process_s / args.leads:.0f} µs a lead), PostgreSQL backends "
        f"{cpu.backends_s:.2f} s ({1e6 * cpu.backends_s / args.leads:.0f} µs a lead)")  # fmt: skip
    if phases is not None:
        total = done - planned
        say(
            "  phase (nested phases count in both; garbage collection on its own line): "
            "wall s, share, this thread's CPU s"
        )
        for name, (calls, seconds, cpu_s) in sorted(phases.items(), key=lambda kv: -kv[1][1]):
            say(f"  {name:40} {seconds:7.2f} s  {100 * seconds / total:5.1f} %  "
                f"CPU {cpu_s:5.2f} s  ({calls} calls)")  # fmt: skip
    if statements is not None:
        say("  PostgreSQL per statement: backend CPU s, wall s, calls (COPY: rows streamed)")
        ranked = sorted(statements.items(), key=lambda kv: -kv[1][1])
        say(f"  {sum(v[1] for v in statements.values()):6.2f} "
            f"{sum(v[2] for v in statements.values()):6.2f}  in all")  # fmt: skip
        for text, (calls, cpu_s, wall_s) in ranked[: args.top]:
            say(f"  {cpu_s:6.2f} {wall_s:6.2f} {calls:6}  {text}")
    if not args.no_profile:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


def _start(tenant, output: str):
    from credits.services import quote_create
    from enrichment.services.start import bulk_enrichment_start

    params = {"list_id": str(tenant.lead_list.pk), "enrichment_type": "partial"}
    if output != "skip_existing":
        params["output"] = output
    estimate = quote_create(workspace=tenant.workspace, tool="enrich_list", params=params)
    workflow = bulk_enrichment_start(
        workspace=tenant.workspace,
        list_id=tenant.lead_list.pk,
        enrichment_type="partial",
        output=output,
        quote_id=estimate.quote.quote_id,
    ).workflow
    purge_queue()  # the plan task the start enqueued: we run the services ourselves
    return workflow


class _CpuSeconds:
    """CPU seconds of this process and of the PostgreSQL backends connected to the benchmark's
    database (only this process connects to it) that lived through the measure: the lease's
    short-lived connections are not counted."""

    process_s = 0.0
    backends_s = 0.0

    def start(self) -> None:
        self._process = time.process_time()
        self._backends = self._read_backends()

    def stop(self) -> None:
        self.process_s = time.process_time() - self._process
        end = self._read_backends()
        self.backends_s = sum(end[pid] - self._backends.get(pid, 0.0) for pid in end)

    @staticmethod
    def _read_backends() -> dict[int, float]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend'"
            )
            pids = [row[0] for row in cursor.fetchall()]
        return {pid: database_backend_cpu(pid) for pid in pids}


def _time_statements() -> dict[str, list]:
    """Per kind of statement (its first words), this connection's backend CPU seconds (from
    /proc: clock ticks, so only sums over many statements mean anything) and wall seconds,
    filled as the chunks run. COPYs (common.bulk) count under "COPY <table>"."""
    import re

    from django.db import connection

    import common.bulk

    totals: dict[str, list] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def account(text: str, run):
        key = re.sub(r'"s\d+_x\d+"', "<name>", re.sub(r"\s+", " ", text))[:90]
        cpu, wall = database_backend_cpu(backend), time.perf_counter()
        try:
            return run()
        finally:
            entry = totals.setdefault(key, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += database_backend_cpu(backend) - cpu
            entry[2] += time.perf_counter() - wall

    def wrapper(execute, sql, params, many, context):
        return account(sql, lambda: execute(sql, params, many, context))

    copy_tuples = common.bulk._copy_tuples

    def timed_copy(cursor, table, fields, rows):
        return account(f"COPY {table}", lambda: copy_tuples(cursor, table, fields, rows))

    common.bulk._copy_tuples = timed_copy
    connection.execute_wrappers.append(wrapper)
    return totals


def _time_phases() -> dict[str, list]:
    """Wraps the chunk's phases (module functions the chunk calls by attribute) with timers of
    the wall clock and of this connection's PostgreSQL backend; returns the totals, filled as
    the chunks run. Nested phases count in both."""
    import functools
    import importlib

    targets = [
        ("enrichment.services.execution", "_claim"),
        ("enrichment.services.execution", "_claim_rows"),
        ("enrichment.services.execution", "_claim_budget"),
        ("enrichment.services.execution", "_record"),
        ("enrichment.services.execution", "workflow_transition"),
        ("enrichment.services.execution", "workflow_settle_if_done"),
        ("enrichment.services.execution", "workflow_settle_when_done"),
        ("enrichment.services.execution", "workflow_for_chunk"),
        ("enrichment.services.leases", "lease_keep"),
        ("enrichment.services.leases", "claim_heartbeat"),
        ("enrichment.waterfall", "chunk_rows"),
        ("enrichment.waterfall", "plan_for"),
        ("enrichment.waterfall", "person_input"),
        ("enrichment.waterfall", "run_slices"),
        ("enrichment.waterfall", "run_waterfall"),
        ("enrichment.waterfall", "_withhold_found_suppressed"),
        ("leads.suppression", "leads_suppressed"),
        ("providers.engine", "iter_batch"),
        ("providers.engine", "cache_lookup"),
        ("providers.engine", "cache_store_many"),
        ("providers.engine", "calls_record"),
        ("providers.engine", "WaterfallEngine._run_person"),
        ("providers.engine", "WaterfallEngine._prepare"),
        ("providers.engine", "WaterfallEngine._flush"),
        ("enrichment.waterfall", "LeadOutcome.apply_to_item"),
        ("enrichment.waterfall", "LeadOutcome.apply_to_lead"),
        ("providers.engine", "active_marks"),
        ("enrichment.services.execution", "rows_update"),
        ("enrichment.services.execution", "rows_update_linked"),
    ]
    import gc
    import threading

    totals: dict[str, list] = {}
    # The garbage collector runs in whichever phase happens to allocate past its threshold, so
    # a phase's CPU would carry collections of objects made anywhere: its own line instead.
    collected = {"gc (its own line, not in the phases')": [0, 0.0, 0.0]}
    gc_cpu: dict[int, float] = {}
    gc_started: dict[int, tuple[float, float]] = {}

    def account_gc(phase, info):
        thread = threading.get_ident()
        if phase == "start":
            gc_started[thread] = (time.perf_counter(), time.thread_time())
        elif thread in gc_started:
            wall, cpu = gc_started.pop(thread)
            spent = time.thread_time() - cpu
            gc_cpu[thread] = gc_cpu.get(thread, 0.0) + spent
            line = collected["gc (its own line, not in the phases')"]
            line[0] += 1
            line[1] += time.perf_counter() - wall
            line[2] += spent

    gc.callbacks.append(account_gc)
    for module_name, attr in targets:
        module = importlib.import_module(module_name)
        owner_name, _, attr = attr.rpartition(".")
        owner = getattr(module, owner_name) if owner_name else module
        func = getattr(owner, attr, None)
        if func is None:
            continue
        key = f"{module_name.rsplit('.', 1)[-1]}.{owner_name + '.' if owner_name else ''}{attr}"
        totals[key] = [0, 0.0, 0.0]

        def timed(*a, __func=func, __key=key, **kw):
            thread = threading.get_ident()
            started, cpu = time.perf_counter(), time.thread_time()
            gc_before = gc_cpu.get(thread, 0.0)
            try:
                return __func(*a, **kw)
            finally:
                if a and isinstance(a[0], type):  # rows_update(Model, …): one line per model
                    __key = f"{__key}({a[0].__name__})"
                    totals.setdefault(__key, [0, 0.0, 0.0])
                in_gc = gc_cpu.get(thread, 0.0) - gc_before
                totals[__key][0] += 1
                totals[__key][1] += time.perf_counter() - started - in_gc
                totals[__key][2] += time.thread_time() - cpu - in_gc

        setattr(owner, attr, functools.wraps(func)(timed))
    totals.update(collected)
    return totals


if __name__ == "__main__":
    main()
