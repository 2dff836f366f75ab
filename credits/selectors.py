from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncDate

from accounts.models import Workspace
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
