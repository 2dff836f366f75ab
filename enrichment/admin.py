from django.contrib import admin
from django.utils.html import format_html, format_html_join

from enrichment.models import WebhookDelivery, WebhookEndpoint, Workflow, WorkflowItem
from providers.selectors import provider_call_stats


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
        "attempt_trail",
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

    @admin.display(description="attempts")
    def attempt_trail(self, obj: WorkflowItem) -> str:
        """The waterfall in order: provider, data point, outcome, latency (cache hits marked)."""
        return (
            " → ".join(
                f"{a.get('provider')} {a.get('data_point')}: {a.get('outcome')}"
                + (" (cache)" if a.get("cached") else f" {a.get('ms', 0)} ms")
                for a in obj.attempts or []
            )
            or "—"
        )


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

    @admin.display(description="Per provider (calls tagged with this workflow)")
    def provider_summary(self, obj: Workflow) -> str:
        stats = provider_call_stats(tag=obj.pk)
        if not stats:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    row["provider"],
                    row["calls"],
                    row["cache_hits"],
                    row["found"],
                    _percent(row["hit_rate"]),
                    _ms(row["p50_ms"]),
                    _ms(row["p95_ms"]),
                    row["errors"],
                )
                for row in stats
            ),
        )
        return format_html(
            "<table><thead><tr><th>provider</th><th>calls</th><th>cache hits</th><th>hits</th>"
            "<th>hit rate</th><th>p50 ms</th><th>p95 ms</th><th>errors</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{100 * rate:.1f} %"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


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
