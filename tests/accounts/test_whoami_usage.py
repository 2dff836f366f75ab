import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", ["/api/v2", "/api/v1/public"])
def test_whoami_reports_workspace_and_scopes(make_client, workspace, prefix):
    client = make_client(workspace, scopes=["lists:read"])
    body = client.get(f"{prefix}/whoami").json()
    assert body["organization_id"] == str(workspace.id)
    assert body["organization_name"] == workspace.name
    assert body["auth_type"] == "api_key"
    assert body["scopes"] == ["lists:read"]
    assert "user_email" in body


def test_usage_counts_requests_per_route_status_and_key(api):
    for _ in range(3):
        api.get("/api/v2/whoami")
    api.get("/api/v1/public/whoami")
    api.delete("/api/v2/whoami")
    api.get("/api/v2/api-keys")

    by_tool = api.get("/api/v2/usage", {"group_by": "tool", "days": 1}).json()
    rows = {row["group"]: row for row in by_tool["rows"]}
    # both prefixes land in one bucket; the 405 counts as a call and an error
    assert rows["whoami"] == {"group": "whoami", "calls": 5, "errors": 1, "credits_spent": 0}
    assert by_tool["total_calls"] == 6  # 4 whoami, 1 api-keys, 1 rejected DELETE

    by_error = api.get("/api/v2/usage", {"group_by": "error"}).json()
    assert {row["group"] for row in by_error["rows"]} == {"method_not_allowed"}


def test_usage_is_workspace_scoped(api, other_api):
    api.get("/api/v2/whoami")
    body = other_api.get("/api/v2/usage").json()
    assert body["total_calls"] == 0


def test_usage_rejects_bad_params(api):
    response = api.get("/api/v2/usage", {"days": 0, "group_by": "planet"})
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"days", "group_by"}


def test_usage_reports_credits_charged_per_day(api, workspace):
    from django.utils import timezone

    from credits.services import credits_grant, hold_place, hold_settle

    credits_grant(workspace=workspace, amount=50, reason="t", reference="g1")
    hold = hold_place(workspace=workspace, amount=11, reference="h1", workflow_id="wf-1")
    hold_settle(hold_id=hold.pk, charge=7)
    api.get("/api/v2/whoami")
    body = api.get("/api/v2/usage", {"group_by": "day"}).json()
    assert body["total_credits_spent"] == 7
    today = [row for row in body["rows"] if row["group"] == str(timezone.now().date())]
    assert today[0]["credits_spent"] == 7
