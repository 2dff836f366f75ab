"""A million leads: import time, then the run at 1,000,000 against the same run at 100,000
(linear?), the workers' peak RSS at both sizes, and what a run does once per run (plan, the
end of the run) at both sizes.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bulk_1m.py [--leads N] [--base N]

On its own database (`<db>_million`): imports `--base` synthetic leads into one list and
`--leads` into another (different people; through the import pipeline, COPY on PostgreSQL),
starts a real gunicorn (2 workers) and one real Celery worker (prefork, 2 processes) for both
runs, and POSTs /enrichment/bulk (sandbox, latency 0) on the small list, then on the large one,
polling the status API until `completed`. The large import happens after the small run, so the
small run sees the tables it would see without the million. Prints the import of the large list
(goal ≤ 60 s at 1M), each run's POST → completed, the ratio of the two runs (goal ≤ 10.5 at
10 x the leads), the peak RSS of the worker's processes during each run (goal ≤ 1.1 x), and per
run: the quote, the POST, the planning (POST → `planned`) and the tail (last item finished →
run settled). A 1M run takes minutes on two shared cores: use a smaller `--leads` while
developing (`--leads 200000 --base 20000`).
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import requests
from _common import (
    CpuAccount,
    RssSampler,
    analyze,
    bench_env,
    database_backend_cpu,
    load,
    make_tenant,
    purge_queue,
    say,
    setup_django,
    start_gunicorn,
    start_worker,
    write_leads_csv,
)


def _import(tenant, rows: int, *, tag: str):
    """A new list of `rows` leads through the import pipeline; returns it and the seconds the
    import took (the CSV is written before the clock starts)."""
    from leads.imports import leads_import_file
    from leads.services import lead_list_create

    lead_list = lead_list_create(workspace=tenant.workspace, name=f"bench {tag}")[0]
    path = Path(tempfile.mkdtemp(prefix="sluice-bench-csv-")) / "leads.csv"
    write_leads_csv(path, rows, seed=tag, tag=tag)
    backend = _backend_pid()
    cpu, backend_cpu = time.process_time(), database_backend_cpu(backend)
    started = time.perf_counter()
    with path.open("rb") as handle:
        result = leads_import_file(workspace=tenant.workspace, lead_list=lead_list, stream=handle)
    seconds = time.perf_counter() - started
    say(f"  import of {rows:,}: this process {time.process_time() - cpu:.1f} CPU-s, its "
        f"PostgreSQL backend {database_backend_cpu(backend) - backend_cpu:.1f} CPU-s")  # fmt: skip
    path.unlink()
    if result.rows_imported != rows:
        sys.exit(f"import created {result.rows_imported} leads, wanted {rows}")
    analyze()
    return lead_list, seconds


def _backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _post(server, tenant, path: str, body: dict) -> tuple[dict, float]:
    started = time.perf_counter()
    response = requests.post(f"{server.base}{path}", headers=tenant.headers, json=body, timeout=600)
    seconds = time.perf_counter() - started
    if response.status_code not in (200, 202):
        sys.exit(f"{path} answered {response.status_code}: {response.text[:500]}")
    return response.json(), seconds


def _run(server, tenant, worker, lead_list, *, timeout: float) -> dict:
    """Quote, POST, poll until terminal; the figures of one run."""
    from django.db.models import Max, Min

    from enrichment.models import Workflow, WorkflowItem

    body = {"tool": "enrich_list", "list_id": str(lead_list.pk), "scope": "partial"}
    quoted, quote_s = _post(server, tenant, "/credits/estimate", body)
    start = {"list_id": str(lead_list.pk), "scope": "partial", "quote_id": quoted["quote_id"]}
    planned_s = None
    last_print = time.monotonic()
    with RssSampler(worker) as rss, CpuAccount(worker, web=server) as cpu:
        started = time.perf_counter()
        answer, post_s = _post(server, tenant, "/enrichment/bulk", start)
        workflow_id = answer["workflow_id"]
        deadline = time.monotonic() + timeout
        while True:
            status = requests.get(
                f"{server.base}/enrichment/status/{workflow_id}", headers=tenant.headers, timeout=60
            ).json()
            if planned_s is None and Workflow.objects.filter(pk=workflow_id, planned=True).exists():
                planned_s = time.perf_counter() - started
            if status["status"] in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                sys.exit(f"{workflow_id} not done after {timeout:.0f} s: {status}")
            if time.monotonic() - last_print > 15:
                last_print = time.monotonic()
                say(f"  … {status['processed']:,}/{status['total']:,} processed ({load()})")
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
    workflow = Workflow.objects.get(pk=workflow_id)
    written = WorkflowItem.objects.filter(workflow_id=workflow_id).aggregate(
        first=Min("finished_at"), last=Max("finished_at")
    )
    first_item, last_item = written["first"], written["last"]
    return {
        "status": status,
        "elapsed": elapsed,
        "server": (workflow.finished_at - workflow.created_at).total_seconds(),
        "quote": quote_s,
        "post": post_s,
        "planned": planned_s,
        # The plan is sent in batches: its first chunks are written before it is all planned.
        "first": (first_item - workflow.created_at).total_seconds() if first_item else None,
        "tail": (workflow.finished_at - last_item).total_seconds() if last_item else None,
        "rss": rss.peak_total,
        "pss": rss.peak_pss_total,
        "cpu": cpu,
    }


def _export(lead_list) -> tuple[float, int, float]:
    """The large list written out as CSV (leads.exports, keyset batches): seconds, rows, and
    how much this process's peak RSS grew while it ran (MB; 0 when below the earlier peak)."""
    from leads.exports import DEFAULT_COLUMNS, write_csv

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    path = Path(tempfile.mkdtemp(prefix="sluice-bench-export-")) / "export.csv"
    started = time.perf_counter()
    rows = write_csv(lead_list=lead_list, columns=list(DEFAULT_COLUMNS), path=path)
    seconds = time.perf_counter() - started
    path.unlink()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    return seconds, rows, grown


def _line(name: str, leads: int, run: dict) -> None:
    status = run["status"]
    planned = f"{run['planned']:.1f} s" if run["planned"] is not None else "?"
    first = f"{run['first']:.1f} s" if run["first"] is not None else "?"
    tail = f"{run['tail']:.2f} s" if run["tail"] is not None else "?"
    say(f"{name:5} {leads:>9,} leads: {status['status']}, {status['processed']:,} processed, "
        f"{status['found_emails']:,} emails; POST → completed {run['elapsed']:.1f} s "
        f"({leads / run['elapsed']:,.0f} leads/s; server side {run['server']:.1f} s); "
        f"quote {run['quote'] * 1000:.0f} ms, POST {run['post'] * 1000:.0f} ms, "
        f"first item written after {first}, planned after {planned}, "
        f"tail (last item → settled) {tail}; "
        f"peak RSS {run['rss']:.0f} MB (PSS {run['pss']:.0f} MB)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--base", type=int, default=100_000, help="the run it is compared with")
    parser.add_argument("--processes", type=int, default=2, help="worker pool processes")
    args = parser.parse_args()

    env = bench_env("million", SLUICE_SANDBOX_LATENCY_MS="0")
    setup_django(env)
    purge_queue()
    tenant = make_tenant(credits=10 * (args.leads + args.base))
    base_list, base_import = _import(tenant, args.base, tag="b")
    say(f"imported {args.base:,} leads in {base_import:.1f} s ({load()})")

    server = start_gunicorn(env, workers=2)
    worker = start_worker(env, concurrency=args.processes)
    try:
        say(f"run {args.base:,} ({load()})")
        base = _run(server, tenant, worker, base_list, timeout=3600)
        _line("base", args.base, base)
        big_list, big_import = _import(tenant, args.leads, tag="m")
        say(f"imported {args.leads:,} leads in {big_import:.1f} s "
            f"({args.leads / big_import:,.0f} rows/s) ({load()})")  # fmt: skip
        say(f"run {args.leads:,} ({load()})")
        big = _run(server, tenant, worker, big_list, timeout=4 * 3600)
        _line("large", args.leads, big)
        export = _export(big_list)
    finally:
        worker.stop()
        server.stop()
        purge_queue()

    scale = args.leads / args.base
    say(f"--- {args.leads:,} leads vs {args.base:,} (x{scale:g}), sandbox latency 0, "
        f"{args.processes} worker processes")  # fmt: skip
    say(f"import {args.leads:,}     {big_import:.1f} s (goal ≤ 60 s at 1M); "
        f"{args.base:,}: {base_import:.1f} s, ratio {big_import / base_import:.1f}")  # fmt: skip
    ratio = big["elapsed"] / base["elapsed"]
    say(f"run                  {base['elapsed']:.1f} s → {big['elapsed']:.1f} s, ratio "
        f"{ratio:.2f} (goal ≤ {1.05 * scale:g}: linear + 5 %)")  # fmt: skip
    # Per lead, which side pays more at the larger size: the worker's Python, or PostgreSQL.
    for name, key in (
        ("worker", "worker_s"),
        ("PostgreSQL", "postgres_s"),
        ("machine", "machine_s"),
    ):
        small, large = getattr(base["cpu"], key) / args.base, getattr(big["cpu"], key) / args.leads
        say(f"CPU per lead, {name:10} {small * 1e6:.0f} µs → {large * 1e6:.0f} µs, ratio "
            f"{large / small:.2f}")  # fmt: skip
    # ... and by process: PostgreSQL's backends of this database against its background
    # (autovacuum, the checkpointer, the WAL writer) and the backends that ended meanwhile.
    for part, small_s in base["cpu"].parts.items():
        small, large = small_s / args.base, big["cpu"].parts.get(part, 0.0) / args.leads
        say(f"  {part:27} {small * 1e6:5.1f} µs → {large * 1e6:5.1f} µs")
    say(f"worker peak RSS      {base['rss']:.0f} MB → {big['rss']:.0f} MB, ratio "
        f"{big['rss'] / base['rss']:.2f} (goal ≤ 1.1)")  # fmt: skip
    say(f"planning             {base['planned'] or 0:.1f} s → {big['planned'] or 0:.1f} s "
        "(POST → planned)")  # fmt: skip
    say(f"first item written   {base['first'] or 0:.1f} s → {big['first'] or 0:.1f} s "
        "(workflow created → first item written)")  # fmt: skip
    say(f"tail                 {base['tail'] or 0:.2f} s → {big['tail'] or 0:.2f} s "
        "(last item → settled)")  # fmt: skip
    seconds, rows, grown = export
    say(f"export {rows:,} rows  {seconds:.1f} s as CSV ({rows / seconds:,.0f} rows/s), "
        f"peak RSS of this process grew {grown:.0f} MB")  # fmt: skip
    say(f"load now             {load()}")


if __name__ == "__main__":
    main()
