"""The admin: the suppression list (hashes only), erasure receipts, and an "erase" action on
leads (registered here, above leads, because erasure reaches every app)."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from common.exceptions import NotFound
from leads import suppression
from leads.admin import LeadAdmin
from leads.models import Lead, Suppression
from privacy.models import ErasureReceipt
from privacy.services import person_erase


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    """Entries are added through the API or an erasure (a value must be hashed with the key);
    here they can be read and removed."""

    list_display = ("id", "kind", "workspace", "source", "created_at")
    list_filter = ("kind", "source")
    search_fields = ("digest",)
    raw_id_fields = ("workspace",)
    readonly_fields = ("kind", "digest", "workspace", "source", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Suppression) -> None:
        self.delete_queryset(request, Suppression.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Suppression]) -> None:
        # Through the service, so the leads no entry covers any more are shown again.
        for entry in list(queryset):
            suppression.suppressions_remove(workspace=entry.workspace, ids=[entry.pk])


@admin.register(ErasureReceipt)
class ErasureReceiptAdmin(admin.ModelAdmin):
    list_display = ("id", "subject_kind", "workspace", "origin", "total_removed", "created_at")
    list_filter = ("origin", "subject_kind")
    readonly_fields = (
        "id",
        "workspace",
        "origin",
        "subject_kind",
        "subject_digest",
        "removed",
        "created_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: ErasureReceipt | None = None
    ) -> bool:
        return False


admin.site.unregister(Lead)


@admin.register(Lead)
class PrivacyLeadAdmin(LeadAdmin):
    actions = ["erase_people"]

    @admin.action(description="Erase these people (and suppress them in their workspace)")
    def erase_people(self, request: HttpRequest, queryset: QuerySet[Lead]) -> None:
        erased = 0
        for lead in list(queryset.select_related("workspace")):
            try:
                receipt, _ = person_erase(
                    workspace=lead.workspace,
                    kind="lead_id",
                    value=str(lead.pk),
                    origin=ErasureReceipt.Origin.ADMIN,
                )
            except NotFound:  # erased with an earlier lead of the selection: the same person
                continue
            erased += receipt.removed.get("leads", 0)
        self.message_user(
            request,
            f"Erased {erased} lead(s); receipts are listed under Erasure receipts.",
            messages.SUCCESS,
        )
