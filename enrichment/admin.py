from django.contrib import admin
from django.db.models import Avg, Count, Q

from enrichment.models import WebhookDelivery, WebhookEndpoint, Workflow, WorkflowItem


class WorkflowItemInline(admin.TabularInline):
    model = WorkflowItem
    fields = (
        "lead",
        "status",
        "email",
        "email_status",
        "phone",
        "provider",
        "credits_charged",
        "error",
        "attempts",
    )
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0
    show_change_link = False
    raw_id_fields = ("lead",)

    def get_queryset(self, request):
        # A bulk run has up to 100k items: the page shows the latest 200.
        queryset = super().get_queryset(request)
        ids = queryset.order_by("-id").values_list("id", flat=True)[:200]
        return queryset.filter(id__in=list(ids)).select_related("lead")


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "workspace",
        "kind",
        "status",
        "enrichment_type",
        "progress",
        "total",
        "found_emails",
        "found_phones",
        "credits_reserved",
        "credits_charged",
        "refund_status",
        "created_at",
    )
    list_filter = ("status", "kind", "enrichment_type", "refund_status")
    search_fields = ("id", "workspace__name")
    inlines = (WorkflowItemInline,)
    readonly_fields = [field.name for field in Workflow._meta.fields] + ["provider_summary"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Per provider (items that provider answered)")
    def provider_summary(self, obj: Workflow) -> str:
        rows = (
            obj.items.exclude(provider="")
            .values("provider")
            .annotate(
                items=Count("id"),
                emails=Count("id", filter=~Q(email="")),
                phones=Count("id", filter=~Q(phone="")),
                avg_credits=Avg("credits_charged"),
            )
            .order_by("-items")
        )
        return (
            "; ".join(
                f"{row['provider']}: {row['items']} leads, {row['emails']} emails, "
                f"{row['phones']} phones"
                for row in rows
            )
            or "—"
        )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "workspace", "is_active", "created_at")
    list_filter = ("is_active",)
    exclude = ("secret",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event_id", "endpoint", "status", "attempts", "last_status_code", "created_at")
    list_filter = ("status",)
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
