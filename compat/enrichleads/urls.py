"""The Enrich Leads API, under `/api/` (compat/urls.py), and its own OpenAPI document."""

from types import SimpleNamespace

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView

from accounts.permissions import ScopePermission
from accounts.scopes import PUBLIC
from compat.enrichleads import apis


class SchemaApi(SpectacularAPIView):
    required_scope = PUBLIC
    authentication_classes = []
    permission_classes = [ScopePermission]
    throttle_classes = []


operations: list[URLPattern | URLResolver] = [
    path("enrichments", apis.EnrichmentsApi.as_view(), name="enrichleads-enrichments"),
    path("enrichment", apis.EnrichmentStartApi.as_view(), name="enrichleads-start"),
    path("enrichment/<str:run_id>", apis.EnrichmentRunApi.as_view(), name="enrichleads-run"),
    path(
        "enrichment/<str:run_id>/items",
        apis.EnrichmentItemsApi.as_view(),
        name="enrichleads-items",
    ),
    path(
        "enrichment/<str:run_id>/cancel",
        apis.EnrichmentCancelApi.as_view(),
        name="enrichleads-cancel",
    ),
]

# The document describes these operations only, at the paths a client calls.
_schema_urlconf = SimpleNamespace(urlpatterns=[path("api/", include(operations))])

urlpatterns: list[URLPattern | URLResolver] = [
    *operations,
    path(
        "schema",
        SchemaApi.as_view(urlconf=_schema_urlconf, custom_settings={"TITLE": "Enrich Leads API"}),
        name="enrichleads-schema",
    ),
]
