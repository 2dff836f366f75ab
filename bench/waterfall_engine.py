"""Benchmark: the waterfall engine over N people with three sandbox providers.

    python bench/waterfall_engine.py [--people 10000] [--latency-ms 100] [--threads 100]

Each sandbox instance answers after `--latency-ms`; `sandbox_a` finds 40 % of emails,
`sandbox_b` 40 % of the rest, `sandbox_c` 40 % of what is left (different people each, since the
instances hash differently). The result cache is off so every lookup is a real (sandboxed)
call; call records are written as in production. The ideal throughput is
threads / (calls per person x latency): what perfect overlap of the waits would give.
Uses the database and Redis from the environment (embedded SQLite when DATABASE_URL is unset).
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db.models import Sum  # noqa: E402

from providers.base import DataPoint, OutcomeKind, PersonInput  # noqa: E402
from providers.engine import run_batch  # noqa: E402
from providers.models import ProviderCall  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=1000, help="people per run_batch call")
    parser.add_argument("--hit-rate", type=float, default=0.4)
    parser.add_argument("--verify", action="store_true", help="also verify found emails")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    names = ["sandbox_a", "sandbox_b", "sandbox_c"]
    knobs = {"latency_ms": args.latency_ms, "email_hit_rate": args.hit_rate}
    settings.SLUICE_SANDBOX_INSTANCES = {"sandbox": {"latency_ms": args.latency_ms}} | {
        name: dict(knobs) for name in names
    }
    settings.SLUICE_WATERFALL_EMAIL = names
    settings.SLUICE_VERIFIER = "sandbox" if args.verify else ""
    settings.SLUICE_ENGINE_THREADS = args.threads
    settings.SLUICE_PROVIDER_CONCURRENCY = dict.fromkeys([*names, "sandbox"], args.threads)
    settings.SLUICE_RESULT_CACHE_TTL_S = 0
    tag = f"bench-{int(time.time())}"

    run_id = time.time_ns()
    people = [
        PersonInput(first_name=f"First{i}", last_name=f"Last{run_id}", domain=f"co{i % 997}.com")
        for i in range(args.people)
    ]
    found = calls = 0
    started = time.perf_counter()
    for start in range(0, len(people), args.chunk):
        results = run_batch(people[start : start + args.chunk], {DataPoint.EMAIL}, tag=tag)
        found += sum(1 for r in results if r.email)
        calls += sum(1 for r in results for a in r.attempts if a.outcome != OutcomeKind.SKIPPED)
    elapsed = time.perf_counter() - started

    recorded = ProviderCall.objects.filter(tag=tag).aggregate(n=Sum("calls"))["n"] or 0
    per_person = calls / len(people)
    achieved = len(people) / elapsed
    ideal = args.threads / (per_person * args.latency_ms / 1000)
    print(f"people            {len(people)}")
    print(f"providers         {', '.join(names)} at {args.latency_ms:.0f} ms"
          f"{' + sandbox verifier' if args.verify else ''}")  # fmt: skip
    print(f"threads           {args.threads} (chunks of {args.chunk})")
    print(f"emails found      {found} ({found / len(people):.1%})")
    print(f"calls per person  {per_person:.2f} ({calls} calls, {recorded} recorded)")
    print(f"elapsed           {elapsed:.1f} s")
    print(f"achieved          {achieved:.0f} people/s")
    print(f"ideal             {ideal:.0f} people/s = {args.threads} / ({per_person:.2f} x "
          f"{args.latency_ms / 1000:.3f} s)")  # fmt: skip
    print(f"efficiency        {achieved / ideal:.1%}")


if __name__ == "__main__":
    main()
