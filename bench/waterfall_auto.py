"""Benchmark: the `auto` waterfall order against the worst and the best static orders.

    DATABASE_URL=postgres://…/bench_db REDIS_URL=redis://…/10 python bench/waterfall_auto.py \
        [--leads 5000] [--chunk 250]

Three sandbox email finders with different hit rates and prices (each charges every call, found
or not), and a sandbox verifier that charges each verification:

    sandbox_a  finds 30 %, 3.0 per call   (cost per hit 10.0: the worst first)
    sandbox_b  finds 50 %, 2.0 per call   (4.0)
    sandbox_c  finds 60 %, 1.0 per call   (1.7: the best first)

The operator's order is the worst (a, b, c). Three workspaces each look up the same `--leads`
people, `--chunk` at a time as enrichment chunks do (the workspace's waterfall resolved once
per chunk, call records written per chunk): one set to the worst static order, one to the best
(c, b, a), one to `auto`, which starts in the operator's (worst) order with no history and is
re-ranked after every chunk (what beat does every SLUICE_AUTO_ORDER_INTERVAL_S). The result
cache is off. Prints, per strategy, the provider cost per verified email and the coverage,
with the machine's load. The database in DATABASE_URL is migrated and its call records
replaced: never point it at data you keep.
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

from accounts.models import Workspace  # noqa: E402
from providers.base import DataPoint, PersonInput  # noqa: E402
from providers.engine import run_batch  # noqa: E402
from providers.models import AutoOrder, ProviderCall  # noqa: E402
from providers.selectors import waterfall_resolve  # noqa: E402
from providers.waterfalls import auto_orders_refresh, waterfall_config_set  # noqa: E402

FINDERS = {
    "sandbox_a": {"email_hit_rate": 0.30, "cost": 3.0},
    "sandbox_b": {"email_hit_rate": 0.50, "cost": 2.0},
    "sandbox_c": {"email_hit_rate": 0.60, "cost": 1.0},
}
WORST, BEST = ["sandbox_a", "sandbox_b", "sandbox_c"], ["sandbox_c", "sandbox_b", "sandbox_a"]


def _people(n: int) -> list[PersonInput]:
    return [
        PersonInput(first_name="Lee", last_name=f"Bench{i}", domain=f"co{i % 997}.example.com")
        for i in range(n)
    ]


def _run(name: str, order: object, people: list[PersonInput], chunk: int) -> dict:
    workspace = Workspace.objects.create(name=f"bench-auto-{name}-{time.time_ns()}")
    waterfall_config_set(workspace=workspace, orders={DataPoint.EMAIL: order})
    found = 0
    first_best = None
    for start in range(0, len(people), chunk):
        waterfall = waterfall_resolve(workspace_id=workspace.pk)
        if first_best is None and list(waterfall.orders[DataPoint.EMAIL]) == BEST:
            first_best = start
        results = run_batch(
            people[start : start + chunk], {DataPoint.EMAIL}, workspace_id=str(workspace.pk),
            waterfall=waterfall,
        )  # fmt: skip
        found += sum(1 for r in results if r.email)
        if order == "auto":
            auto_orders_refresh(workspace=workspace)  # beat's re-ranking
    cost = ProviderCall.objects.filter(workspace_id=workspace.pk).aggregate(c=Sum("cost"))["c"]
    auto = AutoOrder.objects.filter(workspace=workspace).first()
    return {
        "name": name,
        "cost": cost or 0.0,
        "found": found,
        "per_verified": (cost or 0.0) / found if found else float("inf"),
        "coverage": found / len(people),
        "first_best": first_best,
        "final_order": auto.order if auto else order,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=250)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    ProviderCall.objects.all().delete()
    base = {"latency_ms": 0, "verify_mix": (0.85, 0.05, 0.1, 0.0), "verify_cost": 0.2}
    settings.SLUICE_SANDBOX_INSTANCES = {
        "sandbox": base,
        **{name: {**knobs, "miss_cost": knobs["cost"]} for name, knobs in FINDERS.items()},
    }
    settings.SLUICE_WATERFALL_EMAIL = WORST  # the operator's order: the worst one
    settings.SLUICE_VERIFIER = "sandbox"
    settings.SLUICE_RESULT_CACHE_TTL_S = 0
    settings.SLUICE_ENGINE_THREADS = 8
    people = _people(args.leads)

    started = time.perf_counter()
    # auto first, so it cannot borrow the static runs' call records
    auto = _run("auto", "auto", people, args.chunk)
    worst = _run("worst", WORST, people, args.chunk)
    best = _run("best", BEST, people, args.chunk)
    elapsed = time.perf_counter() - started
    one, five, fifteen = os.getloadavg()

    print(f"{args.leads:,} leads per strategy, re-ranked every {args.chunk} leads")
    for run in (worst, best, auto):
        print(
            f"  {run['name']:>5}: provider cost per verified email {run['per_verified']:.3f} "
            f"(cost {run['cost']:,.1f}, verified {run['found']:,}, "
            f"coverage {run['coverage']:.1%}), order at the end {run['final_order']}"
        )
    saving = 1 - auto["per_verified"] / worst["per_verified"]
    gap = auto["per_verified"] / best["per_verified"] - 1
    print(
        f"auto vs worst: {saving:.1%} lower (target >= 30 %); auto vs best: {gap:+.1%} "
        f"(target within 5 %); auto ran the best order from lead {auto['first_best']}; "
        f"coverage auto {auto['coverage']:.1%} vs best {best['coverage']:.1%}"
    )
    print(f"{elapsed:.0f} s in all; load {one:.2f} {five:.2f} {fifteen:.2f}")


if __name__ == "__main__":
    main()
