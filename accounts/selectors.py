import uuid
from dataclasses import dataclass
from datetime import date

from django.db.models import CharField, Q, QuerySet, Sum
from django.db.models.functions import Cast

from accounts.models import ApiKey, ApiUsage, Workspace
from common.exceptions import NotFound

USAGE_GROUPS = ("tool", "key", "day", "error")
_ERRORS = Q(status_code__gte=400)
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


@dataclass(frozen=True)
class UsageBucket:
    group: str
    calls: int
    errors: int


@dataclass(frozen=True)
class ApiUsageCounts:
    buckets: list[UsageBucket]
    total_calls: int
    total_errors: int


def api_usage_counts(*, workspace: Workspace, since: date, group_by: str) -> ApiUsageCounts:
    """Calls and errors from `since` on, per `group_by` bucket (one of USAGE_GROUPS)."""
    usage = ApiUsage.objects.filter(workspace=workspace, day__gte=since)
    if group_by == "error":
        usage = usage.filter(_ERRORS)
    rows = (
        usage.annotate(group=Cast(_GROUP_COLUMN[group_by], CharField()))
        .values("group")
        .annotate(n_calls=Sum("calls"), n_errors=Sum("calls", filter=_ERRORS))
        .order_by("group")
    )
    totals = usage.aggregate(n_calls=Sum("calls"), n_errors=Sum("calls", filter=_ERRORS))
    return ApiUsageCounts(
        buckets=[
            UsageBucket(group=row["group"], calls=row["n_calls"], errors=row["n_errors"] or 0)
            for row in rows
        ],
        total_calls=totals["n_calls"] or 0,
        total_errors=totals["n_errors"] or 0,
    )
