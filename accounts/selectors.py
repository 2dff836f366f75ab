import uuid
from datetime import timedelta

from django.db.models import CharField, Q, QuerySet, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import ApiKey, ApiUsage, Workspace
from common.exceptions import NotFound
from credits.selectors import credits_spent_by_day

USAGE_GROUPS = ("tool", "key", "day", "error")
_COUNTS = {"n_calls": Sum("calls"), "n_errors": Sum("calls", filter=Q(status_code__gte=400))}
_GROUP_COLUMN = {"tool": "route", "key": "api_key__prefix", "day": "day", "error": "error_code"}


def workspace_find(*, ref: str) -> Workspace:
    """A workspace by name, else by id: how an operator names one on the command line."""
    workspace = Workspace.objects.filter(name=ref).first()
    if workspace is None:
        try:
            workspace = Workspace.objects.filter(pk=uuid.UUID(ref)).first()
        except ValueError:
            workspace = None
    if workspace is None:
        raise NotFound(f"No workspace with id or name {ref!r}.")
    return workspace


def api_key_list(*, workspace: Workspace) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(workspace=workspace).order_by("-created_at")


def usage_report(*, workspace: Workspace, days: int, group_by: str) -> dict:
    """Calls and errors over the last `days` days (today included), per bucket."""
    since = timezone.now().date() - timedelta(days=days - 1)
    usage = ApiUsage.objects.filter(workspace=workspace, day__gte=since)
    if group_by == "error":
        usage = usage.filter(status_code__gte=400)
    column = _GROUP_COLUMN[group_by]
    rows = (
        usage.annotate(group=Cast(column, CharField()))
        .values("group")
        .annotate(**_COUNTS)
        .order_by("group")
    )
    totals = usage.aggregate(**_COUNTS)
    # Credits are spent by workers after the request, so they come from the ledger, by day;
    # they cannot be attributed to a route or key.
    spent = credits_spent_by_day(workspace=workspace, since=since)
    by_day = {str(day): amount for day, amount in spent.items()}
    return {
        "rows": [
            {
                "group": row["group"],
                "calls": row["n_calls"],
                "errors": row["n_errors"] or 0,
                "credits_spent": by_day.get(row["group"], 0) if group_by == "day" else 0,
            }
            for row in rows
        ],
        "total_calls": totals["n_calls"] or 0,
        "total_errors": totals["n_errors"] or 0,
        "total_credits_spent": sum(spent.values()),
    }
