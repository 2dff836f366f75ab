from django.urls import path

from leads.io_apis import (
    ExportCsvApi,
    ExportCsvDownloadApi,
    ExportJsonApi,
    LeadListImportApi,
)

urlpatterns = [
    path("lead-lists/<uuid:list_id>/import", LeadListImportApi.as_view(), name="lead-list-import"),
    path("export/json", ExportJsonApi.as_view(), name="export-json"),
    path("export/csv/signed-url", ExportCsvApi.as_view(), name="export-csv"),
    path(
        "export/csv/download/<uuid:file_id>",
        ExportCsvDownloadApi.as_view(),
        name="export-csv-download",
    ),
]
