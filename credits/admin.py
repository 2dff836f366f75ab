from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from credits.models import Hold, LedgerEntry, RefundReview
from credits.services import refund_approve, refund_reject


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money records are written by services only; the admin shows them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "workspace",
        "kind",
        "amount",
        "balance_delta",
        "held_delta",
        "balance_after",
        "held_after",
        "workflow_id",
        "reference",
    )
    list_filter = ("kind",)
    search_fields = ("reference", "workflow_id", "workspace__name")
    list_select_related = ("workspace",)
    ordering = ("-id",)


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "workspace",
        "workflow_id",
        "amount",
        "charged",
        "refunded",
        "state",
        "refund_status",
        "expires_at",
    )
    list_filter = ("state", "refund_status")
    search_fields = ("id", "reference", "workflow_id", "workspace__name")
    list_select_related = ("workspace",)


class ReviewStatusFilter(admin.SimpleListFilter):
    """Opens on the pending queue; decided reviews stay visible for audit."""

    title = "review status"
    parameter_name = "review"
    _STATUSES = {
        "pending": Hold.RefundStatus.PENDING_REVIEW,
        "approved": Hold.RefundStatus.APPROVED,
        "rejected": Hold.RefundStatus.REJECTED,
    }

    def lookups(self, request, model_admin):
        return [("pending", "Pending review"), ("approved", "Approved"), ("rejected", "Rejected")]

    def queryset(self, request, queryset):
        return queryset.filter(refund_status=self._STATUSES[self.value() or "pending"])

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": (self.value() or "pending") == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


@admin.register(RefundReview)
class RefundReviewAdmin(admin.ModelAdmin):
    """Holds of workflows that failed through our fault: the charged part is settled, the
    remainder is still reserved until an operator approves (refund) or rejects (charge) it."""

    list_display = (
        "workflow_id",
        "workspace",
        "amount",
        "charged",
        "remainder",
        "failure_reason",
        "settled_at",
        "refund_status",
        "reviewed_by",
        "reviewed_at",
    )
    list_filter = (ReviewStatusFilter,)
    search_fields = ("workflow_id", "workspace__name", "failure_reason")
    list_select_related = ("workspace", "reviewed_by")
    ordering = ("settled_at",)
    actions = ("approve_refunds", "reject_refunds")
    readonly_fields = (
        "id",
        "workspace",
        "workflow_id",
        "reference",
        "amount",
        "charged",
        "refunded",
        "state",
        "refund_status",
        "failure_reason",
        "settled_at",
        "reviewed_by",
        "reviewed_at",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[RefundReview]:
        return super().get_queryset(request).exclude(refund_status=Hold.RefundStatus.NOT_APPLICABLE)

    @admin.display(description="remainder")
    def remainder(self, obj: RefundReview) -> int:
        return (
            obj.amount - obj.charged - obj.refunded
            if obj.refund_status == Hold.RefundStatus.PENDING_REVIEW
            else 0
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _decide(self, request: HttpRequest, queryset, decide, verb: str) -> None:
        decided = 0
        for hold_id in queryset.values_list("pk", flat=True):
            before = Hold.objects.values_list("refund_status", flat=True).get(pk=hold_id)
            hold = decide(hold_id=hold_id, reviewer=request.user)
            decided += before != hold.refund_status
        skipped = queryset.count() - decided
        message = f"{verb} {decided} refund(s)."
        if skipped:
            message += f" {skipped} already decided, left as they were."
        messages.success(request, message)

    @admin.action(description="Approve refund of the remainder", permissions=["change"])
    def approve_refunds(self, request: HttpRequest, queryset) -> None:
        self._decide(request, queryset, refund_approve, "Approved")

    @admin.action(description="Reject refund (charge the remainder)", permissions=["change"])
    def reject_refunds(self, request: HttpRequest, queryset) -> None:
        self._decide(request, queryset, refund_reject, "Rejected")
