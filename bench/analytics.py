"""Benchmark: provider analytics over a million call records.

    DATABASE_URL=postgres://…/bench_db REDIS_URL=redis://…/10 python bench/analytics.py \
        [--records 1000000] [--repeat 7]

Fills `providers_providercall` with `--records` synthetic call records (three providers, email
lookups over 30 days, 90 % of them in the measured workspace, the rest in another one), rolls
the closed hours up as beat does, then times `provider_analytics` for that workspace over 30
days (every figure of `GET /providers/analytics`: per-provider counts, errors, latency
percentiles, cost, coverage per step) and prints the median and the worst of `--repeat` runs,
with the machine's load. The database in DATABASE_URL is migrated and its call records
replaced: never point it at data you keep.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from providers.analytics import provider_analytics  # noqa: E402
from providers.models import ProviderCallHour, ProviderLatencyHour  # noqa: E402
from providers.rollups import call_rollup_advance  # noqa: E402

# One row per call, in time order; a lead's lookup opens at step 1; p1 finds 45 %, p2 35 %,
# p3 25 %.
_FILL = """
INSERT INTO providers_providercall
    (provider, data_point, outcome, latency_ms, cost, cached, provider_status, tag, created_at,
     workspace_id, step, opens_lookup, email_status, accepted)
SELECT
    'p' || s.step,
    'email',
    CASE WHEN r < 0.02 THEN 'transient_error'
         WHEN r < s.rate THEN 'found' ELSE 'not_found' END,
    (20 + 400 * random() * random())::int,
    CASE WHEN r < 0.02 THEN 0 ELSE s.step END,
    random() < 0.05,
    '',
    '',
    -- in time order, as an append-only log is written
    now() - interval '30 days' + (g::float / %(n)s) * interval '30 days',
    CASE WHEN g %% 10 = 0 THEN %(other)s::uuid ELSE %(workspace)s::uuid END,
    s.step,
    s.step = 1,
    CASE WHEN r < 0.02 OR r >= s.rate THEN ''
         WHEN r < s.rate * 0.8 THEN 'valid' ELSE 'risky' END,
    r >= 0.02 AND r < s.rate
FROM generate_series(1, %(n)s) AS g
CROSS JOIN LATERAL (
    SELECT 1 + (g %% 3) AS step, (ARRAY[0.45, 0.35, 0.25])[1 + (g %% 3)] AS rate, random() AS r
) AS s
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (this one is replaced).")

    call_command("migrate", verbosity=0)
    workspace, other = uuid.uuid4(), uuid.uuid4()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE providers_providercall, providers_providercallhour, "
            "providers_providerlatencyhour"
        )
        cursor.execute(_FILL, {"workspace": str(workspace), "other": str(other), "n": args.records})
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE providers_providercall")
    print(f"filled {args.records:,} call records in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    provider_analytics(days=30, data_point="email", workspace_id=workspace)
    print(
        f"before any roll-up (every call record read): "
        f"{(time.perf_counter() - started) * 1000:.0f} ms; load {os.getloadavg()[0]:.2f}"
    )
    started = time.perf_counter()
    while call_rollup_advance():  # what beat does every 10 minutes, a week at a time
        pass
    print(
        f"rolled up 30 days in {time.perf_counter() - started:.1f} s: "
        f"{ProviderCallHour.objects.count():,} hourly rows, "
        f"{ProviderLatencyHour.objects.count():,} histogram rows"
    )

    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        figures = provider_analytics(days=30, data_point="email", workspace_id=workspace)
        timings.append((time.perf_counter() - started) * 1000)
    one, five, fifteen = os.getloadavg()
    print(
        f"provider_analytics over {args.records:,} records "
        f"({figures.lookups:,} lookups in the workspace): "
        f"median {statistics.median(timings):.0f} ms, worst {max(timings):.0f} ms "
        f"of {args.repeat} (target < 200 ms); load {one:.2f} {five:.2f} {fifteen:.2f}"
    )
    for p in figures.providers:
        print(
            f"  {p.provider}: calls {p.calls:,} verified {p.verified:,} "
            f"p50 {p.p50_ms:.0f} ms p95 {p.p95_ms:.0f} ms "
            f"cost/verified {p.cost_per_verified_hit:.2f}"
        )
    print("  coverage after each step: " + ", ".join(f"{s.coverage:.0%}" for s in figures.steps))


if __name__ == "__main__":
    main()
