from datetime import timedelta

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from common.exceptions import InsufficientCredits, NotFound, ValidationFailed
from credits.exceptions import ChargeExceedsHold, ReferenceConflict
from credits.models import CreditAccount, Hold, LedgerEntry
from credits.services import (
    balance_get,
    credits_adjust,
    credits_grant,
    hold_release,
    hold_settle,
    hold_settle_for_review,
    holds_expire,
    refund_approve,
    refund_reject,
)
from credits.tasks import expire_holds
from tests.credits.factories import grant, place

pytestmark = pytest.mark.django_db


def assert_ledger_consistent(workspace):
    """The cached totals equal the ledger sums, and held equals what holds still reserve."""
    account = CreditAccount.objects.get(workspace=workspace)
    sums = LedgerEntry.objects.filter(workspace=workspace).aggregate(
        balance=Sum("balance_delta"), held=Sum("held_delta")
    )
    assert (account.balance, account.held) == (sums["balance"] or 0, sums["held"] or 0)
    outstanding = sum(h.outstanding for h in Hold.objects.filter(workspace=workspace))
    assert account.held == outstanding
    assert account.balance - account.held >= 0


def kinds(hold):
    return sorted(hold.entries.values_list("kind", flat=True))


def test_balance_get_is_zero_before_any_movement_and_creates_nothing(workspace):
    assert balance_get(workspace=workspace).available == 0
    assert not CreditAccount.objects.exists()


def test_credits_grant_adds_and_is_idempotent_on_reference(workspace):
    first = credits_grant(workspace=workspace, amount=100, reason="welcome", reference="inv-1")
    again = credits_grant(workspace=workspace, amount=100, reason="welcome", reference="inv-1")
    assert again.pk == first.pk
    assert balance_get(workspace=workspace).balance == 100
    assert (first.balance_after, first.held_after) == (100, 0)
    assert_ledger_consistent(workspace)


def test_credits_grant_same_reference_other_amount_or_workspace_conflicts(
    workspace, other_workspace
):
    grant(workspace, 10, reference="inv-2")
    with pytest.raises(ReferenceConflict):
        grant(workspace, 11, reference="inv-2")
    with pytest.raises(ReferenceConflict):
        grant(other_workspace, 10, reference="inv-2")
    assert balance_get(workspace=other_workspace).balance == 0


@pytest.mark.parametrize("amount", [0, -5, 1.5, True])
def test_credits_grant_rejects_non_positive_amounts(workspace, amount):
    with pytest.raises(ValidationFailed):
        grant(workspace, amount)


def test_hold_place_moves_available_to_held(workspace):
    grant(workspace, 30)
    hold = place(workspace, 12, workflow_id="enrich-1")
    totals = balance_get(workspace=workspace)
    assert (totals.balance, totals.held, totals.available) == (30, 12, 18)
    assert hold.state == "open"
    assert kinds(hold) == ["hold"]
    assert hold.entries.get().workflow_id == "enrich-1"
    assert_ledger_consistent(workspace)


def test_hold_place_insufficient_raises_with_details_and_writes_nothing(workspace):
    grant(workspace, 5)
    place(workspace, 3)
    with pytest.raises(InsufficientCredits) as caught:
        place(workspace, 3, reference="too-much")
    assert caught.value.details == {"required": 3, "balance": 2}
    assert not Hold.objects.filter(reference="too-much").exists()
    assert LedgerEntry.objects.count() == 2
    assert balance_get(workspace=workspace).held == 3


def test_hold_place_on_a_workspace_without_account_is_insufficient(workspace):
    with pytest.raises(InsufficientCredits) as caught:
        place(workspace, 1)
    assert caught.value.details == {"required": 1, "balance": 0}


def test_hold_place_retry_with_same_reference_returns_first_hold(workspace):
    grant(workspace, 10)
    first = place(workspace, 4, reference="wf-9")
    again = place(workspace, 4, reference="wf-9")
    assert again.pk == first.pk
    assert balance_get(workspace=workspace).held == 4
    with pytest.raises(ReferenceConflict):
        place(workspace, 5, reference="wf-9")


def test_hold_settle_charges_part_and_releases_the_rest(workspace):
    grant(workspace, 20)
    hold = place(workspace, 11)
    settled = hold_settle(hold_id=hold.pk, charge=1)
    assert (settled.state, settled.charged, settled.refunded) == ("settled", 1, 10)
    assert settled.charged + settled.refunded == settled.amount
    totals = balance_get(workspace=workspace)
    assert (totals.balance, totals.held) == (19, 0)
    assert kinds(hold) == ["charge", "hold", "release"]
    assert_ledger_consistent(workspace)


@pytest.mark.parametrize(
    ("charge", "expected"), [(0, ["hold", "release"]), (7, ["charge", "hold"])]
)
def test_hold_settle_writes_no_empty_entries(workspace, charge, expected):
    grant(workspace, 7)
    hold = place(workspace, 7)
    hold_settle(hold_id=hold.pk, charge=charge)
    assert kinds(hold) == expected
    assert_ledger_consistent(workspace)


def test_hold_settle_twice_is_a_no_op_returning_the_first_result(workspace):
    grant(workspace, 20)
    hold = place(workspace, 10)
    first = hold_settle(hold_id=hold.pk, charge=4)
    second = hold_settle(hold_id=hold.pk, charge=9)
    assert (second.charged, second.refunded, second.settled_at) == (4, 6, first.settled_at)
    assert LedgerEntry.objects.filter(hold=hold).count() == 3
    assert balance_get(workspace=workspace).balance == 16


def test_hold_settle_charge_above_hold_is_an_error_and_changes_nothing(workspace):
    grant(workspace, 20)
    hold = place(workspace, 5)
    with pytest.raises(ChargeExceedsHold):
        hold_settle(hold_id=hold.pk, charge=6)
    with pytest.raises(ValidationFailed):
        hold_settle(hold_id=hold.pk, charge=-1)
    hold.refresh_from_db()
    assert hold.state == "open"
    assert balance_get(workspace=workspace).held == 5


def test_hold_settle_unknown_hold_is_not_found(db):
    with pytest.raises(NotFound):
        hold_settle(hold_id="00000000-0000-0000-0000-000000000000", charge=0)
    with pytest.raises(NotFound):
        hold_release(hold_id="not-a-uuid")


def test_hold_release_returns_everything_once(workspace):
    grant(workspace, 10)
    hold = place(workspace, 10)
    released = hold_release(hold_id=hold.pk)
    hold_release(hold_id=hold.pk)
    assert (released.state, released.charged, released.refunded) == ("released", 0, 10)
    assert kinds(hold) == ["hold", "release"]
    # a late settle (e.g. a task running after its workflow was cancelled) cannot charge
    assert hold_settle(hold_id=hold.pk, charge=3).charged == 0
    assert balance_get(workspace=workspace).available == 10
    assert_ledger_consistent(workspace)


def test_hold_settle_for_review_keeps_remainder_held_until_approved(workspace, admin_user):
    grant(workspace, 50)
    hold = place(workspace, 22, workflow_id="bulk-enrich-1")
    reviewed = hold_settle_for_review(hold_id=hold.pk, charge=2, reason="provider outage")
    assert (reviewed.refund_status, reviewed.charged, reviewed.outstanding) == (
        "pending_review",
        2,
        20,
    )
    assert balance_get(workspace=workspace).held == 20
    assert_ledger_consistent(workspace)

    approved = refund_approve(hold_id=hold.pk, reviewer=admin_user)
    refund_approve(hold_id=hold.pk, reviewer=admin_user)
    refund_reject(hold_id=hold.pk, reviewer=admin_user)  # already decided: no effect
    assert (approved.refund_status, approved.charged, approved.refunded) == ("approved", 2, 20)
    assert approved.reviewed_by == admin_user
    assert approved.reviewed_at is not None
    assert kinds(hold) == ["charge", "hold", "refund"]
    totals = balance_get(workspace=workspace)
    assert (totals.balance, totals.held) == (48, 0)
    assert_ledger_consistent(workspace)


def test_refund_reject_charges_the_remainder_once(workspace, admin_user):
    grant(workspace, 50)
    hold = place(workspace, 11)
    hold_settle_for_review(hold_id=hold.pk, charge=1, reason="worker lost")
    rejected = refund_reject(hold_id=hold.pk, reviewer=admin_user)
    refund_reject(hold_id=hold.pk, reviewer=admin_user)
    refund_approve(hold_id=hold.pk, reviewer=admin_user)
    assert (rejected.refund_status, rejected.charged, rejected.refunded) == ("rejected", 11, 0)
    assert kinds(hold) == ["charge", "charge", "hold"]
    assert balance_get(workspace=workspace).balance == 39
    assert_ledger_consistent(workspace)


def test_hold_settle_for_review_with_nothing_left_needs_no_review(workspace):
    grant(workspace, 5)
    hold = place(workspace, 5)
    settled = hold_settle_for_review(hold_id=hold.pk, charge=5, reason="failed late")
    assert (settled.refund_status, settled.charged) == ("not_applicable", 5)
    assert refund_approve(hold_id=hold.pk, reviewer=None).refunded == 0


def test_holds_expire_releases_only_overdue_open_holds(workspace):
    grant(workspace, 30)
    now = timezone.now()
    overdue = place(workspace, 5, expires_at=now - timedelta(seconds=1))
    later = place(workspace, 5, expires_at=now + timedelta(hours=1))
    forever = place(workspace, 5)
    settled = place(workspace, 5, expires_at=now - timedelta(seconds=1))
    hold_settle(hold_id=settled.pk, charge=1)

    assert expire_holds() == 1
    assert holds_expire() == 0  # a second sweep finds nothing
    states = {h.pk: h.state for h in Hold.objects.all()}
    assert states[overdue.pk] == "expired"
    assert {states[later.pk], states[forever.pk]} == {"open"}
    assert states[settled.pk] == "settled"
    assert balance_get(workspace=workspace).held == 10
    assert_ledger_consistent(workspace)


def test_credits_adjust_corrects_either_way_within_available(workspace):
    grant(workspace, 10)
    place(workspace, 6)
    credits_adjust(workspace=workspace, delta=-4, reason="chargeback", reference="adj-1")
    with pytest.raises(InsufficientCredits):
        credits_adjust(workspace=workspace, delta=-1, reason="too far", reference="adj-2")
    credits_adjust(workspace=workspace, delta=3, reason="goodwill", reference="adj-3")
    credits_adjust(workspace=workspace, delta=3, reason="goodwill", reference="adj-3")
    totals = balance_get(workspace=workspace)
    assert (totals.balance, totals.held) == (9, 6)
    assert_ledger_consistent(workspace)


def test_ledger_entries_are_append_only(workspace):
    entry = grant(workspace, 10)
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()
    # the database refuses too, whoever asks
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=1000)
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.amount == 10


def test_account_check_constraints_refuse_negative_available(workspace):
    grant(workspace, 3)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.filter(workspace=workspace).update(held=4)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditAccount.objects.filter(workspace=workspace).update(held=-1, balance=0)


def test_ledger_entry_shape_constraint_refuses_inconsistent_deltas(workspace):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            workspace=workspace,
            kind="grant",
            amount=5,
            balance_delta=50,
            held_delta=0,
            balance_after=50,
            held_after=0,
            reference="forged",
        )
