"""Import benchmark: 100,000 CSV rows through the HTTP API on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sluice python bench/import_100k.py [--rows N]

Uses a dedicated database (`<db>_import`, recreated and migrated here), starts
a real gunicorn server, creates a workspace, an API key and a list through the services, writes
a synthetic CSV to a temporary directory and POSTs it to `/api/v2/lead-lists/{id}/import` with
`requests`. Then it posts the same file again (every row now matches an existing lead). It
prints figures, with the CPU seconds each import cost (gunicorn's processes, every PostgreSQL
backend of the server, the whole machine) and the machine's load; it asserts nothing. Goal: the
first import under 10 s (and 1,000,000 rows under 60 s: bench/bulk_1m.py).

`--in-process` imports through `leads_import_file` in this process instead (no HTTP, the CSV of
bench/bulk_1m.py with `--bulk-csv`), and prints the CPU seconds of this process and of its own
PostgreSQL backend, which other sessions' work on the server does not blur; `--statements`
adds wall and backend CPU per kind of statement, the COPY writer's whole `write` and the
commit (where the deferred foreign-key checks run).
"""

import argparse
import csv
import random
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import requests
from _common import (
    CpuAccount,
    bench_env,
    database_backend_cpu,
    load,
    make_tenant,
    setup_django,
    start_gunicorn,
    write_leads_csv,
)


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    firsts = ["Ada", "Grace", "Alan", "Linus", "Barbara", "Edsger", "Margaret", "Ken", "Frances"]
    lasts = ["Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Dijkstra", "Hamilton", "Allen"]
    titles = ["CEO", "CTO", "VP Sales", "Head of Growth", "Account Executive", "Engineer"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["First Name", "Last Name", "Job Title", "Company", "Website", "LinkedIn URL",
             "Email", "Phone", "City", "Industry"]
        )  # fmt: skip
        for i in range(rows):
            first, last = rng.choice(firsts), rng.choice(lasts)
            company = f"Company {i % 20000}"
            domain = f"company{i % 20000}.example"
            linkedin = f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}-{i}/"
            writer.writerow(
                [
                    first,
                    last,
                    rng.choice(titles),
                    company,
                    f"https://www.{domain}",
                    linkedin if rng.random() < 0.85 else "",
                    f"{first.lower()}.{i}@{domain}" if rng.random() < 0.2 else "",
                    f"+1 415 555 {i % 10000:04d}" if rng.random() < 0.05 else "",
                    "Springfield",
                    "Software",
                ]
            )


class _Statements:
    """Wall and backend CPU seconds per kind of statement (its first words), of the COPY
    writer's `write` as a whole and of the commit, on this process's connection."""

    def __init__(self, backend: int) -> None:
        self.backend = backend
        self.seconds: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])

    def _add(self, kind: str, wall: float, cpu: float) -> None:
        entry = self.seconds[kind]
        entry[0] += time.perf_counter() - wall
        entry[1] += database_backend_cpu(self.backend) - cpu
        entry[2] += 1

    def timed(self, kind: str, call, *args, **kwargs):
        wall, cpu = time.perf_counter(), database_backend_cpu(self.backend)
        try:
            return call(*args, **kwargs)
        finally:
            self._add(kind, wall, cpu)

    def __call__(self, execute, sql, params, many, context):
        return self.timed(" ".join(sql.split()[:4])[:50], execute, sql, params, many, context)

    def attach(self, stack: ExitStack) -> None:
        from django.db import connection

        from leads.imports import writers

        stack.enter_context(connection.execute_wrapper(self))
        write = writers.PostgresCopyWriter.write
        commit = connection._commit

        def timed_write(writer, records, prepared=None):
            return self.timed("(COPY writer: write, in all)", write, writer, records, prepared)

        writers.PostgresCopyWriter.write = timed_write  # type: ignore[method-assign]
        connection._commit = lambda: self.timed("(commit)", commit)  # type: ignore[method-assign]
        stack.callback(setattr, writers.PostgresCopyWriter, "write", write)
        stack.callback(setattr, connection, "_commit", commit)

    def print(self) -> None:
        for kind, (wall, cpu, count) in sorted(self.seconds.items(), key=lambda kv: -kv[1][1]):
            print(f"  {cpu:7.2f} CPU-s  {wall:7.2f} s  x{count:<5} {kind}")


def _in_process(args, tenant, lead_list, csv_path: Path) -> None:
    """The imports through `leads_import_file` in this process, with its CPU and its backend's."""
    from django.db import connection

    from leads.imports import leads_import_file

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    labels = ("first import (new leads)", "second import (all rows match)")
    for label in labels[: 1 if args.once else 2]:
        statements = _Statements(backend)
        with ExitStack() as stack:
            if args.statements:
                statements.attach(stack)
            handle = stack.enter_context(csv_path.open("rb"))
            cpu, backend_cpu = time.process_time(), database_backend_cpu(backend)
            started = time.perf_counter()
            result = leads_import_file(
                workspace=tenant.workspace, lead_list=lead_list, stream=handle
            )
            seconds = time.perf_counter() - started
            cpu, backend_cpu = (
                time.process_time() - cpu,
                database_backend_cpu(backend) - backend_cpu,
            )
        print(
            f"{label}: {result.rows_parsed} rows in {seconds:.2f} s = "
            f"{result.rows_parsed / seconds:,.0f} rows/s (new {result.rows_imported}, matched "
            f"{result.rows_updated}, merged {result.rows_merged}, added to list "
            f"{result.rows_added_to_list}, skipped {result.rows_skipped})"
        )
        print(f"  cores: this process {cpu:.2f} s, its backend {backend_cpu:.2f} s; {load()}")
        if args.statements:
            statements.print()


def main() -> int:
    parser = argparse.ArgumentParser(description="Import benchmark through the HTTP API.")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--in-process", action="store_true", help="no HTTP: leads_import_file")
    parser.add_argument("--statements", action="store_true", help="with --in-process")
    parser.add_argument("--bulk-csv", action="store_true", help="bench/bulk_1m.py's CSV")
    parser.add_argument("--once", action="store_true", help="with --in-process: no re-import")
    args = parser.parse_args()

    env = bench_env("import")
    setup_django(env)
    from leads.services import lead_list_create

    tenant = make_tenant(credits=0)
    lead_list = lead_list_create(workspace=tenant.workspace, name="bench 100k")[0]

    csv_path = Path(tempfile.mkdtemp(prefix="sluice-bench-")) / "leads.csv"
    started = time.perf_counter()
    if args.bulk_csv:
        write_leads_csv(csv_path, args.rows, seed="m", tag="m")
    else:
        write_csv(csv_path, args.rows)
    size_mb = csv_path.stat().st_size / 1e6
    print(f"generated {args.rows} rows ({size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s")
    if args.in_process:
        _in_process(args, tenant, lead_list, csv_path)
        return 0

    server = start_gunicorn(env, workers=2)
    try:
        for label in ("first import (new leads)", "second import (all rows match)"):
            with csv_path.open("rb") as handle, CpuAccount(server) as cpu:  # type: ignore[arg-type]
                started = time.perf_counter()
                response = requests.post(
                    f"{server.base}/lead-lists/{lead_list.pk}/import",
                    headers=tenant.headers,
                    files={"file": ("leads.csv", handle, "text/csv")},
                    timeout=600,
                )
                seconds = time.perf_counter() - started
            body = response.json()
            print(
                f"{label}: HTTP {response.status_code}, {body.get('rows_parsed')} rows in "
                f"{seconds:.2f} s = {body.get('rows_parsed', 0) / seconds:,.0f} rows/s "
                f"(new {body.get('rows_imported')}, matched {body.get('rows_updated')}, "
                f"merged {body.get('rows_merged')}, added to list "
                f"{body.get('rows_added_to_list')}, skipped {body.get('rows_skipped')})"
            )
            print(
                f"  cores: gunicorn {cpu.worker_s:.1f} s, PostgreSQL {cpu.postgres_s:.1f} s "
                f"(every backend), machine {cpu.machine_s:.1f} s; {load()}"
            )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
