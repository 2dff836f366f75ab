"""LocalLeads' enrichment API, served at `/api/v1/enrichment/` (compat/urls.py), and its own
OpenAPI document at `/api/v1/enrichment/schema`."""

from types import SimpleNamespace

from django.urls import URLPattern, URLResolver, include, path

from compat.localleads import apis

PREFIX = "api/v1/enrichment/"

operations: list[URLPattern | URLResolver] = [
    path("preview", apis.LocalLeadsPreviewApi.as_view(), name="localleads-preview"),
    path("start", apis.LocalLeadsStartApi.as_view(), name="localleads-start"),
    path("status/<str:job_id>", apis.LocalLeadsStatusApi.as_view(), name="localleads-status"),
    path("lead/<str:lead_id>", apis.LocalLeadsLeadApi.as_view(), name="localleads-lead"),
    path("jobs", apis.LocalLeadsJobsApi.as_view(), name="localleads-jobs"),
]

# The document describes these operations only, at their full paths.
_schema_urlconf = SimpleNamespace(urlpatterns=[path(PREFIX, include(operations))])

urlpatterns: list[URLPattern | URLResolver] = [
    *operations,
    path(
        "schema",
        apis.LocalLeadsSchemaApi.as_view(
            urlconf=_schema_urlconf,
            custom_settings={
                "TITLE": "Sluice: LocalLeads enrichment API",
                "DESCRIPTION": (
                    "LocalLeads' enrichment endpoints served by Sluice (docs/compatibility.md). "
                    "Authenticate with `Authorization: Bearer <Sluice API key>`."
                ),
                "VERSION": "1.0.0",
            },
        ),
        name="localleads-schema",
    ),
]
