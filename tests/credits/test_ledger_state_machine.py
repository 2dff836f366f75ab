"""Random interleavings of grants, holds, settlements, releases, reviews and duplicate retries
against PostgreSQL, checked against a plain-Python model after every step."""

import itertools

import pytest
from django.db.models import Count, Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from common.exceptions import InsufficientCredits
from credits.exceptions import ChargeExceedsHold
from credits.models import CreditAccount, Hold, LedgerEntry
from credits.services import (
    balance_get,
    credits_grant,
    hold_place,
    hold_release,
    hold_settle,
    hold_settle_for_review,
    refund_approve,
    refund_reject,
)
from tests.factories import WorkspaceFactory

_ids = itertools.count()


class LedgerMachine(RuleBasedStateMachine):
    holds = Bundle("holds")
    grants = Bundle("grants")

    def __init__(self) -> None:
        super().__init__()
        # A fresh workspace per run keeps runs independent inside the one test transaction.
        self.workspace = WorkspaceFactory()
        self.balance = 0
        self.held = 0
        # hold reference → model: amount, state, charged, refunded, review
        self.model: dict[str, dict] = {}

    # --- grants ---------------------------------------------------------------------------

    @rule(target=grants, amount=st.integers(1, 40))
    def grant(self, amount):
        reference = f"g{next(_ids)}"
        credits_grant(workspace=self.workspace, amount=amount, reason="sm", reference=reference)
        self.balance += amount
        return (reference, amount)

    @rule(grant=grants)
    def grant_retried(self, grant):
        reference, amount = grant
        credits_grant(workspace=self.workspace, amount=amount, reason="sm", reference=reference)

    # --- holds ----------------------------------------------------------------------------

    @rule(target=holds, amount=st.integers(1, 30))
    def place(self, amount):
        reference = f"h{next(_ids)}"
        available = self.balance - self.held
        place = lambda: hold_place(  # noqa: E731
            workspace=self.workspace, amount=amount, reference=reference, workflow_id=reference
        )
        if amount > available:
            with pytest.raises(InsufficientCredits) as refused:
                place()
            assert refused.value.details == {"required": amount, "balance": available}
            return multiple()
        hold = place()
        self.held += amount
        self.model[reference] = {
            "id": hold.pk,
            "amount": amount,
            "state": "open",
            "charged": 0,
            "refunded": 0,
            "review": "not_applicable",
        }
        return reference

    @rule(reference=holds)
    def place_retried(self, reference):
        expected = self.model[reference]
        hold = hold_place(
            workspace=self.workspace,
            amount=expected["amount"],
            reference=reference,
            workflow_id=reference,
        )
        assert hold.pk == expected["id"]

    @rule(reference=holds, data=st.data())
    def settle(self, reference, data):
        expected = self.model[reference]
        charge = data.draw(st.integers(0, expected["amount"]), label="charge")
        hold = hold_settle(hold_id=expected["id"], charge=charge)
        if expected["state"] == "open":
            self.held -= expected["amount"]
            self.balance -= charge
            expected.update(state="settled", charged=charge, refunded=expected["amount"] - charge)
        self._assert_matches(hold, expected)

    @rule(reference=holds, extra=st.integers(1, 5))
    def settle_above_hold(self, reference, extra):
        expected = self.model[reference]
        with pytest.raises(ChargeExceedsHold):
            hold_settle(hold_id=expected["id"], charge=expected["amount"] + extra)

    @rule(reference=holds)
    def release(self, reference):
        expected = self.model[reference]
        hold = hold_release(hold_id=expected["id"])
        if expected["state"] == "open":
            self.held -= expected["amount"]
            expected.update(state="released", refunded=expected["amount"])
        self._assert_matches(hold, expected)

    @rule(reference=holds, data=st.data())
    def settle_for_review(self, reference, data):
        expected = self.model[reference]
        charge = data.draw(st.integers(0, expected["amount"]), label="charge")
        hold = hold_settle_for_review(hold_id=expected["id"], charge=charge, reason="outage")
        if expected["state"] == "open":
            self.held -= charge
            self.balance -= charge
            expected.update(state="settled", charged=charge)
            if charge < expected["amount"]:
                expected["review"] = "pending_review"
        self._assert_matches(hold, expected)

    @rule(reference=holds, approve=st.booleans())
    def review(self, reference, approve):
        expected = self.model[reference]
        decide = refund_approve if approve else refund_reject
        hold = decide(hold_id=expected["id"], reviewer=None)
        if expected["review"] == "pending_review":
            remainder = expected["amount"] - expected["charged"]
            self.held -= remainder
            if approve:
                expected.update(review="approved", refunded=remainder)
            else:
                self.balance -= remainder
                expected.update(review="rejected", charged=expected["amount"])
        self._assert_matches(hold, expected)

    @rule(reference=consumes(holds))
    def forget(self, reference):
        """Drops a hold from the bundle so later steps favour newer holds (it stays checked)."""

    # --- checks ---------------------------------------------------------------------------

    @staticmethod
    def _assert_matches(hold, expected):
        assert (hold.state, hold.charged, hold.refunded, hold.refund_status) == (
            expected["state"],
            expected["charged"],
            expected["refunded"],
            expected["review"],
        )

    @invariant()
    def totals_match_model_and_ledger(self):
        totals = balance_get(workspace=self.workspace)
        assert (totals.balance, totals.held) == (self.balance, self.held)
        assert totals.available >= 0
        sums = LedgerEntry.objects.filter(workspace=self.workspace).aggregate(
            balance=Sum("balance_delta"), held=Sum("held_delta")
        )
        assert (sums["balance"] or 0, sums["held"] or 0) == (self.balance, self.held)

    @invariant()
    def held_is_what_holds_still_reserve(self):
        holds = list(Hold.objects.filter(workspace=self.workspace))
        assert sum(h.outstanding for h in holds) == self.held
        for hold in holds:
            if hold.state != "open" and hold.refund_status != "pending_review":
                assert hold.charged + hold.refunded == hold.amount

    @invariant()
    def every_hold_is_placed_and_settled_at_most_once(self):
        per_hold = (
            LedgerEntry.objects.filter(workspace=self.workspace, hold__isnull=False)
            .values("hold", "kind")
            .annotate(n=Count("id"))
        )
        for row in per_hold:
            # one placement, one release/refund; charge twice only as settle + rejected review
            assert row["n"] <= (2 if row["kind"] == "charge" else 1), row

    def teardown(self):
        assert CreditAccount.objects.filter(workspace=self.workspace).count() <= 1


@pytest.mark.django_db
def test_ledger_state_machine_keeps_every_invariant():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
