"""The `auto` order: providers ranked by expected provider cost per verified hit.

Trying providers in turn until one hits, with independent hit probabilities p_i and per-try
costs c_i, costs least on average in increasing order of c_i / p_i (swap any two neighbours
out of that order and the expected cost rises), and the coverage is the same in every order.
So each provider's figure is

    expected cost per hit = (cost per call + found rate x cost per verification) / hit rate

from its recent call records, each rate shrunk towards the pooled rate of all candidates by a
prior worth `prior_calls` calls: a provider with few calls is neither written off nor
crowned on a handful of lookups. Ties keep the operator's order, so with no history at all the
`auto` order is the operator's. Pure functions of the history: the same history always gives
the same order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProviderHistory:
    provider: str
    calls: int  # answered calls (found or not found), cache hits left out
    found: int
    hits: int  # found and accepted by the workspace's configuration
    cost: float  # provider cost of those calls


@dataclass(frozen=True)
class RankingHistory:
    # workspace: its own call records; operator: every workspace's (it had too few);
    # prior: nobody's yet.
    source: str
    providers: tuple[ProviderHistory, ...]  # in the operator's order
    verify_cost: float = 0.0  # mean cost of one verification (emails only)


def _rate(part: float, whole: float, prior: float, weight: float) -> float:
    return (part + weight * prior) / (whole + weight)


def rank(history: RankingHistory, *, prior_calls: float) -> list[dict[str, Any]]:
    """The providers best first, each with the figures behind its place."""
    rows = history.providers
    calls = sum(r.calls for r in rows)
    pooled_hit = sum(r.hits for r in rows) / calls if calls else 0.5
    pooled_found = sum(r.found for r in rows) / calls if calls else 0.5
    pooled_cost = sum(r.cost for r in rows) / calls if calls else 1.0
    reasons = []
    for position, row in enumerate(rows):
        hit_rate = _rate(row.hits, row.calls, pooled_hit, prior_calls)
        found_rate = _rate(row.found, row.calls, pooled_found, prior_calls)
        cost_per_call = _rate(row.cost, row.calls, pooled_cost, prior_calls)
        per_try = cost_per_call + found_rate * history.verify_cost
        per_hit = per_try / hit_rate if hit_rate > 0 else math.inf
        reasons.append(
            {
                "provider": row.provider,
                "calls": row.calls,
                "hits": row.hits,
                "cost": round(row.cost, 6),
                "hit_rate": round(hit_rate, 6),
                "cost_per_call": round(cost_per_call, 6),
                "expected_cost_per_hit": round(per_hit, 6) if math.isfinite(per_hit) else None,
                "operator_position": position + 1,
            }
        )
    reasons.sort(
        key=lambda r: (
            r["expected_cost_per_hit"] is None,
            r["expected_cost_per_hit"] or 0.0,
            r["operator_position"],
        )
    )
    return reasons
