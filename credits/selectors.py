from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Workspace
from accounts.selectors import api_usage_counts
from credits.models import CreditAccount, Hold, LedgerEntry, Quote


@dataclass(frozen=True)
class Balance:
    balance: int
    held: int

    @property
    def available(self) -> int:
        return self.balance - self.held


def balance_get(*, workspace: Workspace) -> Balance:
    """The workspace's totals; zeros before its first movement (reading creates nothing)."""
    row = (
        CreditAccount.objects.filter(workspace_id=workspace.pk)
        .values_list("balance", "held")
        .first()
    )
    return Balance(*row) if row else Balance(0, 0)


def ledger_list(
    *,
    workspace: Workspace,
    kind: str | None = None,
    workflow_id: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[LedgerEntry]:
    """Newest first, keyset-paginated on the entry id; returns up to `limit + 1` rows so the
    caller can tell whether there is a next page."""
    entries: QuerySet[LedgerEntry] = LedgerEntry.objects.filter(workspace=workspace)
    if kind:
        entries = entries.filter(kind=kind)
    if workflow_id:
        entries = entries.filter(workflow_id=workflow_id)
    if before_id is not None:
        entries = entries.filter(id__lt=before_id)
    return list(entries.order_by("-id")[: limit + 1])


def holds_pending_review() -> QuerySet[Hold]:
    return Hold.objects.filter(refund_status=Hold.RefundStatus.PENDING_REVIEW)


def credits_spent_by_day(*, workspace: Workspace, since: date) -> dict[date, int]:
    """Charged credits per UTC day since `since` (charges net of nothing: refunds and
    releases return held credits, they never undo a charge)."""
    rows = (
        LedgerEntry.objects.filter(
            workspace=workspace, kind=LedgerEntry.Kind.CHARGE, created_at__date__gte=since
        )
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(spent=Sum("amount"))
    )
    return {row["day"]: row["spent"] for row in rows}


def quote_row_count(*, workspace: Workspace, quote_id: str, default: int) -> int:
    """The row count a quote priced, or `default` for a quote this workspace does not hold
    (its redemption then refuses it)."""
    rows = Quote.objects.filter(workspace=workspace, quote_id=quote_id).values_list(
        "row_count", flat=True
    )
    return next(iter(rows), default)


@dataclass(frozen=True)
class UsageRow:
    group: str
    calls: int
    errors: int
    credits_spent: int


@dataclass(frozen=True)
class UsageReport:
    rows: list[UsageRow]
    total_calls: int
    total_errors: int
    total_credits_spent: int


def usage_report(*, workspace: Workspace, days: int, group_by: str) -> UsageReport:
    """API calls and errors over the last `days` days (today included), per bucket, with the
    credits spent. Credits are spent by workers after the request, so they come from the
    ledger, by day; they cannot be attributed to a route or key."""
    since = timezone.now().date() - timedelta(days=days - 1)
    usage = api_usage_counts(workspace=workspace, since=since, group_by=group_by)
    spent = credits_spent_by_day(workspace=workspace, since=since)
    by_day = {str(day): amount for day, amount in spent.items()} if group_by == "day" else {}
    return UsageReport(
        rows=[
            UsageRow(
                group=bucket.group,
                calls=bucket.calls,
                errors=bucket.errors,
                credits_spent=by_day.get(bucket.group, 0),
            )
            for bucket in usage.buckets
        ],
        total_calls=usage.total_calls,
        total_errors=usage.total_errors,
        total_credits_spent=sum(spent.values()),
    )
