"""Ledger movements: grants, adjustments and two-phase holds.

Every movement is one transaction that (1) inserts a ledger entry whose `reference` is unique,
so a retried call can never post it twice, and (2) moves the account's cached totals with a
conditional `UPDATE … WHERE <the result stays valid>` whose row count is checked, so two
concurrent calls can never both spend the same credits. The account row lock taken by that
UPDATE serializes movements per workspace; hold transitions additionally lock the hold row
first (always hold → account, so there is one lock order and no deadlock).
"""

import logging
import uuid
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Workspace
from common.exceptions import InsufficientCredits, NotFound, ValidationFailed
from credits.exceptions import ChargeExceedsHold, LedgerInvariantBroken, ReferenceConflict
from credits.models import CreditAccount, Hold, LedgerEntry, Quote

logger = logging.getLogger(__name__)

Kind = LedgerEntry.Kind


class _Insufficient(Exception):
    def __init__(self, available: int) -> None:
        super().__init__(available)
        self.available = available


def _move_account(
    *, workspace_id: uuid.UUID, balance_delta: int, held_delta: int
) -> tuple[int, int]:
    """Applies the deltas only if the result keeps 0 ≤ held ≤ balance; returns the new
    (balance, held). Raises _Insufficient with the current available credits otherwise."""
    accounts = CreditAccount.objects.filter(workspace_id=workspace_id)
    guarded = accounts.filter(
        balance__gte=F("held") + (held_delta - balance_delta), held__gte=-held_delta
    )
    updates = {
        "balance": F("balance") + balance_delta,
        "held": F("held") + held_delta,
        "updated_at": timezone.now(),
    }
    if guarded.update(**updates) == 0:
        if not accounts.exists():
            # First movement of this workspace: create the account (a concurrent creator may
            # win; ignore_conflicts makes that harmless) and try once more.
            CreditAccount.objects.bulk_create(
                [CreditAccount(workspace_id=workspace_id)], ignore_conflicts=True
            )
            if guarded.update(**updates) == 1:
                return _totals(workspace_id)
        balance, held = _totals(workspace_id)
        raise _Insufficient(available=balance - held)
    return _totals(workspace_id)


def _totals(workspace_id: uuid.UUID) -> tuple[int, int]:
    # Read inside the transaction right after our UPDATE, which still holds the row lock.
    row = CreditAccount.objects.filter(workspace_id=workspace_id).values_list("balance", "held")
    return row.get()


_DELTAS = {
    Kind.GRANT: (1, 0),
    Kind.HOLD: (0, 1),
    Kind.CHARGE: (-1, -1),
    Kind.RELEASE: (0, -1),
    Kind.REFUND: (0, -1),
}


def _post(
    *,
    workspace_id: uuid.UUID,
    kind: Kind,
    amount: int,
    reference: str,
    hold: Hold | None = None,
    workflow_id: str = "",
    quote_id: str | None = None,
    reason: str = "",
    balance_delta: int | None = None,
) -> LedgerEntry:
    """Writes one entry and moves the cached totals with it. Call inside a transaction."""
    if balance_delta is None:
        balance_sign, held_sign = _DELTAS[kind]
        balance_delta, held_delta = balance_sign * amount, held_sign * amount
    else:
        held_delta = 0
    balance_after, held_after = _move_account(
        workspace_id=workspace_id, balance_delta=balance_delta, held_delta=held_delta
    )
    return LedgerEntry.objects.create(
        workspace_id=workspace_id,
        kind=kind,
        amount=amount,
        balance_delta=balance_delta,
        held_delta=held_delta,
        balance_after=balance_after,
        held_after=held_after,
        reference=reference,
        hold=hold,
        workflow_id=workflow_id,
        quote_id=quote_id,
        reason=reason,
    )


def _post_hold_movement(
    *, hold: Hold, kind: Kind, amount: int, suffix: str, reason: str = ""
) -> LedgerEntry | None:
    """A movement of a hold's reserved credits; these can only fail if the cache is corrupt."""
    if amount == 0:
        return None
    try:
        return _post(
            workspace_id=hold.workspace_id,
            kind=kind,
            amount=amount,
            reference=f"hold:{hold.pk}:{suffix}",
            hold=hold,
            workflow_id=hold.workflow_id,
            quote_id=hold.quote_id,
            reason=reason,
        )
    except _Insufficient:
        raise LedgerInvariantBroken(details={"hold_id": str(hold.pk), "kind": kind}) from None


def _positive(value: int, field: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValidationFailed(details={field: ["Must be a positive whole number of credits."]})


def _existing_entry(
    *, workspace: Workspace, reference: str, kind: Kind, amount: int, delta: int
) -> LedgerEntry | None:
    entry = LedgerEntry.objects.filter(reference=reference).first()
    if entry is None:
        return None
    if (entry.workspace_id, entry.kind, entry.amount, entry.balance_delta) != (
        workspace.pk,
        kind,
        amount,
        delta,
    ):
        raise ReferenceConflict(details={"reference": reference})
    return entry


def _idempotent_movement(
    *, workspace: Workspace, kind: Kind, amount: int, delta: int, reference: str, reason: str
) -> LedgerEntry:
    ledger_reference = f"{kind}:{reference}"
    existing = _existing_entry(
        workspace=workspace, reference=ledger_reference, kind=kind, amount=amount, delta=delta
    )
    if existing:
        return existing
    try:
        with transaction.atomic():
            return _post(
                workspace_id=workspace.pk,
                kind=kind,
                amount=amount,
                reference=ledger_reference,
                reason=reason,
                balance_delta=delta,
            )
    except IntegrityError:
        # A concurrent call with the same reference committed first.
        existing = _existing_entry(
            workspace=workspace, reference=ledger_reference, kind=kind, amount=amount, delta=delta
        )
        if existing is None:
            raise
        return existing


def credits_grant(*, workspace: Workspace, amount: int, reason: str, reference: str) -> LedgerEntry:
    """Adds credits. Idempotent on `reference`: a repeat returns the first entry."""
    _positive(amount, "amount")
    return _idempotent_movement(
        workspace=workspace,
        kind=Kind.GRANT,
        amount=amount,
        delta=amount,
        reference=reference,
        reason=reason,
    )


def credits_adjust(*, workspace: Workspace, delta: int, reason: str, reference: str) -> LedgerEntry:
    """A correction of the balance, either way (the ledger is never edited). A negative
    adjustment cannot take away held credits or push the balance below zero."""
    if not isinstance(delta, int) or delta == 0:
        raise ValidationFailed(details={"delta": ["Must be a non-zero whole number of credits."]})
    try:
        return _idempotent_movement(
            workspace=workspace,
            kind=Kind.ADJUSTMENT,
            amount=abs(delta),
            delta=delta,
            reference=reference,
            reason=reason,
        )
    except _Insufficient as exc:
        raise InsufficientCredits(required=-delta, balance=exc.available) from None


def _existing_hold(*, reference: str, workspace: Workspace, amount: int) -> Hold | None:
    hold = Hold.objects.filter(reference=reference).first()
    if hold is not None and (hold.workspace_id, hold.amount) != (workspace.pk, amount):
        raise ReferenceConflict(details={"reference": reference})
    return hold


def hold_place(
    *,
    workspace: Workspace,
    amount: int,
    reference: str,
    workflow_id: str,
    expires_at: datetime | None = None,
    quote: Quote | None = None,
) -> Hold:
    """Moves `amount` from available to held, or raises InsufficientCredits (details:
    `required`, `balance` = the available credits) and writes nothing. Idempotent on
    `reference`: a repeat returns the first hold. `expires_at=None` means the hold lives until
    settled or released. Pass the redeemed `quote` to link the hold to what priced it."""
    _positive(amount, "amount")
    existing = _existing_hold(reference=reference, workspace=workspace, amount=amount)
    if existing:
        return existing
    try:
        with transaction.atomic():
            # The hold row first: its unique reference makes a concurrent duplicate wait here
            # and then fail, before it touches the account.
            hold = Hold.objects.create(
                workspace=workspace,
                reference=reference,
                workflow_id=workflow_id,
                amount=amount,
                expires_at=expires_at,
                quote=quote,
            )
            _post(
                workspace_id=workspace.pk,
                kind=Kind.HOLD,
                amount=amount,
                reference=f"hold:{hold.pk}:place",
                hold=hold,
                workflow_id=workflow_id,
                quote_id=quote.pk if quote else None,
            )
            return hold
    except _Insufficient as exc:
        raise InsufficientCredits(required=amount, balance=exc.available) from None
    except IntegrityError:
        existing = _existing_hold(reference=reference, workspace=workspace, amount=amount)
        if existing is None:
            raise
        return existing


def _locked_hold(hold_id: uuid.UUID | str) -> Hold:
    try:
        return Hold.objects.select_for_update().get(pk=hold_id)
    except (Hold.DoesNotExist, ValueError, ValidationError):
        raise NotFound(f"No hold {hold_id}.") from None


def _check_charge(hold: Hold, charge: int) -> None:
    if not isinstance(charge, int) or isinstance(charge, bool) or charge < 0:
        raise ValidationFailed(details={"charge": ["Must be a whole number ≥ 0."]})
    if charge > hold.amount:
        raise ChargeExceedsHold(
            f"Charge {charge} is above the {hold.amount} credits held.",
            details={"charge": charge, "held": hold.amount, "hold_id": str(hold.pk)},
        )


@transaction.atomic
def hold_settle(*, hold_id: uuid.UUID | str, charge: int) -> Hold:
    """Charges `charge` (≤ the amount held) and returns the rest to available. Exactly once:
    once the hold is no longer open, any further call changes nothing and returns the hold as
    it was first finalized (a hold the sweeper already expired stays expired, charged 0)."""
    hold = _locked_hold(hold_id)
    _check_charge(hold, charge)
    if hold.state != Hold.State.OPEN:
        return hold
    remainder = hold.amount - charge
    _post_hold_movement(hold=hold, kind=Kind.CHARGE, amount=charge, suffix="charge")
    _post_hold_movement(hold=hold, kind=Kind.RELEASE, amount=remainder, suffix="release")
    hold.state = Hold.State.SETTLED
    hold.charged, hold.refunded = charge, remainder
    hold.settled_at = timezone.now()
    hold.save(update_fields=["state", "charged", "refunded", "settled_at", "updated_at"])
    return hold


def _release(hold_id: uuid.UUID | str, *, state: str) -> tuple[Hold, bool]:
    """Returns the hold and whether this call released it."""
    hold = _locked_hold(hold_id)
    if hold.state != Hold.State.OPEN:
        return hold, False
    _post_hold_movement(hold=hold, kind=Kind.RELEASE, amount=hold.amount, suffix="release")
    hold.state = state
    hold.refunded = hold.amount
    hold.settled_at = timezone.now()
    hold.save(update_fields=["state", "refunded", "settled_at", "updated_at"])
    return hold, True


@transaction.atomic
def hold_release(*, hold_id: uuid.UUID | str) -> Hold:
    """Voids an open hold: everything back to available. A no-op on a hold no longer open."""
    hold, _ = _release(hold_id, state=Hold.State.RELEASED)
    return hold


@transaction.atomic
def hold_settle_for_review(*, hold_id: uuid.UUID | str, charge: int, reason: str) -> Hold:
    """For a workflow that failed through our fault: charge what was delivered and keep the
    remainder reserved with refund_status `pending_review` until an operator decides. If
    nothing remains there is nothing to review: it settles normally. Exactly once, like
    hold_settle."""
    hold = _locked_hold(hold_id)
    _check_charge(hold, charge)
    if hold.state != Hold.State.OPEN:
        return hold
    _post_hold_movement(hold=hold, kind=Kind.CHARGE, amount=charge, suffix="charge")
    hold.state = Hold.State.SETTLED
    hold.charged = charge
    hold.failure_reason = reason
    hold.settled_at = timezone.now()
    if charge < hold.amount:
        hold.refund_status = Hold.RefundStatus.PENDING_REVIEW
    hold.save(
        update_fields=[
            "state",
            "charged",
            "failure_reason",
            "settled_at",
            "refund_status",
            "updated_at",
        ]
    )
    return hold


def _review(hold_id: uuid.UUID | str, *, reviewer: User | None, approve: bool) -> Hold:
    hold = _locked_hold(hold_id)
    if hold.refund_status != Hold.RefundStatus.PENDING_REVIEW:
        return hold  # already decided (or never under review): nothing to do
    remainder = hold.outstanding
    if approve:
        _post_hold_movement(
            hold=hold, kind=Kind.REFUND, amount=remainder, suffix="review", reason="refund approved"
        )
        hold.refunded += remainder
        hold.refund_status = Hold.RefundStatus.APPROVED
    else:
        _post_hold_movement(
            hold=hold, kind=Kind.CHARGE, amount=remainder, suffix="review", reason="refund rejected"
        )
        hold.charged += remainder
        hold.refund_status = Hold.RefundStatus.REJECTED
    hold.reviewed_by = reviewer
    hold.reviewed_at = timezone.now()
    hold.save(
        update_fields=[
            "refunded",
            "charged",
            "refund_status",
            "reviewed_by",
            "reviewed_at",
            "updated_at",
        ]
    )
    return hold


@transaction.atomic
def refund_approve(*, hold_id: uuid.UUID | str, reviewer: User | None) -> Hold:
    """Returns a reviewed hold's remainder to available (a `refund` entry). Idempotent."""
    return _review(hold_id, reviewer=reviewer, approve=True)


@transaction.atomic
def refund_reject(*, hold_id: uuid.UUID | str, reviewer: User | None) -> Hold:
    """Charges a reviewed hold's remainder (a `charge` entry). Idempotent."""
    return _review(hold_id, reviewer=reviewer, approve=False)


def holds_expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Releases open holds past their `expires_at` (state `expired`); returns how many. Each
    hold in its own transaction, so one slow row never blocks the sweep."""
    now = now or timezone.now()
    overdue = list(
        Hold.objects.filter(state=Hold.State.OPEN, expires_at__lt=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    expired = 0
    for hold_id in overdue:
        with transaction.atomic():
            hold, released = _release(hold_id, state=Hold.State.EXPIRED)
        if released:
            expired += 1
            logger.info(
                "Expired hold %s (%s credits) of %s", hold.pk, hold.amount, hold.workflow_id
            )
    return expired
