"""The `auto` order: deterministic for a fixed history, priors for providers with few calls,
the workspace's records once it has enough, else the operator's."""

from datetime import timedelta

import pytest
from django.utils import timezone

from providers.base import DataPoint
from providers.models import AutoOrder, ProviderCall
from providers.ranking import ProviderHistory, RankingHistory, rank
from providers.selectors import waterfall_resolve
from providers.waterfalls import auto_orders_refresh, auto_orders_refresh_all, waterfall_config_set

HISTORY = RankingHistory(
    source="workspace",
    providers=(
        ProviderHistory("a", calls=100, found=50, hits=40, cost=100.0),  # 1 per call
        ProviderHistory("b", calls=100, found=80, hits=60, cost=300.0),  # 3 per call
        ProviderHistory("c", calls=0, found=0, hits=0, cost=0.0),  # never tried
    ),
    verify_cost=0.5,
)


def test_rank_orders_by_expected_cost_per_hit_with_a_prior():
    reasons = rank(HISTORY, prior_calls=20)

    # pooled: hit 100/200, found 130/200, cost 400/200; each rate shrunk by 20 pooled calls
    assert [r["provider"] for r in reasons] == ["a", "c", "b"]
    a, c, b = reasons
    assert a["hit_rate"] == pytest.approx(50 / 120, abs=1e-6)
    assert a["cost_per_call"] == pytest.approx(140 / 120, abs=1e-6)
    assert a["expected_cost_per_hit"] == pytest.approx(
        (140 / 120 + 63 / 120 * 0.5) / (50 / 120), abs=1e-5
    )
    assert c["expected_cost_per_hit"] == pytest.approx((2 + 0.65 * 0.5) / 0.5, abs=1e-5)
    assert b["expected_cost_per_hit"] == pytest.approx(
        (340 / 120 + 93 / 120 * 0.5) / (70 / 120), abs=1e-5
    )
    assert (a["calls"], a["hits"], a["operator_position"]) == (100, 40, 1)


def test_rank_is_deterministic_and_ties_keep_the_operators_order():
    assert rank(HISTORY, prior_calls=20) == rank(HISTORY, prior_calls=20)
    empty = RankingHistory(
        source="prior",
        providers=tuple(ProviderHistory(n, 0, 0, 0, 0.0) for n in ("z", "y", "x")),
    )
    assert [r["provider"] for r in rank(empty, prior_calls=20)] == ["z", "y", "x"]


def test_rank_never_puts_a_provider_that_never_hits_first():
    history = RankingHistory(
        source="workspace",
        providers=(
            ProviderHistory("dud", calls=500, found=0, hits=0, cost=500.0),
            ProviderHistory("ok", calls=500, found=100, hits=100, cost=500.0),
        ),
    )
    # the prior keeps "dud" possible but unlikely; its cost per hit is far above ok's
    reasons = rank(history, prior_calls=20)
    assert [r["provider"] for r in reasons] == ["ok", "dud"]


def _records(workspace, provider, *, calls, hits, cost_each):
    now = timezone.now() - timedelta(minutes=5)
    return [
        ProviderCall(
            workspace_id=workspace.pk,
            provider=provider,
            data_point="email",
            outcome="found" if n < hits else "not_found",
            accepted=n < hits,
            email_status="valid" if n < hits else "",
            cost=cost_each,
            created_at=now,
        )
        for n in range(calls)
    ]


@pytest.mark.django_db
def test_auto_orders_refresh_borrows_the_operators_records_until_the_workspace_has_enough(
    settings, workspace, other_workspace
):
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b"]
    settings.SLUICE_AUTO_ORDER_MIN_CALLS = 100
    waterfall_config_set(workspace=workspace, orders={DataPoint.EMAIL: "auto"})
    # elsewhere, sandbox_b is the cheaper way to a hit
    ProviderCall.objects.bulk_create(
        _records(other_workspace, "sandbox_a", calls=200, hits=20, cost_each=1.0)
        + _records(other_workspace, "sandbox_b", calls=200, hits=150, cost_each=1.0)
    )

    [borrowed] = auto_orders_refresh(workspace=workspace)

    assert (borrowed.source, borrowed.order) == ("operator", ["sandbox_b", "sandbox_a"])
    # rates only: the other workspace's volumes and spend are not shown
    assert {(r["calls"], r["hits"], r["cost"]) for r in borrowed.reasons} == {(None, None, None)}
    assert borrowed.reasons[0]["hit_rate"] > borrowed.reasons[1]["hit_rate"]
    assert waterfall_resolve(workspace_id=workspace.pk).orders[DataPoint.EMAIL] == (
        "sandbox_b",
        "sandbox_a",
    )

    # the workspace's own records say the opposite, and now there are enough of them
    ProviderCall.objects.bulk_create(
        _records(workspace, "sandbox_a", calls=100, hits=90, cost_each=1.0)
        + _records(workspace, "sandbox_b", calls=100, hits=10, cost_each=1.0)
    )
    assert auto_orders_refresh_all() == 1

    own = AutoOrder.objects.get(workspace=workspace, data_point="email")
    assert (own.source, own.order) == ("workspace", ["sandbox_a", "sandbox_b"])
    assert own.reasons[0]["calls"] == 100
    resolved = waterfall_resolve(workspace_id=workspace.pk)
    assert resolved.snapshot()["auto"]["email"]["order"] == ["sandbox_a", "sandbox_b"]
    assert not AutoOrder.objects.filter(workspace=other_workspace).exists()
