"""Provider analytics equal figures computed by hand from fixed call records."""

from datetime import timedelta

import pytest
from django.utils import timezone

from providers.analytics import provider_analytics
from providers.models import ProviderCall, ProviderCallHour
from providers.rollups import call_rollup_advance
from providers.services import provider_mark_set

pytestmark = pytest.mark.django_db


def _call(workspace, provider, outcome, *, hours=3, **fields):
    defaults = {"data_point": "email", "latency_ms": 0, "cost": 0.0, "cached": False}
    return ProviderCall(
        workspace_id=workspace.pk,
        provider=provider,
        outcome=outcome,
        created_at=timezone.now() - timedelta(hours=hours),
        **(defaults | fields),
    )


@pytest.fixture
def records(workspace, other_workspace):
    """Five leads (A..E) through p1 then p2, and records that must not count."""
    found, miss = "found", "not_found"
    rows = [
        # A: p1 finds a valid email
        _call(workspace, "p1", found, cost=2, latency_ms=100, step=1, opens_lookup=True,
              email_status="valid", accepted=True),
        # B: p1 finds a catch-all (risky) email the workspace accepts
        _call(workspace, "p1", found, cost=2, latency_ms=200, step=1, opens_lookup=True,
              email_status="risky", accepted=True),
        # C: p1 misses, p2 finds
        _call(workspace, "p1", miss, cost=1, latency_ms=300, step=1, opens_lookup=True),
        _call(workspace, "p2", found, cost=3, latency_ms=50, step=2, email_status="valid",
              accepted=True),
        # D: p1 fails, p2 misses
        _call(workspace, "p1", "transient_error", latency_ms=400, step=1, opens_lookup=True),
        _call(workspace, "p2", miss, cost=1, latency_ms=150, step=2),
        # E: p1's cached answer
        _call(workspace, "p1", found, cached=True, step=1, opens_lookup=True,
              email_status="valid", accepted=True),
        # not counted: the verifier's calls, phones, older than the window, another workspace
        _call(workspace, "sandbox", found, data_point="email_verification", cost=1),
        _call(workspace, "p1", found, data_point="phone", cost=10, step=1, opens_lookup=True),
        _call(workspace, "p1", found, hours=8 * 24, cost=50, step=1, opens_lookup=True,
              accepted=True),
        _call(other_workspace, "p1", found, cost=7, step=1, opens_lookup=True, accepted=True),
    ]  # fmt: skip
    ProviderCall.objects.bulk_create(rows)


def test_analytics_per_provider_match_hand_computed_figures(workspace, records):
    figures = provider_analytics(days=7, data_point="email", workspace_id=workspace.pk)

    p1, p2 = figures.providers
    assert (p1.provider, p1.calls, p1.cache_hits, p1.found, p1.verified) == ("p1", 4, 1, 2, 2)
    assert (p1.not_found, p1.catch_all, p1.catch_all_share) == (1, 1, 0.5)
    assert p1.errors == {
        "auth_failed": 0,
        "out_of_credits": 0,
        "permanent_error": 0,
        "rate_limited": 0,
        "transient_error": 1,
    }
    assert (p1.cost, p1.cost_per_verified_hit) == (5.0, 2.5)
    assert p1.hit_rate == pytest.approx(2 / 3)
    # nearest rank over 100, 200, 300, 400 ms: the 2nd and the 4th
    assert (p1.p50_ms, p1.p95_ms) == (200.0, 400.0)
    assert (p2.provider, p2.calls, p2.found, p2.verified, p2.not_found) == ("p2", 2, 1, 1, 1)
    assert (p2.catch_all_share, p2.cost, p2.cost_per_verified_hit) == (0.0, 4.0, 4.0)
    assert (p2.p50_ms, p2.p95_ms) == (50.0, 150.0)


def test_analytics_coverage_after_each_step(workspace, records):
    figures = provider_analytics(days=7, data_point="email", workspace_id=workspace.pk)

    assert figures.lookups == 5  # A..E
    assert [(s.step, s.hits, s.coverage, s.providers) for s in figures.steps] == [
        (1, 3, 0.6, ["p1"]),  # A, B and E's cached answer
        (2, 1, 0.8, ["p2"]),  # C
    ]
    # the whole waterfall's cost per hit counts the verifier's call too: (9 + 1) / 3
    assert (figures.verified, figures.cost, figures.verification_cost) == (3, 9.0, 1.0)
    assert figures.cost_per_verified_hit == pytest.approx(10 / 3)
    assert figures.coverage == 0.8


def test_analytics_api_is_the_callers_workspace_only(api, other_api, workspace, records):
    provider_mark_set(provider="p2", kind="out_of_credits", reason="402")

    mine = api.get("/api/v2/providers/analytics?days=7&data_point=email").json()
    theirs = other_api.get("/api/v2/providers/analytics?days=7").json()

    assert (mine["lookups"], mine["verified"], mine["coverage"]) == (5, 3, 0.8)
    by_name = {p["provider"]: p for p in mine["providers"]}
    assert by_name["p1"]["cost_per_verified_hit"] == 2.5
    assert by_name["p1"]["errors"]["transient_error"] == 1
    assert by_name["p1"]["exhausted_until"] is None
    assert by_name["p2"]["exhausted_until"] is not None
    assert [s["coverage"] for s in mine["steps"]] == [0.6, 0.8]
    assert (theirs["lookups"], theirs["cost"]) == (1, 7.0)


def test_analytics_api_refuses_a_bad_query(api):
    response = api.get("/api/v2/providers/analytics?days=0&data_point=fax")

    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"days", "data_point"}


def test_analytics_are_the_same_from_roll_ups_and_call_records(workspace, records):
    before = provider_analytics(days=7, data_point="email", workspace_id=workspace.pk)

    written = call_rollup_advance()
    # a call after the roll-up is read from the call records
    ProviderCall.objects.bulk_create(
        [_call(workspace, "p2", "found", hours=0, cost=3, latency_ms=1234, step=1,
               opens_lookup=True, email_status="valid", accepted=True)]
    )  # fmt: skip
    after = provider_analytics(days=7, data_point="email", workspace_id=workspace.pk)

    assert written > 0
    assert ProviderCallHour.objects.exists()
    assert call_rollup_advance() == 0  # nothing new to roll up
    p1_before = before.providers[0]
    p1_after, p2_after = after.providers
    assert vars(p1_after) == vars(p1_before)
    assert (p2_after.calls, p2_after.verified, p2_after.cost) == (3, 2, 7.0)
    assert p2_after.p95_ms == 1300.0  # 1,234 ms falls in the 100 ms bucket up to 1,300
    assert (after.lookups, after.verified) == (6, 4)
    assert [(s.step, s.hits) for s in after.steps] == [(1, 4), (2, 1)]
    assert after.steps[0].providers == ["p1", "p2"]


def test_admin_shows_the_analytics_with_inline_charts(admin_client, records, workspace):
    from django.urls import reverse

    from providers.waterfalls import waterfall_config_set

    waterfall_config_set(workspace=workspace, orders={}, catch_all_policy="reject")

    page = admin_client.get(reverse("admin:providers_providercall_changelist"))
    configs = admin_client.get(reverse("admin:providers_waterfallconfig_changelist"))

    html = page.content.decode()
    assert page.status_code == 200
    assert "Waterfall analytics, email, last 30 days" in html
    assert html.count("<svg") >= 2
    assert "coverage after each step" in html
    assert "cost per verified hit" in html
    assert configs.status_code == 200
    assert "reject" in configs.content.decode()
