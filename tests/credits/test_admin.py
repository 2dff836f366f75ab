import pytest
from django.urls import reverse

from credits.models import Hold, LedgerEntry
from credits.services import hold_settle_for_review
from tests.credits.factories import StaffUserFactory, grant, place

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:credits_refundreview_changelist"


@pytest.fixture
def operator(client):
    user = StaffUserFactory()
    client.force_login(user)
    return user


@pytest.fixture
def under_review(workspace):
    grant(workspace, 100)
    hold = place(workspace, 22, workflow_id="bulk-enrich-7")
    return hold_settle_for_review(hold_id=hold.pk, charge=2, reason="provider outage: hunter 503")


def run_action(client, action, hold, **query):
    return client.post(
        reverse(CHANGELIST) + ("?review=" + query["review"] if query else ""),
        {"action": action, "_selected_action": [str(hold.pk)]},
        follow=True,
    )


def test_refund_review_queue_lists_pending_holds_with_their_failure(client, operator, under_review):
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "bulk-enrich-7" in page
    assert "provider outage: hunter 503" in page


def test_refund_review_approve_twice_posts_one_refund(client, operator, under_review):
    assert run_action(client, "approve_refunds", under_review).status_code == 200
    # a second click on a stale queue page: the hold has left the pending view, nothing happens
    run_action(client, "approve_refunds", under_review)
    # the second click comes from the "approved" view of the queue, so the hold is selectable
    again = run_action(client, "approve_refunds", under_review, review="approved")
    run_action(client, "reject_refunds", under_review, review="approved")
    assert "already decided" in again.content.decode()
    hold = Hold.objects.get(pk=under_review.pk)
    assert (hold.refund_status, hold.charged, hold.refunded) == ("approved", 2, 20)
    assert (hold.reviewed_by, hold.reviewed_at is not None) == (operator, True)
    assert LedgerEntry.objects.filter(hold=hold, kind="refund").count() == 1
    assert hold.workspace.credit_account.available == 98


def test_refund_review_reject_twice_charges_the_remainder_once(client, operator, under_review):
    run_action(client, "reject_refunds", under_review)
    run_action(client, "reject_refunds", under_review, review="rejected")
    run_action(client, "approve_refunds", under_review, review="rejected")
    hold = Hold.objects.get(pk=under_review.pk)
    assert (hold.refund_status, hold.charged, hold.refunded) == ("rejected", 22, 0)
    assert LedgerEntry.objects.filter(hold=hold, kind="refund").count() == 0
    assert LedgerEntry.objects.filter(hold=hold, kind="charge").count() == 2
    assert hold.workspace.credit_account.balance == 78


def test_ledger_admin_is_read_only(client, operator, workspace):
    entry = grant(workspace, 5)
    assert client.get(reverse("admin:credits_ledgerentry_changelist")).status_code == 200
    assert client.get(reverse("admin:credits_ledgerentry_add")).status_code == 403
    delete = reverse("admin:credits_ledgerentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_workspace_admin_shows_balance_and_held(client, operator, workspace):
    grant(workspace, 30)
    place(workspace, 12)
    page = client.get(reverse("admin:accounts_workspace_change", args=[workspace.pk]))
    content = page.content.decode()
    assert ">30<" in content
    assert ">12<" in content
