"""Benchmark 4: status polling under load, side by side with a trivial authenticated view.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/status_polling.py [--seconds 10]

Needs `wrk` (Debian/Ubuntu: `apt-get install -y wrk`; macOS: `brew install wrk`); without it
the benchmark says so and is skipped. On its own database (`<db>_status`): a real
gunicorn (sync workers, 2 x cores by default) with the per-key and per-workspace request limits
set out of reach; a workflow of a 1,000-lead list left running (no Celery worker), whose
GET /enrichment/status/{id} wrk hits with a valid key. The reference is GET /whoami with the
same key: the cheapest view that goes through the same authentication, scope check, throttles
and usage accounting (`/healthz`, when there is one, skips all of those, so it would measure the
middleware, not the view). Rounds alternate reference, status, reference, status, … and the
ratio is of the mean req/s (goal ≥ 0.9).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess

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


def wrk(url: str, key: str, *, seconds: int, connections: int, threads: int) -> float:
    result = subprocess.run(
        [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
            "-H", f"Authorization: Bearer {key}", url,
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out = result.stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors for {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per endpoint")
    parser.add_argument("--web-workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        say("status polling: skipped, `wrk` is not installed "
            "(Debian/Ubuntu: apt-get install -y wrk; macOS: brew install wrk)")  # fmt: skip
        return

    env = bench_env("status")
    setup_django(env)
    purge_queue()
    tenant = make_tenant()
    import_leads(tenant, 1000)
    server = start_gunicorn(env, workers=args.web_workers)
    try:
        workflow_id = bulk_start(server, tenant, quote(server, tenant))["workflow_id"]
        urls = {
            "whoami": f"{server.base}/whoami",
            "status": f"{server.base}/enrichment/status/{workflow_id}",
        }
        rates: dict[str, list[float]] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():
                rate = wrk(
                    url, tenant.raw_key, seconds=args.seconds,
                    connections=args.connections, threads=2,
                )  # fmt: skip
                rates[name].append(rate)
                say(f"  {name:7} {rate:8,.0f} req/s ({load()})")
    finally:
        server.stop()
        purge_queue()

    whoami, status = (statistics.mean(rates[name]) for name in ("whoami", "status"))
    say(f"--- polling with wrk, {args.connections} connections, gunicorn {args.web_workers} "
        f"sync workers, {args.rounds} x {args.seconds} s per endpoint")  # fmt: skip
    say(f"GET /whoami               {whoami:,.0f} req/s (reference)")
    say(f"GET /enrichment/status/…  {status:,.0f} req/s")
    say(f"ratio                     {status / whoami:.2f} (goal ≥ 0.9) ({load()})")


if __name__ == "__main__":
    main()
