"""Provider faults (issue 7, item 3): three sandbox providers injecting 429 (with Retry-After),
5xx, timeouts and garbage bodies at 30 % of their calls, and one provider fully down (5xx on
every call) first in the waterfall. The run completes, the down provider's breaker opens (its
calls are skipped as `circuit_open`), and closes again after the cool-down once the fault has
stopped; every run charges exactly the data it found."""

import pytest
from django.db.models import Sum

from enrichment.models import Workflow, WorkflowItem, WorkflowStatus
from providers.limits import get_limits
from providers.models import ProviderCall
from tests.helpers import wait_until
from tests.reliability.conftest import LONG
from tests.reliability.faults import (
    CHAOS_ENV,
    assert_invariants,
    count_fault,
    fund,
    start_bulk,
    sweep_until_all_terminal,
)
from tests.workers import WorkerProcess

pytestmark = [pytest.mark.reliability, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LEADS = 5_000 if LONG else 800
FLAKY = ("sandbox_a", "sandbox_b", "sandbox_c")
DOWN = "sandbox_down"
COOLDOWN_S = 2

# 7.5 % each of 429, 5xx, timeout and garbage = 30 % of the calls of each flaky provider; the
# down provider answers 5xx to everything. Faults are per instance: the plain `sandbox` knobs
# (the verifier's) stay clean.
_FLAKY_KNOBS = {"FAULT_429_RATE": "0.075", "FAULT_5XX_RATE": "0.075",
                "FAULT_TIMEOUT_RATE": "0.075", "FAULT_MALFORMED_RATE": "0.075",
                "RETRY_AFTER_S": "0.2"}  # fmt: skip
PROVIDER_ENV = {
    **CHAOS_ENV,
    "SLUICE_SANDBOX_LATENCY_MS": "2",
    "SLUICE_SANDBOX_EMAIL_HIT_RATE": "0.5",
    "SLUICE_WATERFALL_EMAIL": ",".join((DOWN, *FLAKY)),
    "SLUICE_VERIFIER": "sandbox",
    "SLUICE_BREAKER_FAILURES": "5",
    "SLUICE_BREAKER_WINDOW_S": "30",
    "SLUICE_BREAKER_COOLDOWN_S": str(COOLDOWN_S),
    "SLUICE_PROVIDER_BACKOFF_BASE_S": "0.02",
    "SLUICE_PROVIDER_BACKOFF_CAP_S": "0.2",
}
FAULTY_ENV = {
    **PROVIDER_ENV,
    f"SLUICE_SANDBOX_{DOWN.split('_')[1].upper()}_FAULT_5XX_RATE": "1.0",
    **{
        f"SLUICE_SANDBOX_{name.split('_')[1].upper()}_{knob}": value
        for name in FLAKY
        for knob, value in _FLAKY_KNOBS.items()
    },
}
# The fault has stopped: the same waterfall, every provider healthy.
HEALED_ENV = PROVIDER_ENV


def _calls(workflow: Workflow) -> dict[tuple[str, str], int]:
    rows = (
        ProviderCall.objects.filter(tag=workflow.pk[:100], cached=False)
        .values_list("provider", "outcome")
        .annotate(n=Sum("calls"))  # a row may stand for several identical calls
        .order_by()
    )
    return {(provider, outcome): n for provider, outcome, n in rows}


def _attempt_outcomes(workflow: Workflow, provider: str) -> dict[str, int]:
    seen: dict[str, int] = {}
    for attempts in WorkflowItem.objects.filter(workflow=workflow).values_list(
        "attempts", flat=True
    ):
        for attempt in attempts or []:
            if attempt["provider"] == provider:
                key = attempt["provider_status"] or attempt["outcome"]
                seen[key] = seen.get(key, 0) + 1
    return seen


def _run(workspace, env: dict[str, str], leads: int) -> Workflow:
    worker = WorkerProcess(env=env, concurrency=2).start()
    try:
        workflow = start_bulk(workspace, leads)
        sweep_until_all_terminal(workspace, timeout=300 if LONG else 150)
    finally:
        worker.stop()
    workflow.refresh_from_db()
    return workflow


def test_fault_providers_flaky_and_down_breakers_open_and_close(
    workspace, chaos_settings, sole_consumer
):
    limits = get_limits()
    for name in (DOWN, *FLAKY, "sandbox"):
        limits.reset(name)
    fund(workspace, (LEADS + 200) * 2)

    # given a waterfall whose first provider is down and whose others fail 30 % of their calls
    faulty = _run(workspace, FAULTY_ENV, LEADS)

    # then the run completed, and charged what it found
    assert faulty.status == WorkflowStatus.COMPLETED, faulty.error
    assert faulty.total == LEADS
    assert faulty.found_emails > 0
    calls = _calls(faulty)
    injected = {
        kind: sum(n for (provider, outcome), n in calls.items() if outcome == kind)
        for kind in ("rate_limited", "transient_error")
    }
    for (provider, outcome), n in calls.items():
        if outcome in injected:
            count_fault(f"provider {outcome} ({provider})", n)
    assert injected["rate_limited"] > 0
    assert injected["transient_error"] > 0
    for name in FLAKY:
        assert calls.get((name, "found"), 0) > 0, (name, calls)
    # the down provider's breaker opened: most of its lookups were skipped without a call
    down = _attempt_outcomes(faulty, DOWN)
    assert down.get("circuit_open", 0) > 0, down
    for name in (DOWN, *FLAKY):
        skips = _attempt_outcomes(faulty, name).get("circuit_open", 0)
        count_fault(f"lookup skipped, breaker open ({name})", skips)
    assert calls.get((DOWN, "transient_error"), 0) < LEADS / 2, calls
    assert calls.get((DOWN, "found"), 0) == 0
    assert not WorkflowItem.objects.filter(workflow=faulty, provider=DOWN).exists()

    # when the fault stops and the cool-down passes
    wait_until(lambda: limits.breaker_state(DOWN) != "open", timeout=COOLDOWN_S + 10)
    healed = _run(workspace, HEALED_ENV, 200)

    # then the half-open probe succeeds, the breaker closes, and the provider answers again
    assert healed.status == WorkflowStatus.COMPLETED, healed.error
    assert limits.breaker_state(DOWN) == "closed"
    assert _calls(healed).get((DOWN, "found"), 0) > 0
    assert WorkflowItem.objects.filter(workflow=healed, provider=DOWN).exists()
    assert_invariants(workspace, label="provider faults")
