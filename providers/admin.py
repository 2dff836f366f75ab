from datetime import timedelta

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from providers.analytics import Analytics, provider_analytics
from providers.charts import bar_chart
from providers.configuration import ORDERED_DATA_POINTS
from providers.models import (
    AutoOrder,
    ProviderCall,
    ProviderMark,
    ResultCacheEntry,
    WaterfallConfig,
)
from providers.selectors import provider_call_stats
from providers.services import provider_mark_clear


@admin.register(ProviderMark)
class ProviderMarkAdmin(admin.ModelAdmin):
    """Marks stop a provider for every worker; clear one after topping up or fixing the key."""

    list_display = (
        "provider", "kind", "is_active", "created_at", "expires_at", "cleared_at", "cleared_by",
    )  # fmt: skip
    list_filter = ("kind", "provider", ("cleared_at", admin.EmptyFieldListFilter))
    readonly_fields = (
        "provider", "kind", "reason", "created_at", "expires_at", "cleared_at", "cleared_by",
    )  # fmt: skip
    actions = ("clear_marks",)

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: ProviderMark) -> bool:
        return obj.cleared_at is None and (
            obj.expires_at is None or obj.expires_at > timezone.now()
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Clear the selected marks (resume calls)")
    def clear_marks(self, request: HttpRequest, queryset: QuerySet[ProviderMark]) -> None:
        cleared = sum(
            provider_mark_clear(mark=mark, cleared_by=request.user.get_username())
            for mark in queryset.order_by("pk")
        )
        self.message_user(request, f"{cleared} mark(s) cleared.", messages.SUCCESS)


@admin.register(ProviderCall)
class ProviderCallAdmin(admin.ModelAdmin):
    """Read-only call log with per-provider statistics (last 24 h) above the list."""

    list_display = (
        "created_at", "provider", "data_point", "outcome", "calls", "latency_ms", "cost", "cached",
        "tag",
    )  # fmt: skip
    list_filter = ("provider", "data_point", "outcome", "cached")
    search_fields = ("tag",)
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        since = timezone.now() - timedelta(hours=24)
        analytics = [
            _with_charts(provider_analytics(days=30, data_point=dp)) for dp in ORDERED_DATA_POINTS
        ]
        extra_context = {
            **(extra_context or {}),
            "provider_stats": provider_call_stats(since=since),
            "analytics": [a for a in analytics if a["figures"].providers],
        }
        return super().changelist_view(request, extra_context=extra_context)


def _with_charts(figures: Analytics) -> dict:
    """The analytics of one data point with its two charts: coverage after each step, and
    cost per verified hit per provider."""
    coverage = bar_chart(
        [
            (f"step {s.step} ({', '.join(s.providers[:2])})", s.coverage or 0.0,
             f"{(s.coverage or 0.0):.0%}")
            for s in figures.steps
        ],
        title=f"{figures.data_point}: coverage after each step",
    )  # fmt: skip
    costs = bar_chart(
        [
            (p.provider, p.cost_per_verified_hit, f"{p.cost_per_verified_hit:.2f}")
            for p in figures.providers
            if p.cost_per_verified_hit is not None
        ],
        title=f"{figures.data_point}: provider cost per verified hit",
    )
    return {"figures": figures, "coverage_chart": coverage, "cost_chart": costs}


@admin.register(WaterfallConfig)
class WaterfallConfigAdmin(admin.ModelAdmin):
    """Every version of every workspace's waterfall (PUT /waterfall writes them; a run names
    the version it used)."""

    list_display = (
        "workspace", "version", "email", "phone", "company", "verifier", "catch_all_policy",
        "min_email_status", "changed_by", "created_at",
    )  # fmt: skip
    list_filter = ("catch_all_policy", "min_email_status")
    search_fields = ("workspace__name",)
    readonly_fields = [f.name for f in WaterfallConfig._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AutoOrder)
class AutoOrderAdmin(admin.ModelAdmin):
    """The `auto` orders beat chose, with the figures behind them."""

    list_display = ("workspace", "data_point", "order", "source", "updated_at")
    list_filter = ("data_point", "source")
    readonly_fields = [f.name for f in AutoOrder._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ResultCacheEntry)
class ResultCacheEntryAdmin(admin.ModelAdmin):
    list_display = ("provider", "data_point", "kind", "identity_key", "expires_at")
    list_filter = ("provider", "data_point", "kind")
    readonly_fields = [f.name for f in ResultCacheEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
