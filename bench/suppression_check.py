"""Benchmark: what the suppression list costs the waterfall (leads/suppression.py).

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/suppression_check.py \
        [--leads 20000] [--entries 100000] [--chunk 500]

Imports `--leads` synthetic leads, fills the workspace's list with `--entries` entries (one in
ten of them covering an imported lead), then times the check the waterfall runs per chunk
(`leads_suppressed` over `--chunk` leads: keyed hashes of every identifier, one query) and prints
milliseconds per chunk and microseconds per lead, next to the machine's load. For scale: a
chunk of 500 leads spends seconds in provider calls.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import bench_env, import_leads, load, make_tenant, say, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=500)
    args = parser.parse_args()

    setup_django(bench_env("suppression"))
    from leads import suppression
    from leads.models import Lead

    tenant = make_tenant(credits=0)
    import_leads(tenant, args.leads)
    leads = list(Lead.objects.filter(workspace=tenant.workspace).order_by("id"))
    # one entry (the first identifier) for every tenth lead
    covered = [suppression.lead_person_entries(lead)[0] for lead in leads[::10]]
    covered = covered[: args.entries // 10]
    others = [
        suppression.Entry(suppression.Kind.EMAIL, f"nobody{i}@elsewhere.example")
        for i in range(args.entries - len(covered))
    ]
    started = time.perf_counter()
    for start in range(0, len(covered) + len(others), 10_000):
        batch = (covered + others)[start : start + 10_000]
        suppression.suppressions_add(workspace=tenant.workspace, entries=batch)
    add_s = time.perf_counter() - started

    timings, hits = [], 0
    for start in range(0, len(leads), args.chunk):
        chunk = leads[start : start + args.chunk]
        began = time.perf_counter()
        hits += len(suppression.leads_suppressed(workspace_id=tenant.workspace.pk, leads=chunk))
        timings.append(time.perf_counter() - began)

    per_chunk_ms = statistics.median(timings) * 1000
    say(f"entries added: {args.entries} in {add_s:.2f} s ({load()})")
    say(
        f"check: {len(timings)} chunks of {args.chunk}, median {per_chunk_ms:.1f} ms per chunk, "
        f"{per_chunk_ms * 1000 / args.chunk:.0f} µs per lead, {hits} leads suppressed ({load()})"
    )


if __name__ == "__main__":
    main()
