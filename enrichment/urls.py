from django.urls import path

from enrichment import apis
from enrichment.csv_import_apis import LeadListCsvImportApi

urlpatterns = [
    path("lead-lists/<uuid:list_id>/csv-import", LeadListCsvImportApi.as_view(), name="csv-import"),
    path("enrichment/person", apis.PersonEnrichmentStartApi.as_view(), name="enrich-person"),
    path("enrichment/company", apis.CompanyEnrichmentApi.as_view(), name="enrich-company"),
    path("enrichment/by-task", apis.TaskEnrichmentStartApi.as_view(), name="enrich-by-task"),
    path("enrichment/bulk", apis.BulkEnrichmentStartApi.as_view(), name="enrich-bulk"),
    path("enrichment/jobs", apis.EnrichmentJobsApi.as_view(), name="enrichment-jobs"),
    path(
        "enrichment/batch/query",
        apis.EnrichmentBatchQueryApi.as_view(),
        name="enrichment-batch-query",
    ),
    # Before the status route, which would answer this path's POST with a 405.
    path(
        "enrichment/status/cancel",
        apis.EnrichmentStatusOrCancelApi.as_view(),
        name="enrichment-status-or-cancel",
    ),
    path(
        "enrichment/status/<str:workflow_id>",
        apis.EnrichmentStatusApi.as_view(),
        name="enrichment-status",
    ),
    path(
        "enrichment/<str:workflow_id>/items",
        apis.EnrichmentItemsApi.as_view(),
        name="enrichment-items",
    ),
    path(
        "enrichment/<str:workflow_id>/cancel",
        apis.EnrichmentCancelApi.as_view(),
        name="enrichment-cancel",
    ),
    path("webhooks", apis.WebhookListCreateApi.as_view(), name="webhooks"),
    path("webhooks/<str:webhook_id>", apis.WebhookDeleteApi.as_view(), name="webhook-delete"),
]
