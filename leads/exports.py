"""Exports of a lead list: inline JSON pages and CSV files served through signed, expiring links.

Both project the same columns (`DEFAULT_COLUMNS` unless the caller picks), read the list in
membership order with a keyset, and never hold more than one batch of rows in memory. CSV files
are written to the `exports` storage (Django's STORAGES: a folder under EXPORT_DIR by default, an
S3-compatible bucket when several web nodes serve downloads) as `<workspace>/<fingerprint>.csv`,
named after their list and content, so exporting an unchanged list again reuses its file. Each
export is handed out as a link of its own whose token signs workspace, link, file, list, key
and expiry together: the signature is the credential, and the link dies with its list and with
the key that asked.

CSV cells a spreadsheet would run as a formula get a leading `'` (leads.columns.csv_safe_cell),
unless the caller turns that off for an export whose reader is a program, not a spreadsheet.
A phone number in E.164 (`+15125550146`) is written as it is: it starts with `+` but holds
only digits, so a spreadsheet can at most read it as a number, never run anything.
"""

import contextlib
import csv
import hashlib
import io
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.utils import timezone

from accounts.models import ApiKey, Workspace
from common.exceptions import ApplicationError, NotFound, ValidationFailed
from common.pagination import decode_cursor, make_cursor
from leads import canonical
from leads.columns import csv_safe_cell
from leads.models import PROVENANCE_FIELDS, LeadList, ListMembership
from leads.selectors import lead_list_get
from leads.storage import TemporaryFile, file_touch

# Output column → the membership row's path to the value.
COLUMNS: dict[str, str] = {
    "lead_id": "lead_id",
    "first_name": "lead__first_name",
    "last_name": "lead__last_name",
    "full_name": "lead__full_name",
    "email": "lead__email",
    "email_status": "lead__email_status",
    "email_confidence": "lead__email_confidence",
    "phone": "lead__phone",
    "title": "lead__title",
    "company": "lead__company_name",
    "domain": "lead__domain",
    "industry": "lead__industry",
    "location": "lead__location",
    "linkedin_url": "lead__linkedin_url",
    "provider": "lead__provider",
    "enriched_at": "lead__enriched_at",
    "created_at": "lead__created_at",
    "added_at": "added_at",
    # Provenance (docs/privacy.md), on request only.
    **{name: f"lead__{name}" for name in PROVENANCE_FIELDS},
}
# Left empty for a suppressed person (leads.suppression): the export never carries them.
SUPPRESSED_COLUMNS = frozenset(
    {"email", "email_status", "email_confidence", "phone", "linkedin_url", *PROVENANCE_FIELDS}
)
DEFAULT_COLUMNS: tuple[str, ...] = (
    "lead_id",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "email_status",
    "phone",
    "title",
    "company",
    "domain",
    "industry",
    "location",
    "linkedin_url",
    "provider",
)
JSON_DEFAULT_LIMIT = 100
JSON_MAX_LIMIT = 500
_CSV_BATCH = 2000
_CURSOR_KIND = "export_json"
_TOKEN_SALT = "sluice.export.csv"  # noqa: S105 - a signing namespace, not a secret


class LinkExpired(ApplicationError):
    status_code = 410
    code = "link_expired"
    default_message = "This download link has expired; export the list again for a new one."


def resolve_columns(
    requested: Sequence[str] | None,
    *,
    lead_list: LeadList | None = None,
    include_custom: bool = True,
) -> list[str]:
    """Accepts repeated values and comma-separated ones (`columns=a,b&columns=c`); unknown
    names are a 400 listing the known ones. The list's custom columns (a smart agent's output)
    may be named, and follow the default set unless `include_custom` is false."""
    custom = list(lead_list.custom_columns) if lead_list is not None else []
    names: list[str] = []
    for value in requested or []:
        names.extend(part.strip() for part in value.split(",") if part.strip())
    if not names:
        return list(DEFAULT_COLUMNS) + (custom if include_custom else [])
    known = [*COLUMNS, *custom]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValidationFailed(
            details={
                "columns": [f"Unknown column(s): {', '.join(unknown)}. Known: {', '.join(known)}."]
            }
        )
    return list(dict.fromkeys(names))


def _json_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _rows(
    *, lead_list: LeadList, columns: list[str], after: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    builtin = [name for name in columns if name in COLUMNS]
    paths = [COLUMNS[name] for name in builtin]
    rows = (
        ListMembership.objects.filter(lead_list=lead_list, id__gt=after)
        .order_by("id")
        .values_list("id", "custom_values", "lead__suppressed_at", *paths)[:limit]
    )
    page = []
    for row in rows:
        values = dict(zip(builtin, row[3:], strict=True))
        suppressed = row[2] is not None
        page.append(
            (
                row[0],
                {
                    # A suppressed person's contact fields, and what agents wrote about them,
                    # are left out (leads.suppression).
                    name: None
                    if suppressed and (name in SUPPRESSED_COLUMNS or name not in COLUMNS)
                    else _json_value(values[name] if name in COLUMNS else row[1].get(name))
                    for name in columns
                },
            )
        )
    return page


def export_json_page(
    *,
    workspace: Workspace,
    list_id: uuid.UUID | str,
    limit: int = JSON_DEFAULT_LIMIT,
    cursor: str | None = None,
    columns: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One page of the SDK's `ExportJsonResponse`. The cursor is bound to the list."""
    lead_list = lead_list_get(workspace=workspace, list_id=list_id)
    chosen = resolve_columns(columns, lead_list=lead_list)
    position = decode_cursor(cursor, kind=_CURSOR_KIND)
    if position is not None and position.get("list") != str(lead_list.pk):
        raise ValidationFailed(details={"cursor": ["This cursor belongs to another list."]})
    after = int(position["after"]) if position else 0
    page = _rows(lead_list=lead_list, columns=chosen, after=after, limit=limit + 1)
    has_more = len(page) > limit
    page = page[:limit]
    next_cursor = (
        make_cursor(kind=_CURSOR_KIND, list=str(lead_list.pk), after=page[-1][0])
        if has_more
        else None
    )
    return {
        "list_id": str(lead_list.pk),
        "leads": [row for _, row in page],
        "total": ListMembership.objects.filter(lead_list=lead_list).count(),
        "cursor": next_cursor,
        "columns": chosen,
    }


def _is_e164_phone(text: str) -> bool:
    """A phone number exactly as leads.canonical.phone writes it (`+` and digits only)."""
    digits = text[1:]
    return digits.isascii() and digits.isdigit() and canonical.phone(text) == text


def _csv_cell(value: Any, *, escape_formulas: bool) -> str:
    value = _json_value(value)
    if value is None:
        return ""
    # A smart agent's structured value (title_normalizer's) as compact JSON text.
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    if not escape_formulas or (text.startswith("+") and _is_e164_phone(text)):
        return text
    return csv_safe_cell(text)


def iter_csv_rows(
    *, lead_list: LeadList, columns: list[str], escape_formulas: bool = True
) -> Iterator[list[str]]:
    """The list's rows as CSV cells, batch by batch (keyset), formula triggers neutralised
    unless `escape_formulas` is false."""
    after = 0
    while True:
        batch = _rows(lead_list=lead_list, columns=columns, after=after, limit=_CSV_BATCH)
        if not batch:
            return
        for _, row in batch:
            yield [_csv_cell(row[name], escape_formulas=escape_formulas) for name in columns]
        after = batch[-1][0]


def _csv_into(
    sink: Any, *, lead_list: LeadList, columns: list[str], escape_formulas: bool = True
) -> int:
    """Writes the list's CSV text into `sink` (anything with `write(str)`); returns the number
    of data rows."""
    writer = csv.writer(sink)
    writer.writerow([csv_safe_cell(name) for name in columns])
    count = 0
    for row in iter_csv_rows(lead_list=lead_list, columns=columns, escape_formulas=escape_formulas):
        writer.writerow(row)
        count += 1
    return count


def write_csv(
    *, lead_list: LeadList, columns: list[str], path: Path, escape_formulas: bool = True
) -> int:
    """Writes the list to `path` (atomically: a reader never sees half a file); returns the
    number of data rows."""
    partial = path.with_name(path.name + ".part")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        count = _csv_into(
            handle, lead_list=lead_list, columns=columns, escape_formulas=escape_formulas
        )
    os.replace(partial, path)
    return count


class _Fingerprint:
    """A text sink that hashes the list id and the CSV text passing through it, and hands the
    text on to `target` (a file) when there is one."""

    def __init__(self, lead_list: LeadList, target: TextIO | None = None) -> None:
        self._hash = hashlib.sha256(f"{lead_list.pk}\n".encode())
        self._target = target

    def write(self, text: str) -> int:
        self._hash.update(text.encode("utf-8"))
        if self._target is not None:
            self._target.write(text)
        return len(text)

    def name(self) -> str:
        return self._hash.hexdigest()


@dataclass(frozen=True)
class CsvExport:
    list_id: str
    file_id: str  # the link's own id (the download path), not the file's name
    token: str
    expires_at: datetime
    row_count: int
    file_size_bytes: int


def _storage() -> Storage:
    return storages["exports"]


def _file_name(workspace_id: uuid.UUID | str, stem: str) -> str:
    return f"{workspace_id}/{stem}.csv"


def export_files_purge(*, workspace_id: uuid.UUID | str, older_than_seconds: int) -> int:
    """Deletes a workspace's export files whose links have expired."""
    storage = _storage()
    try:
        _, files = storage.listdir(str(workspace_id))
    except FileNotFoundError:
        return 0
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    removed = 0
    for file in files:
        name = f"{workspace_id}/{file}"
        try:
            if storage.get_modified_time(name) < cutoff:
                storage.delete(name)
                removed += 1
        except FileNotFoundError:
            continue  # removed by a concurrent purge
    return removed


def exports_purge_expired() -> int:
    """Beat: every workspace's export files whose links have expired (a workspace that never
    exports again would otherwise keep them)."""
    try:
        workspaces, _ = _storage().listdir("")
    except FileNotFoundError:
        return 0
    ttl = settings.SLUICE_EXPORT_URL_TTL_SECONDS
    return sum(
        export_files_purge(workspace_id=workspace_id, older_than_seconds=ttl)
        for workspace_id in workspaces
    )


def _file_reused(name: str) -> bool:
    """True when the file exists; its age is reset, so the purge (which goes by age) keeps it as
    long as the new link lives."""
    storage = _storage()
    if not storage.exists(name):
        return False
    try:
        file_touch(storage, name)
    except FileNotFoundError:
        return False  # purged meanwhile
    return True


def _file_write(
    *, workspace_id: uuid.UUID | str, lead_list: LeadList, columns: list[str], escape_formulas: bool
) -> tuple[str, int]:
    """Writes the list's CSV under its fingerprint, taken from the very rows written (the list
    may have changed since it was fingerprinted); returns the file's name and its row count.
    The text goes to a local temporary file first and into the storage whole: a reader never
    sees half a file."""
    storage = _storage()
    # Not deleted on close: the local folder moves it into place instead.
    spool = tempfile.NamedTemporaryFile(suffix=".csv.part", delete=False)  # noqa: SIM115
    try:
        with io.TextIOWrapper(spool, encoding="utf-8", newline="") as text:
            fingerprint = _Fingerprint(lead_list, target=text)
            row_count = _csv_into(
                fingerprint, lead_list=lead_list, columns=columns, escape_formulas=escape_formulas
            )
            text.flush()
            spool.seek(0)
            name = _file_name(workspace_id, fingerprint.name())
            if not storage.exists(name):
                saved = storage.save(name, TemporaryFile(spool))
                if saved != name:  # the same file, saved by a concurrent export a moment before
                    storage.delete(saved)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool.name)
    return name, row_count


def export_csv_create(
    *,
    workspace: Workspace,
    api_key: ApiKey,
    list_id: uuid.UUID | str,
    columns: Sequence[str] | None = None,
    escape_formulas: bool = True,
    include_custom: bool = True,
) -> CsvExport:
    """Signs a download link for the list's CSV (valid SLUICE_EXPORT_URL_TTL_SECONDS, and only
    while the list exists and `api_key` is active). The file is written only when no file of
    the same list, columns and rows exists yet: the list is read once to fingerprint it, and a
    second time to write it when it changed. `escape_formulas=False` writes every cell as
    stored (a different text, so a different file). `include_custom=False` leaves the list's
    custom (smart-agent) columns out of the default set."""
    lead_list = lead_list_get(workspace=workspace, list_id=list_id)
    chosen = resolve_columns(columns, lead_list=lead_list, include_custom=include_custom)
    ttl = settings.SLUICE_EXPORT_URL_TTL_SECONDS
    # Beat purges every workspace's expired files; a workspace's own export also clears them.
    export_files_purge(workspace_id=workspace.pk, older_than_seconds=ttl)
    fingerprint = _Fingerprint(lead_list)
    row_count = _csv_into(
        fingerprint, lead_list=lead_list, columns=chosen, escape_formulas=escape_formulas
    )
    name = _file_name(workspace.pk, fingerprint.name())
    if not _file_reused(name):
        name, row_count = _file_write(
            workspace_id=workspace.pk,
            lead_list=lead_list,
            columns=chosen,
            escape_formulas=escape_formulas,
        )
    link_id = str(uuid.uuid4())
    expires = int(time.time()) + ttl
    grant = {
        "w": str(workspace.pk),
        "f": link_id,
        "d": name.rsplit("/", 1)[-1].removesuffix(".csv"),
        "l": str(lead_list.pk),
        "k": str(api_key.pk),
        "e": expires,
    }
    return CsvExport(
        list_id=str(lead_list.pk),
        file_id=link_id,
        token=signing.dumps(grant, salt=_TOKEN_SALT, compress=True),
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
        row_count=row_count,
        file_size_bytes=_storage().size(name),
    )


def export_csv_file(*, file_id: uuid.UUID | str, token: str | None) -> File:
    """The file a download token grants, open for reading (from any web node: the storage is
    shared). A forged or altered token, one for another link, one
    whose list was deleted or whose key was revoked is a 404 (no oracle); a genuine but expired
    one a 410 `link_expired`."""
    try:
        grant = signing.loads(token or "", salt=_TOKEN_SALT)
    except signing.BadSignature:
        raise NotFound() from None
    if not isinstance(grant, dict) or grant.get("f") != str(file_id):
        raise NotFound()
    if int(grant.get("e", 0)) < time.time():
        raise LinkExpired()
    if not {"w", "d", "l", "k"} <= grant.keys():
        raise NotFound()  # signed before links were bound to their list and key
    if not LeadList.objects.filter(pk=grant["l"], workspace_id=grant["w"]).exists():
        raise NotFound()
    if not ApiKey.objects.filter(pk=grant["k"], is_active=True).exists():
        raise NotFound()
    try:
        return _storage().open(_file_name(grant["w"], grant["d"]), "rb")
    except FileNotFoundError:
        raise NotFound("The export file no longer exists; export the list again.") from None
