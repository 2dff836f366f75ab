"""The one import pipeline behind every way leads come in (csv-import, the streamed upload, the
`import_csv` command):

    file → rows → mapped columns (leads.columns) → canonical values and identity
    (leads.canonical) → dedupe within the upload and against the workspace → companies by domain
    → leads upserted (empty fields filled, nothing blanked: leads.merge) → list memberships.

- `readers`: format detection and the CSV / JSON-array / NDJSON readers → `SourceRow`s.
- `records`: `SourceRow` → `LeadRecord` (validation, identity) or a `RowError`; the merge of a
  person repeated within the upload.
- `writers`: batches of records into the database (PostgreSQL COPY, or the ORM).
- `pipeline`: the services (`leads_import_file`, `leads_import_rows`, `csv_import`), which take
  the writer as a parameter (default: chosen from the database vendor).
"""

from leads.imports.pipeline import (
    CsvImportResult,
    ImportResult,
    csv_import,
    leads_import_file,
    leads_import_rows,
)

__all__ = [
    "CsvImportResult",
    "ImportResult",
    "csv_import",
    "leads_import_file",
    "leads_import_rows",
]
