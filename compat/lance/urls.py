"""Lance's routes, under `/api/v1/operations/enrichment/` (compat/urls.py)."""

from types import SimpleNamespace

from django.urls import URLPattern, URLResolver, include, path

from compat.lance.apis import BatchQueryApi, LanceSchemaApi, PersonEnrichmentApi

PREFIX = "api/v1/operations/enrichment/"

operations: list[URLPattern | URLResolver] = [
    path("batch/query", BatchQueryApi.as_view(), name="lance-batch-query"),
    path("<str:person_id>", PersonEnrichmentApi.as_view(), name="lance-enrichment"),
]

# The schema documents only Lance's operations, at their full paths.
_schema_urlconf = SimpleNamespace(urlpatterns=[path(PREFIX, include(operations))])

urlpatterns: list[URLPattern | URLResolver] = [
    # Before `<person_id>`, which would otherwise take the name.
    path("schema", LanceSchemaApi.as_view(urlconf=_schema_urlconf), name="lance-schema"),
    *operations,
]
