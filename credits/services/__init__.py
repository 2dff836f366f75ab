"""The credits app's public services: what other apps (enrichment) call to move credits."""

from credits.selectors import Balance, balance_get
from credits.services.ledger import (
    credits_adjust,
    credits_grant,
    hold_place,
    hold_release,
    hold_settle,
    hold_settle_for_review,
    holds_expire,
    refund_approve,
    refund_reject,
)
from credits.services.quotes import (
    Estimate,
    canonical_params,
    quote_create,
    quote_redeem,
    quotes_purge,
)

__all__ = [
    "Balance",
    "Estimate",
    "balance_get",
    "canonical_params",
    "credits_adjust",
    "credits_grant",
    "hold_place",
    "hold_release",
    "hold_settle",
    "hold_settle_for_review",
    "holds_expire",
    "quote_create",
    "quote_redeem",
    "quotes_purge",
    "refund_approve",
    "refund_reject",
]
