"""Import benchmark: 100,000 CSV rows through the HTTP API on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sluice python bench/import_100k.py [--rows N]

Uses a dedicated database (`<db>_import`, recreated and migrated here), starts
a real gunicorn server, creates a workspace, an API key and a list through the services, writes
a synthetic CSV to a temporary directory and POSTs it to `/api/v2/lead-lists/{id}/import` with
`requests`. Then it posts the same file again (every row now matches an existing lead). It
prints figures, with the CPU seconds each import cost (gunicorn's processes, every PostgreSQL
backend of the server, the whole machine) and the machine's load; it asserts nothing. Goal: the
first import under 10 s (and 1,000,000 rows under 60 s: bench/bulk_1m.py).
"""

import argparse
import csv
import random
import tempfile
import time
from pathlib import Path

import requests
from _common import CpuAccount, bench_env, load, make_tenant, setup_django, start_gunicorn


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


def main() -> int:
    parser = argparse.ArgumentParser(description="Import benchmark through the HTTP API.")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    env = bench_env("import")
    setup_django(env)
    from leads.services import lead_list_create

    tenant = make_tenant(credits=0)
    lead_list = lead_list_create(workspace=tenant.workspace, name="bench 100k")[0]

    csv_path = Path(tempfile.mkdtemp(prefix="sluice-bench-")) / "leads.csv"
    started = time.perf_counter()
    write_csv(csv_path, args.rows)
    size_mb = csv_path.stat().st_size / 1e6
    print(f"generated {args.rows} rows ({size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s")

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
