"""Import benchmark: 100,000 CSV rows through the HTTP API on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sluice python bench/import_100k.py [--rows N]

Uses a dedicated database (`sluice_bench` on the same server, created and migrated here), starts
a real gunicorn server, creates a workspace, an API key and a list through the services, writes
a synthetic CSV to a temporary directory and POSTs it to `/api/v2/lead-lists/{id}/import` with
`requests`. Then it posts the same file again (every row now matches an existing lead). It
prints figures; it asserts nothing. Goal: the first import under 10 s.
"""

import argparse
import csv
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "sluice_bench"


def _bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL must point at PostgreSQL (the bench uses its own database on it).")
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description="Import benchmark through the HTTP API.")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": _bench_database_url(),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "SLUICE_VAR_DIR": str(work / "var"),
        "SLUICE_RATE_LIMIT_PER_KEY": "100000/min",
        "SLUICE_RATE_LIMIT_PER_WORKSPACE": "100000/min",
        "SLUICE_LOG_LEVEL": "WARNING",
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    # Workspace, key and list through the services, in this process, on the bench database.
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from accounts.services import api_key_create, workspace_create
    from leads.imports import _lead_list_by_name

    workspace = workspace_create(name=f"bench-{int(time.time())}")
    _, raw_key = api_key_create(workspace=workspace, scopes=["lists:write"], name="bench")
    lead_list = _lead_list_by_name(workspace=workspace, name="bench 100k")

    csv_path = work / "leads.csv"
    started = time.perf_counter()
    write_csv(csv_path, args.rows)
    size_mb = csv_path.stat().st_size / 1e6
    print(f"generated {args.rows} rows ({size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s")

    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(python).with_name("gunicorn")),
            "config.wsgi:application",
            "--bind", f"127.0.0.1:{port}",
            "--workers", "2",
            "--timeout", "600",
            "--log-level", "warning",
        ],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/v2"
    headers = {"Authorization": f"Bearer {raw_key}"}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/schema", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("gunicorn did not start")
            time.sleep(0.2)

        for label in ("first import (new leads)", "second import (all rows match)"):
            with csv_path.open("rb") as handle:
                started = time.perf_counter()
                response = requests.post(
                    f"{base}/lead-lists/{lead_list.pk}/import",
                    headers=headers,
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
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
