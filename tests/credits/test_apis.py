import pytest

from credits.services import hold_settle
from tests.credits.factories import grant, place
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", ["/api/v2", "/api/v1/public"])
def test_balance_reports_spendable_credits_and_totals(api, workspace, prefix):
    grant(workspace, 40)
    place(workspace, 15)
    body = api.get(f"{prefix}/credits/balance").json()
    assert body["organization_id"] == str(workspace.id)
    assert (body["credits"], body["balance"], body["held"]) == (25, 40, 15)
    assert isinstance(body["timestamp_ms"], int)


def test_balance_of_a_new_workspace_is_zero(api):
    body = api.get("/api/v2/credits/balance").json()
    assert (body["credits"], body["balance"], body["held"]) == (0, 0, 0)


def test_ledger_lists_newest_first_with_signed_deltas(api, workspace):
    grant(workspace, 20, reference="welcome")
    hold = place(workspace, 11, workflow_id="enrich-abc")
    hold_settle(hold_id=hold.pk, charge=1)
    entries = api.get("/api/v2/credits/ledger").json()["entries"]
    assert [(e["kind"], e["balance_delta"], e["held_delta"]) for e in entries] == [
        ("release", 0, -10),
        ("charge", -1, -1),
        ("hold", 0, 11),
        ("grant", 20, 0),
    ]
    assert entries[0]["hold_id"] == str(hold.pk)
    assert (entries[0]["balance_after"], entries[0]["held_after"]) == (19, 0)
    assert entries[-1]["reference"] == "grant:welcome"


def test_ledger_filters_by_kind_and_workflow(api, workspace):
    grant(workspace, 20)
    for workflow_id in ("enrich-1", "enrich-2"):
        hold_settle(hold_id=place(workspace, 2, workflow_id=workflow_id).pk, charge=2)
    charges = api.get("/api/v2/credits/ledger", {"kind": "charge"}).json()["entries"]
    assert len(charges) == 2
    one = api.get("/api/v2/credits/ledger", {"workflow_id": "enrich-2"}).json()["entries"]
    assert {(e["kind"], e["workflow_id"]) for e in one} == {
        ("hold", "enrich-2"),
        ("charge", "enrich-2"),
    }


def test_ledger_pages_with_a_cursor(api, workspace):
    for n in range(5):
        grant(workspace, n + 1)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/v2/credits/ledger", params).json()
        seen += [e["amount"] for e in body["entries"]]
        pages += 1
        cursor = body["cursor"]
        assert body["has_more"] == (cursor is not None)
        if not cursor:
            break
    assert (seen, pages) == ([5, 4, 3, 2, 1], 3)


def test_ledger_rejects_bad_params_and_forged_cursor(api):
    response = api.get("/api/v2/credits/ledger", {"kind": "gift", "limit": 0})
    assert set(assert_error(response, 400, "validation_error")["details"]) == {"kind", "limit"}
    response = api.get("/api/v2/credits/ledger", {"cursor": "forged"})
    assert "cursor" in assert_error(response, 400, "validation_error")["details"]


def test_ledger_and_balance_are_workspace_scoped(api, other_api, workspace):
    grant(workspace, 9)
    assert other_api.get("/api/v2/credits/ledger").json()["entries"] == []
    assert other_api.get("/api/v2/credits/balance").json()["credits"] == 0
