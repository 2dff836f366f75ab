"""A waterfall as one run uses it: the provider order per data point, the verifier, the
catch-all policy and the lowest email status that counts as found (docs/providers.md).

`ResolvedWaterfall` is what the engine takes. It is resolved once per chunk
(`providers.selectors.waterfall_resolve`) from the workspace's configuration version, or the
operator's defaults from the environment (version 0), with the latest `auto` orders filled in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from providers import registry
from providers.base import DataPoint, EmailStatus
from providers.models import CatchAllPolicy

AUTO = "auto"
# Data points a workspace orders (the verifier is set on its own).
ORDERED_DATA_POINTS = (DataPoint.EMAIL, DataPoint.PHONE, DataPoint.COMPANY)
# Best first: the lowest accepted status accepts every status above it.
STATUS_RANK = {
    EmailStatus.VALID: 3,
    EmailStatus.RISKY: 2,
    EmailStatus.UNKNOWN: 1,
    EmailStatus.INVALID: 0,
}
MIN_STATUS_CHOICES = (EmailStatus.VALID, EmailStatus.RISKY, EmailStatus.UNKNOWN)


@dataclass(frozen=True)
class AutoChoice:
    """An `auto` order and the figures behind it (one dict per provider, best first)."""

    order: tuple[str, ...]
    reasons: tuple[Mapping[str, Any], ...] = ()
    source: str = "prior"
    explore_share: float = 0.0


@dataclass(frozen=True)
class ResolvedWaterfall:
    version: int
    orders: Mapping[DataPoint, tuple[str, ...]]
    catch_all_policy: str = CatchAllPolicy.ACCEPT
    min_email_status: str = EmailStatus.UNKNOWN
    auto: Mapping[DataPoint, AutoChoice] = field(default_factory=dict)

    def order(self, data_point: DataPoint, identity: str = "") -> tuple[str, ...]:
        """The order for one lead. For an `auto` data point, a bounded share of leads (chosen
        by a hash of the identity, so reproducible) swap two neighbours of the ranked order:
        each provider is then also seen one step earlier than its rank, unconditioned by the
        misses of the one it passed, so one that improved climbs; a neighbour swap costs far
        less than trying the last-ranked provider first."""
        names = self.orders.get(data_point, ())
        choice = self.auto.get(data_point)
        if choice is None or len(names) < 2 or not identity or choice.explore_share <= 0:
            return names
        u = _unit(identity, str(data_point))
        if u >= choice.explore_share:
            return names
        k = 1 + int(u / choice.explore_share * (len(names) - 1))
        return (*names[: k - 1], names[k], names[k - 1], *names[k + 1 :])

    def accepts(self, status: EmailStatus | str) -> bool:
        """Whether an email with this status counts as found (else the waterfall goes on)."""
        if status == EmailStatus.RISKY and self.catch_all_policy == CatchAllPolicy.REJECT:
            return False
        return STATUS_RANK[EmailStatus(status)] >= STATUS_RANK[EmailStatus(self.min_email_status)]

    def charges(self, status: EmailStatus | str | None) -> bool:
        """Whether a found email with this status is charged."""
        return not (
            status == EmailStatus.RISKY and self.catch_all_policy == CatchAllPolicy.ACCEPT_UNCHARGED
        )

    def snapshot(self) -> dict[str, Any]:
        """What a run records: the version and every order it used, with `auto`'s reasons."""
        return {
            "version": self.version,
            "orders": {str(dp): list(names) for dp, names in self.orders.items()},
            "catch_all_policy": str(self.catch_all_policy),
            "min_email_status": str(self.min_email_status),
            "auto": {
                str(dp): {
                    "order": list(c.order),
                    "source": c.source,
                    "explore_share": c.explore_share,
                    "reasons": [dict(r) for r in c.reasons],
                }
                for dp, c in self.auto.items()
            },
        }


def _unit(*parts: str) -> float:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def operator_orders() -> dict[DataPoint, tuple[str, ...]]:
    """The operator's orders from the environment (`SLUICE_WATERFALL_*`, `SLUICE_VERIFIER`)."""
    return {dp: tuple(registry.waterfall_names(dp)) for dp in DataPoint}


def operator_default() -> ResolvedWaterfall:
    """Version 0: the operator's environment, as before per-workspace configuration."""
    return ResolvedWaterfall(
        version=0,
        orders=operator_orders(),
        catch_all_policy=settings.SLUICE_CATCH_ALL_POLICY,
        min_email_status=settings.SLUICE_MIN_EMAIL_STATUS,
    )


def available_providers() -> dict[DataPoint, tuple[str, ...]]:
    """What a workspace may choose from: per data point the providers the operator put in that
    waterfall; as verifier any provider the operator configured that verifies."""
    orders = operator_orders()
    named = dict.fromkeys(name for names in orders.values() for name in names)
    verifiers = tuple(n for n in named if registry.provider_class(n).verifies)
    return {
        **{dp: orders[dp] for dp in ORDERED_DATA_POINTS},
        DataPoint.EMAIL_VERIFICATION: verifiers,
    }
