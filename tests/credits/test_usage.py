from datetime import timedelta

from django.utils import timezone

from accounts.models import ApiUsage
from credits.selectors import UsageRow, usage_report
from credits.services import hold_settle
from tests.credits.factories import grant, place
from tests.factories import ApiKeyFactory


def _usage(api_key, *, day, route, status_code, calls, error_code=""):
    ApiUsage.objects.create(
        workspace=api_key.workspace, api_key=api_key, day=day, method="GET", route=route,
        status_code=status_code, error_code=error_code, calls=calls,
    )  # fmt: skip


def test_usage_report_merges_calls_with_credits_spent_by_day(workspace):
    # given calls today and long ago, and 7 credits charged today
    today = timezone.now().date()
    api_key = ApiKeyFactory(workspace=workspace)
    _usage(api_key, day=today, route="whoami", status_code=200, calls=3)
    _usage(api_key, day=today, route="whoami", status_code=405, calls=1, error_code="x")
    _usage(api_key, day=today - timedelta(days=30), route="whoami", status_code=200, calls=9)
    grant(workspace, 50)
    hold_settle(hold_id=place(workspace, 11).pk, charge=7)
    # when grouped by day, the day's row carries the credits
    by_day = usage_report(workspace=workspace, days=7, group_by="day")
    assert by_day.rows == [UsageRow(group=str(today), calls=4, errors=1, credits_spent=7)]
    assert (by_day.total_calls, by_day.total_errors, by_day.total_credits_spent) == (4, 1, 7)
    # when grouped by route, credits are only in the total (they have no route)
    by_tool = usage_report(workspace=workspace, days=7, group_by="tool")
    assert by_tool.rows == [UsageRow(group="whoami", calls=4, errors=1, credits_spent=0)]
    assert by_tool.total_credits_spent == 7
