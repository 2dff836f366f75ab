"""Each vendor's API at its own paths (docs/compatibility.md)."""

from django.urls import include, path

urlpatterns = [
    path("api/v1/operations/enrichment/", include("compat.lance.urls")),
    path("api/", include("compat.enrichleads.urls")),
    path("api/v1/enrichment/", include("compat.localleads.urls")),
]
