"""Smart agents: `title_normalizer` and `custom_ai` (sandbox model) over a list of 10,000 leads,
through the HTTP API with a real gunicorn and Celery worker; and the normaliser alone.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/agents_10k.py [--leads N]

On its own database (`sluice_bench_agents`): imports N synthetic leads (with job titles), then
for each agent type estimates `run_smart_agent`, POSTs /smart-agents/run (`lead_scope: subset`,
`max_rows: N`) and polls GET /smart-agents/{id} until `completed`. Prints seconds from the POST
to `completed` and leads/s for each, and the normaliser's titles/s in this process, each with
the machine's load next to it. The sandbox model answers at once (no latency): the figure is
Sluice's own overhead per lead, not a model's.
"""

import argparse
import time

import requests
from _common import (
    bench_env,
    import_leads,
    load,
    make_tenant,
    purge_queue,
    say,
    setup_django,
    start_gunicorn,
    start_worker,
)


def _run(server, tenant, agent_type: str, rows: int, *, timeout: float) -> dict:
    list_id = str(tenant.lead_list.pk)
    column = f"bench {agent_type}"
    quote = requests.post(
        f"{server.base}/credits/estimate", headers=tenant.headers, timeout=60,
        json={"tool": "run_smart_agent", "list_id": list_id, "agent_type": agent_type,
              "row_count": rows, "extra": {"column_name": column}},
    ).json()  # fmt: skip
    started_at = time.monotonic()
    started = requests.post(
        f"{server.base}/smart-agents/run", headers=tenant.headers, timeout=60,
        json={"list_id": list_id, "agent_type": agent_type, "column_name": column,
              "max_rows": rows, "quote_id": quote["quote_id"],
              "prompt": "One line on this person's likely priority."},
    ).json()  # fmt: skip
    run_id = started["smart_agent_task_id"]
    deadline = started_at + timeout
    while True:
        # The list rollup carries the live counters without the per-lead results.
        runs = requests.get(
            f"{server.base}/smart-agents", headers=tenant.headers, timeout=30,
            params={"list_id": list_id, "limit": 5},
        ).json()["runs"]  # fmt: skip
        run = next(r for r in runs if r["task_id"] == run_id)
        if run["status"] in ("completed", "failed"):
            return {**run, "seconds": time.monotonic() - started_at}
        if time.monotonic() > deadline:
            raise SystemExit(f"{run_id} not done after {timeout:.0f} s: {run}")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2, help="worker pool processes")
    args = parser.parse_args()

    env = bench_env("agents", SLUICE_LLM_PROVIDER="sandbox", SLUICE_LLM_SANDBOX_LATENCY_MS="0")
    setup_django(env)
    purge_queue()

    from agents.titles import normalize_title
    from leads.models import Lead

    tenant = make_tenant()
    seconds = import_leads(tenant, args.leads)
    say(f"imported {args.leads} leads in {seconds:.1f} s")

    titles = list(Lead.objects.filter(workspace=tenant.workspace).values_list("title", flat=True))
    began = time.perf_counter()
    for title in titles:
        normalize_title(title)
    elapsed = time.perf_counter() - began
    say(f"normalize_title alone: {len(titles) / elapsed:,.0f} titles/s ({load()})")

    server = start_gunicorn(env, workers=2)
    worker = start_worker(env, concurrency=args.processes)
    try:
        for agent_type in ("title_normalizer", "custom_ai"):
            run = _run(server, tenant, agent_type, args.leads, timeout=900)
            say(
                f"{agent_type}: {run['status']}, {run['processed']} leads in "
                f"{run['seconds']:.1f} s = {run['processed'] / run['seconds']:,.0f} leads/s, "
                f"{run['credits_charged']} credits charged ({load()})"
            )
    finally:
        worker.stop()
        server.stop()


if __name__ == "__main__":
    main()
