from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from leads.models import Cohort, Company, Folder, Lead, LeadList

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ("__str__", "email", "email_status", "phone", "company_name", "workspace")
    list_filter = ("email_status", "workspace")
    search_fields = ("full_name", "first_name", "last_name", "email", "linkedin_url")
    list_select_related = ("workspace",)
    raw_id_fields = ("workspace", "company")
    readonly_fields = ("id", "identity_key", "created_at", "updated_at")
    # Lists can hold 100,000 leads: count pages approximately rather than COUNT(*) each time.
    show_full_result_count = False


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("__str__", "domain", "industry", "hq_location", "workspace")
    search_fields = ("name", "domain")
    list_filter = ("workspace",)
    list_select_related = ("workspace",)
    raw_id_fields = ("workspace",)
    readonly_fields = ("id", "created_at", "updated_at")
    show_full_result_count = False


class _LeadListCounts(TypedDict):
    _lead_count: int


@admin.register(LeadList)
class LeadListAdmin(admin.ModelAdmin):
    list_display = ("name", "lead_count", "folder", "workspace", "created_at")
    search_fields = ("name",)
    list_filter = ("workspace",)
    list_select_related = ("workspace", "folder")
    raw_id_fields = ("workspace", "folder")
    readonly_fields = ("id", "created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[LeadList]:
        return super().get_queryset(request).annotate(_lead_count=Count("memberships"))

    @admin.display(description="leads", ordering="_lead_count")
    def lead_count(self, obj: "WithAnnotations[LeadList, _LeadListCounts]") -> int:
        return obj._lead_count


@admin.register(Folder)
class FolderAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "created_at")
    search_fields = ("name",)
    raw_id_fields = ("workspace",)


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    """Read-only: cohorts are written by searches and list reads, never by hand."""

    list_display = ("id", "entity_kind", "size", "source", "workspace", "created_at", "expires_at")
    list_filter = ("entity_kind", "source")
    search_fields = ("id", "workflow_id")
    list_select_related = ("workspace",)

    @admin.display(description="entities")
    def size(self, obj: Cohort) -> int:
        return len(obj.entity_ids)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Cohort | None = None) -> bool:
        return False
