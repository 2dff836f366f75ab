from datetime import timedelta

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from providers.models import ProviderCall, ProviderMark, ResultCacheEntry
from providers.selectors import provider_call_stats
from providers.services import provider_mark_clear


@admin.register(ProviderMark)
class ProviderMarkAdmin(admin.ModelAdmin):
    """Marks stop a provider for every worker; clear one after topping up or fixing the key."""

    list_display = ("provider", "kind", "is_active", "created_at", "cleared_at", "cleared_by")
    list_filter = ("kind", "provider", ("cleared_at", admin.EmptyFieldListFilter))
    readonly_fields = ("provider", "kind", "reason", "created_at", "cleared_at", "cleared_by")
    actions = ("clear_marks",)

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: ProviderMark) -> bool:
        return obj.cleared_at is None

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
        "created_at", "provider", "data_point", "outcome", "latency_ms", "cost", "cached", "tag",
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
        extra_context = {
            **(extra_context or {}),
            "provider_stats": provider_call_stats(since=since),
        }
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(ResultCacheEntry)
class ResultCacheEntryAdmin(admin.ModelAdmin):
    list_display = ("provider", "data_point", "kind", "identity_key", "expires_at")
    list_filter = ("provider", "data_point", "kind")
    readonly_fields = [f.name for f in ResultCacheEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
