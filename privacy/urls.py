from django.urls import path

from privacy import apis

urlpatterns = [
    path("suppressions", apis.SuppressionCollectionApi.as_view(), name="suppressions"),
    path("suppressions/csv", apis.SuppressionCsvImportApi.as_view(), name="suppressions-csv"),
    path("privacy/erasure", apis.ErasureApi.as_view(), name="erasure"),
    path(
        "privacy/erasure/<uuid:receipt_id>",
        apis.ErasureReceiptApi.as_view(),
        name="erasure-receipt",
    ),
    path(
        "leads/<uuid:lead_id>/provenance",
        apis.LeadProvenanceApi.as_view(),
        name="lead-provenance",
    ),
]
