"""The credit ledger: accounts with cached totals, append-only entries, two-phase holds, quotes.

Invariants, each enforced by the database (CHECK / UNIQUE / trigger) and not only by code:
- account.balance = Σ entry.balance_delta and account.held = Σ entry.held_delta (the services
  write the entry and the conditional account UPDATE in one transaction);
- 0 ≤ held ≤ balance, so available = balance - held is never negative;
- an entry's deltas have the shape its kind allows, and its `reference` is unique, so the same
  movement can never be written twice;
- entries are never updated or deleted (a trigger refuses it; corrections are new entries);
- a hold never charges plus returns more than it reserved, and once final they add up to it.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Workspace
from common.models import TimestampedModel


class CreditAccount(TimestampedModel):
    """One per workspace, created on first use. `balance` and `held` are caches of the ledger
    sums, updated in the same transaction as the entry that moves them."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.PROTECT, primary_key=True, related_name="credit_account"
    )
    balance = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="credit_account_held_non_negative", condition=Q(held__gte=0)
            ),
            models.CheckConstraint(
                name="credit_account_available_non_negative", condition=Q(balance__gte=F("held"))
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id}: {self.balance} ({self.held} held)"

    @property
    def available(self) -> int:
        return self.balance - self.held


class Tool(models.TextChoices):
    """What an estimate prices and a quote is redeemed for (the Cleanlist tool names)."""

    ENRICH_LIST = "enrich_list"
    ENRICH_PERSON = "enrich_person"
    ENRICH_COMPANY = "enrich_company"
    ENRICH_TASK = "enrich_task"
    RUN_SMART_AGENT = "run_smart_agent"


class RefundStatus(models.TextChoices):
    """Where the unused part of a failed run's hold stands (a hold's, and its workflow's)."""

    NOT_APPLICABLE = "not_applicable"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class Hold(TimestampedModel):
    """A two-phase reservation (TigerBeetle's pending transfer): placed, then settled (part
    charged, the rest returned), released, or expired, exactly once."""

    class State(models.TextChoices):
        OPEN = "open"
        SETTLED = "settled"
        RELEASED = "released"
        EXPIRED = "expired"

    RefundStatus = RefundStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="credit_holds")
    # The caller's idempotency key for placing it (e.g. the workflow id).
    reference = models.CharField(max_length=200, unique=True)
    workflow_id = models.CharField(max_length=200, blank=True, default="", db_index=True)
    quote = models.OneToOneField(
        "credits.Quote", on_delete=models.PROTECT, null=True, blank=True, related_name="hold"
    )
    amount = models.BigIntegerField()
    charged = models.BigIntegerField(default=0)
    refunded = models.BigIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    expires_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    refund_status = models.CharField(
        max_length=16, choices=RefundStatus.choices, default=RefundStatus.NOT_APPLICABLE
    )
    failure_reason = models.TextField(blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The expiry sweep reads only open holds with a deadline.
            models.Index(
                fields=["expires_at"],
                name="credit_hold_open_expiry",
                condition=Q(state="open", expires_at__isnull=False),
            ),
            models.Index(
                fields=["created_at"],
                name="credit_hold_pending_review",
                condition=Q(refund_status="pending_review"),
            ),
        ]
        constraints = [
            models.CheckConstraint(name="credit_hold_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="credit_hold_parts_within_amount",
                condition=Q(charged__gte=0)
                & Q(refunded__gte=0)
                & Q(amount__gte=F("charged") + F("refunded")),
            ),
            models.CheckConstraint(
                name="credit_hold_open_untouched",
                condition=~Q(state="open")
                | (Q(charged=0) & Q(refunded=0) & Q(refund_status="not_applicable")),
            ),
            models.CheckConstraint(
                name="credit_hold_released_returns_all",
                condition=~Q(state__in=["released", "expired"])
                | (Q(charged=0) & Q(refunded=F("amount"))),
            ),
            # Once final, charged + refunded = amount; only a settled hold under review still
            # keeps a remainder reserved.
            models.CheckConstraint(
                name="credit_hold_final_adds_up",
                condition=Q(state="open")
                | (
                    Q(refund_status="pending_review")
                    & Q(state="settled")
                    & Q(amount__gt=F("charged") + F("refunded"))
                )
                | (~Q(refund_status="pending_review") & Q(amount=F("charged") + F("refunded"))),
            ),
        ]

    def __str__(self) -> str:
        return f"hold {self.id} ({self.amount}, {self.state})"

    @property
    def outstanding(self) -> int:
        """Credits this hold still keeps reserved."""
        return self.amount - self.charged - self.refunded


class LedgerEntry(models.Model):
    """One movement of credits. Append-only: never updated, never deleted."""

    class Kind(models.TextChoices):
        GRANT = "grant"
        HOLD = "hold"
        CHARGE = "charge"
        RELEASE = "release"
        REFUND = "refund"
        ADJUSTMENT = "adjustment"

    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Unsigned size of the movement; the signed effects are the two deltas.
    amount = models.BigIntegerField()
    balance_delta = models.BigIntegerField()
    held_delta = models.BigIntegerField()
    # The account's totals right after this entry, for auditing without a replay.
    balance_after = models.BigIntegerField()
    held_after = models.BigIntegerField()
    reference = models.CharField(max_length=255, unique=True)
    hold = models.ForeignKey(
        Hold, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    workflow_id = models.CharField(max_length=200, blank=True, default="")
    quote = models.ForeignKey(
        "credits.Quote", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["workspace", "-id"], name="credit_ledger_ws_id"),
            models.Index(fields=["workspace", "workflow_id", "-id"], name="credit_ledger_ws_wf"),
        ]
        constraints = [
            models.CheckConstraint(name="credit_ledger_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="credit_ledger_delta_shape",
                condition=(
                    Q(kind="grant", balance_delta=F("amount"), held_delta=0)
                    | Q(kind="hold", balance_delta=0, held_delta=F("amount"))
                    | Q(kind="charge", balance_delta=-F("amount"), held_delta=-F("amount"))
                    | Q(kind__in=["release", "refund"], balance_delta=0, held_delta=-F("amount"))
                    | (
                        Q(kind="adjustment", held_delta=0)
                        & (Q(balance_delta=F("amount")) | Q(balance_delta=-F("amount")))
                    )
                ),
            ),
            models.CheckConstraint(
                name="credit_ledger_hold_movements_name_their_hold",
                condition=Q(kind__in=["grant", "adjustment"]) | Q(hold__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.reference})"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("Ledger entries are append-only; post a correcting entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are append-only; post a correcting entry instead.")


class Quote(models.Model):
    """A signed, single-use price for one operation (`qte_<kid>_<issued_at>_<sig>`). The id is
    the signature; the row makes it single-use and keeps what it was bound to."""

    quote_id = models.CharField(max_length=120, primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    tool = models.CharField(max_length=40, choices=Tool.choices)
    params = models.JSONField()
    params_hash = models.CharField(max_length=64)
    row_count = models.BigIntegerField()
    already_enriched = models.BigIntegerField(default=0)
    estimated_cost = models.BigIntegerField()
    nonce = models.CharField(max_length=32)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="credit_quote_counts_non_negative",
                condition=Q(row_count__gte=0) & Q(estimated_cost__gte=0),
            ),
        ]

    def __str__(self) -> str:
        return self.quote_id


class RefundReview(Hold):
    """The admin's refund-review queue: holds whose workflow failed through our fault."""

    class Meta:
        proxy = True
        verbose_name = "refund review"
        verbose_name_plural = "refund reviews"
