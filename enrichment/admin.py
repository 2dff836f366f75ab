from django.contrib import admin
from django.utils.html import format_html, format_html_join

from enrichment.models import SweeperRun, WebhookDelivery, WebhookEndpoint, Workflow, WorkflowItem
from enrichment.selectors import sweeper_status
from providers.base import DataPoint
from providers.registry import is_sandbox
from providers.selectors import provider_call_stats

# After a sandbox's name wherever the admin shows one: its answers are invented.
SANDBOX_MARK = " [sandbox: invented data]"


def _provider_name(name: str | None) -> str:
    return f"{name}{SANDBOX_MARK}" if name and is_sandbox(name) else (name or "")


class WorkflowItemInline(admin.TabularInline):
    model = WorkflowItem
    fields = (
        "lead",
        "status",
        "email",
        "email_status",
        "phone",
        "found_by",
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

    @admin.display(description="provider")
    def found_by(self, obj: WorkflowItem) -> str:
        return _provider_name(obj.provider) or "—"

    @admin.display(description="attempts")
    def attempt_trail(self, obj: WorkflowItem) -> str:
        """The waterfall in order: provider, data point, outcome (with an email's verdict),
        latency (cache hits marked, sandboxes marked)."""
        return (
            " → ".join(
                f"{_provider_name(a.get('provider'))} {a.get('data_point')}: {a.get('outcome')}"
                + (f" {a['verdict']}" if a.get("verdict") else "")
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
        "waterfall_version",
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

    @admin.display(description="Per provider and data point (calls tagged with this workflow)")
    def provider_summary(self, obj: Workflow) -> str:
        # A provider that finds and verifies emails (the sandbox) gets a row for each, so its
        # verdicts never count as found emails (a verification has no hits, only verdicts).
        stats = provider_call_stats(tag=obj.pk, by_data_point=True)
        if not stats:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td><td>{}</td></tr>",
            (
                (
                    row["data_point"],
                    _provider_name(row["provider"]),
                    row["calls"],
                    row["cache_hits"],
                    "—" if verifies else row["found"],
                    "—" if verifies else _percent(row["hit_rate"]),
                    _ms(row["p50_ms"]),
                    _ms(row["p95_ms"]),
                    row["errors"],
                )
                for row in stats
                for verifies in [row["data_point"] == DataPoint.EMAIL_VERIFICATION]
            ),
        )
        return format_html(
            "<table><thead><tr><th>data point</th><th>provider</th><th>calls</th>"
            "<th>cache hits</th><th>hits</th><th>hit rate</th><th>p50 ms</th><th>p95 ms</th>"
            "<th>errors</th></tr></thead>"
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


@admin.register(SweeperRun)
class SweeperRunAdmin(admin.ModelAdmin):
    """When beat's sweeper last ran; beat is a single process, and a stopped one shows here as
    stale (and makes /readyz answer 503)."""

    list_display = ("name", "finished_at", "age", "is_running", "report")
    readonly_fields = ("name", "finished_at", "report")

    @admin.display(description="age")
    def age(self, run: SweeperRun) -> str:
        return f"{sweeper_status(name=run.name).age_s:.0f} s"

    @admin.display(description="running (not stale)", boolean=True)
    def is_running(self, run: SweeperRun) -> bool:
        return not sweeper_status(name=run.name).stale

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
