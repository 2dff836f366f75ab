"""The one import pipeline behind every way leads come in (csv-import, the streamed upload, the
`import_csv` command):

    file → rows → mapped columns (leads.columns) → canonical values and identity
    (leads.canonical) → dedupe within the upload and against the workspace → companies by domain
    → leads upserted (empty fields filled, nothing blanked) → list memberships.

Rows are read as a stream and written in batches with set-based SQL: on PostgreSQL each batch is
COPY'd into a temporary table and merged with `INSERT … ON CONFLICT`; elsewhere (the SQLite demo)
the ORM does the same in a handful of bulk queries per batch. A bad row becomes a row error with
its 1-based row number and a reason; every good row lands. The whole import is one transaction:
an unexpected failure leaves nothing half-written.

Row numbers count like a spreadsheet: in a CSV the header is row 1 and the first lead row 2; in
a JSON array the first element is row 1; in NDJSON a row is a line.
"""

import base64
import binascii
import codecs
import csv
import hashlib
import io
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Workspace
from common.bulk import insert_defaults
from common.exceptions import ValidationFailed
from common.idempotency import IdempotentResult, request_fingerprint, run_idempotently
from leads import canonical
from leads.canonical import IdentityProblem
from leads.columns import ColumnPlan, build_plan, clean_cell, unique_headers
from leads.models import Company, Lead, LeadList, ListMembership
from leads.selectors import lead_list_get

BATCH_SIZE = 5000
MAX_REPORTED_ERRORS = 100
MAX_SAMPLE_SKIP_ROWS = 10
_READ_CHUNK = 1 << 16

# Row error reasons (stable keys: they appear in `skip_reasons`). An identity problem's reason
# is its `IdentityProblem` value: missing_identity, invalid_email, invalid_linkedin_url.
INVALID_ENCODING = "invalid_encoding"
WRONG_COLUMN_COUNT = "wrong_column_count"
MALFORMED_ROW = "malformed_row"
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
VALUE_TOO_LONG = "value_too_long"

# Cleanlist's keys for a row that repeats a person seen earlier in the same upload.
_DUPLICATE_REASON = {"li": "duplicate_linkedin", "em": "duplicate_email", "nd": "duplicate_name"}

# Placeholder cells meaning "no value" in identifier columns (not in names: "Na" is a surname).
_PLACEHOLDERS = frozenset({"n/a", "na", "none", "null", "nil", "-", "--", "?", "unknown"})

# Lead fields an import writes; blank-string ones are filled when empty, nullable ones when NULL.
_TEXT_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "title",
    "company_name",
    "domain",
    "industry",
    "location",
)
_NULLABLE_FIELDS = ("linkedin_url", "email", "phone")
_MAX_LENGTHS = {
    name: Lead._meta.get_field(name).max_length for name in (*_TEXT_FIELDS, *_NULLABLE_FIELDS)
}
_MAX_LENGTHS["identity_key"] = Lead._meta.get_field("identity_key").max_length


# --- Results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int
    reason: str
    detail: str


@dataclass
class ImportResult:
    list_id: str
    rows_parsed: int = 0
    rows_imported: int = 0  # new leads
    rows_updated: int = 0  # matched a lead already in the workspace (empty fields filled)
    rows_merged: int = 0  # repeated a person seen earlier in this upload
    rows_added_to_list: int = 0  # new memberships (a lead already in the list is not re-added)
    rows_skipped: int = 0  # row errors
    skip_reasons: Counter = field(default_factory=Counter)
    duplicate_reasons: Counter = field(default_factory=Counter)
    errors: list[RowError] = field(default_factory=list)
    sample_skip_rows: list[int] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return self.rows_skipped

    def add_error(self, error: RowError) -> None:
        self.rows_parsed += 1
        self.rows_skipped += 1
        self.skip_reasons[error.reason] += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)
        self._sample(error.row)

    def add_duplicate(self, *, row: int, identity_key: str) -> None:
        self.rows_merged += 1
        self.duplicate_reasons[_DUPLICATE_REASON[identity_key[:2]]] += 1
        self._sample(row)

    def _sample(self, row: int) -> None:
        if len(self.sample_skip_rows) < MAX_SAMPLE_SKIP_ROWS:
            self.sample_skip_rows.append(row)


# --- Reading ------------------------------------------------------------------------------------


@dataclass(slots=True)
class SourceRow:
    row: int
    fields: dict[str, str]
    extra: dict[str, str]


class _ReadableAdapter(io.RawIOBase):
    """Lets io.BufferedReader/TextIOWrapper read from anything with `.read(n)` (an uploaded
    file, Django's request body stream)."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _buffered(stream: Any) -> io.BufferedReader:
    return io.BufferedReader(_ReadableAdapter(stream), buffer_size=_READ_CHUNK)


def _text(binary: io.BufferedReader) -> io.TextIOWrapper:
    # Undecodable bytes become lone surrogates instead of an exception, so one bad row is a row
    # error and the rows around it still land. `utf-8-sig` drops a leading BOM.
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def detect_format(binary: io.BufferedReader) -> str:
    """`csv`, `json` (an array of objects) or `ndjson` from the first bytes of the file."""
    head = binary.peek(64)[:64].removeprefix(codecs.BOM_UTF8).lstrip()
    if head.startswith(b"["):
        return "json"
    if head.startswith(b"{"):
        return "ndjson"
    return "csv"


def read_csv(
    text: IO[str], *, column_mapping: Mapping[str, str | None] | None, errors: list[RowError]
) -> Iterator[SourceRow]:
    """Yields mapped rows; unreadable rows go to `errors` (the caller records them in order)."""
    csv.field_size_limit(1 << 20)
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationFailed(details={"file": ["The file is empty."]}) from None
    except csv.Error as exc:
        raise ValidationFailed(details={"file": [f"Unreadable CSV header: {exc}"]}) from None
    if not _is_utf8("".join(header)):
        raise ValidationFailed(details={"file": ["The header row is not valid UTF-8."]})
    headers = unique_headers(header)
    if not any(h.strip() for h in header):
        raise ValidationFailed(details={"file": ["The header row is empty."]})
    plan = build_plan(headers, column_mapping, strict=True)
    width = len(headers)
    row_number = 1
    while True:
        row_number += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(RowError(row_number, MALFORMED_ROW, str(exc)))
            continue
        if not any(cells):
            continue  # blank line or a row of empty cells, as spreadsheets append
        joined = "".join(cells)
        if not _is_utf8(joined):
            errors.append(RowError(row_number, INVALID_ENCODING, "The row is not valid UTF-8."))
            continue
        if len(cells) != width and (len(cells) < width or any(cells[width:])):
            errors.append(
                RowError(
                    row_number,
                    WRONG_COLUMN_COUNT,
                    f"Expected {width} columns as in the header, got {len(cells)}.",
                )
            )
            continue
        values = {header: clean_cell(cell) for header, cell in zip(headers, cells, strict=False)}
        mapped, extra = plan.apply(values)
        yield SourceRow(row_number, mapped, extra)


def _json_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


class _JsonRows:
    """Maps JSON objects through a plan per distinct key set (most files have one)."""

    def __init__(self, column_mapping: Mapping[str, str | None] | None) -> None:
        self._mapping = column_mapping
        self._plans: dict[tuple[str, ...], ColumnPlan] = {}

    def row(self, number: int, obj: Any, errors: list[RowError]) -> SourceRow | None:
        if not isinstance(obj, dict):
            errors.append(RowError(number, NOT_AN_OBJECT, "Each record must be a JSON object."))
            return None
        values = {str(k): clean_cell(_json_value(v)) for k, v in obj.items()}
        if not any(values.values()):
            return None
        if not _is_utf8("".join(values) + "".join(values.values())):
            errors.append(RowError(number, INVALID_ENCODING, "The record is not valid UTF-8."))
            return None
        keys = tuple(values)
        plan = self._plans.get(keys)
        if plan is None:
            plan = self._plans[keys] = build_plan(keys, self._mapping, strict=False)
        mapped, extra = plan.apply(values)
        return SourceRow(number, mapped, extra)


_WS = re.compile(r"\s*")


def read_json_array(
    text: IO[str], *, column_mapping: Mapping[str, str | None] | None, errors: list[RowError]
) -> Iterator[SourceRow]:
    """A JSON array of objects, parsed element by element from a sliding buffer so a large
    file never sits in memory whole. A syntax error ends the read (there is no safe place to
    resume); the elements before it still land."""
    decoder = json.JSONDecoder()
    rows = _JsonRows(column_mapping)
    buffer, pos, eof = "", 0, False

    def fill() -> None:
        nonlocal buffer, pos, eof
        chunk = text.read(_READ_CHUNK)
        buffer, pos = buffer[pos:] + chunk, 0
        eof = not chunk

    def skip_ws() -> None:
        nonlocal pos
        while True:
            pos = _WS.match(buffer, pos).end()
            if pos < len(buffer) or eof:
                return
            fill()

    fill()
    skip_ws()
    if pos >= len(buffer) or buffer[pos] != "[":
        raise ValidationFailed(details={"file": ["Expected a JSON array of objects."]})
    pos += 1
    number = 0
    skip_ws()
    if pos < len(buffer) and buffer[pos] == "]":
        return
    while True:
        number += 1
        skip_ws()
        try:
            obj, end = decoder.raw_decode(buffer, pos)
            if end >= len(buffer) and not eof:
                raise json.JSONDecodeError("need more input", buffer, end)
        except json.JSONDecodeError as exc:
            if not eof:
                fill()
                number -= 1
                continue
            errors.append(RowError(number, INVALID_JSON, f"{exc.msg}; reading stopped here."))
            return
        pos = end
        row = rows.row(number, obj, errors)
        if row is not None:
            yield row
        skip_ws()
        if pos < len(buffer) and buffer[pos] == ",":
            pos += 1
            continue
        if pos < len(buffer) and buffer[pos] == "]":
            return
        errors.append(RowError(number + 1, INVALID_JSON, "Expected ',' or ']'; reading stopped."))
        return


def read_ndjson(
    text: IO[str], *, column_mapping: Mapping[str, str | None] | None, errors: list[RowError]
) -> Iterator[SourceRow]:
    rows = _JsonRows(column_mapping)
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(RowError(number, INVALID_JSON, exc.msg))
            continue
        row = rows.row(number, obj, errors)
        if row is not None:
            yield row


# --- Canonical records --------------------------------------------------------------------------


@dataclass(slots=True)
class LeadRecord:
    row: int
    identity_key: str
    first_name: str
    last_name: str
    full_name: str
    title: str
    company_name: str
    domain: str
    industry: str
    location: str
    linkedin_url: str | None
    email: str | None
    phone: str | None
    extra: dict[str, str]

    def merge(self, other: "LeadRecord") -> None:
        """Fills this record's empty fields from a later row of the same person."""
        for name in (*_TEXT_FIELDS, *_NULLABLE_FIELDS):
            if not getattr(self, name) and getattr(other, name):
                setattr(self, name, getattr(other, name))
        for key, value in other.extra.items():
            self.extra.setdefault(key, value)


def _identifier(raw: str | None) -> str | None:
    if not raw or raw.casefold() in _PLACEHOLDERS:
        return None
    return raw


def to_record(source: SourceRow) -> LeadRecord | RowError:
    """Canonical values and identity of one mapped row, or why it cannot be imported."""
    values, extra, row = source.fields, dict(source.extra), source.row
    raw_linkedin = _identifier(values.get("linkedin_url"))
    raw_email = _identifier(values.get("email"))
    raw_domain = _identifier(values.get("domain"))
    identity = canonical.person_identify(
        linkedin_url=raw_linkedin,
        email=raw_email,
        first_name=values.get("first_name"),
        last_name=values.get("last_name"),
        full_name=values.get("full_name"),
        company_name=values.get("company_name"),
        domain=raw_domain,
    )
    if identity.problems:
        problem = identity.problems[0]
        detail = {
            IdentityProblem.INVALID_LINKEDIN_URL: f"Not a LinkedIn profile URL: {raw_linkedin!r}",
            IdentityProblem.INVALID_EMAIL: f"Not an email address: {raw_email!r}",
            IdentityProblem.NO_IDENTIFIER: (
                "Needs a LinkedIn profile URL, an email, or first name + last name + company "
                "domain or company name."
            ),
        }[problem]
        return RowError(row, str(problem), detail)
    if raw_domain and identity.domain is None:
        extra.setdefault("domain", raw_domain)  # kept, not lost, but not used for identity
    raw_phone = _identifier(values.get("phone"))
    phone = canonical.phone(raw_phone) if raw_phone else None
    if raw_phone and phone is None:
        extra.setdefault("phone", raw_phone)
    record = LeadRecord(
        row=row,
        identity_key=identity.key,
        first_name=identity.first_name,
        last_name=identity.last_name,
        full_name=identity.full_name,
        title=canonical.name(values.get("title")),
        company_name=identity.company_name,
        domain=identity.domain or "",
        industry=canonical.name(values.get("industry")),
        location=canonical.name(values.get("location")),
        linkedin_url=identity.linkedin_url,
        email=identity.email,
        phone=phone,
        extra=extra,
    )
    for name, limit in _MAX_LENGTHS.items():
        value = getattr(record, name)
        if value and len(value) > limit:
            return RowError(row, VALUE_TOO_LONG, f"{name} is longer than {limit} characters.")
    return record


# --- Writing ------------------------------------------------------------------------------------


@dataclass
class _BatchOutcome:
    inserted: set[str]  # identity keys of the leads this batch created
    created_by_import: list[str]  # identity keys of matched leads this import created
    added_to_list: int


_TEMP_TABLE = "sluice_import_rows"
_RECORD_COLUMNS = ("row_no", "identity_key", *_TEXT_FIELDS, *_NULLABLE_FIELDS, "extra")


class _PostgresWriter:
    """COPY into a temporary table, then a few set-based statements per batch."""

    def __init__(self, *, workspace: Workspace, lead_list: LeadList, stamp: datetime) -> None:
        self.workspace_id = workspace.pk
        self.list_id = lead_list.pk
        self.stamp = stamp
        text_columns = ", ".join(f"{name} text" for name in _TEXT_FIELDS + _NULLABLE_FIELDS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_TEMP_TABLE} (row_no integer, "
                f"identity_key text, {text_columns}, extra jsonb, company_id uuid) "
                "ON COMMIT DROP"
            )

    def write(self, records: list[LeadRecord]) -> _BatchOutcome:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {_TEMP_TABLE}")
            columns = ", ".join(_RECORD_COLUMNS)
            with cursor.cursor.copy(f"COPY {_TEMP_TABLE} ({columns}) FROM STDIN") as copy:
                for r in records:
                    copy.write_row(
                        (
                            r.row,
                            r.identity_key,
                            *(getattr(r, name) for name in _TEXT_FIELDS),
                            r.linkedin_url,
                            r.email,
                            r.phone,
                            json.dumps(r.extra, ensure_ascii=False),
                        )
                    )
            self._upsert_companies(cursor)
            inserted = self._upsert_leads(cursor)
            # One pass over the batch's leads: add them to the list (in file order) and report
            # which of them this import created.
            cursor.execute(
                "WITH matched AS (SELECT l.id, l.created_at, t.identity_key, t.row_no "  # noqa: S608
                f"FROM {_TEMP_TABLE} t JOIN leads_lead l "
                "ON l.workspace_id = %s AND l.identity_key = t.identity_key), "
                "added AS (INSERT INTO leads_listmembership (lead_list_id, lead_id, added_at) "
                "SELECT %s, id, %s FROM matched ORDER BY row_no "
                "ON CONFLICT (lead_list_id, lead_id) DO NOTHING RETURNING 1) "
                "SELECT (SELECT count(*) FROM added), "
                "array_agg(identity_key) FILTER (WHERE created_at = %s) FROM matched",
                [self.workspace_id, self.list_id, self.stamp, self.stamp],
            )
            added, created = cursor.fetchone()
            created = created or []
        return _BatchOutcome(inserted=inserted, created_by_import=created, added_to_list=added)

    def _upsert_companies(self, cursor) -> None:
        set_columns = ("workspace_id", "domain", "name", "industry", "created_at", "updated_at")
        default_columns, default_values = insert_defaults(Company, skip=set_columns)
        placeholders = ", ".join(["%s"] * len(default_values))
        cursor.execute(
            f"INSERT INTO leads_company (id, {', '.join(set_columns)}, "  # noqa: S608
            f"{', '.join(default_columns)}) "
            f"SELECT gen_random_uuid(), %s, d.domain, d.company_name, d.industry, %s, %s, "
            f"{placeholders} FROM (SELECT domain, "
            # The first non-empty name and industry given for the domain in this batch.
            "COALESCE((array_agg(company_name ORDER BY row_no) "
            "FILTER (WHERE company_name <> ''))[1], '') AS company_name, "
            "COALESCE((array_agg(industry ORDER BY row_no) "
            "FILTER (WHERE industry <> ''))[1], '') AS industry "
            f"FROM {_TEMP_TABLE} WHERE domain <> '' GROUP BY domain ORDER BY domain) d "
            "ON CONFLICT (workspace_id, domain) WHERE domain IS NOT NULL DO UPDATE SET "
            "name = CASE WHEN leads_company.name = '' THEN EXCLUDED.name "
            "ELSE leads_company.name END, "
            "industry = CASE WHEN leads_company.industry = '' THEN EXCLUDED.industry "
            "ELSE leads_company.industry END, updated_at = EXCLUDED.updated_at "
            "WHERE (leads_company.name = '' AND EXCLUDED.name <> '') "
            "OR (leads_company.industry = '' AND EXCLUDED.industry <> '')",
            [self.workspace_id, self.stamp, self.stamp, *default_values],
        )
        cursor.execute(
            f"UPDATE {_TEMP_TABLE} t SET company_id = c.id FROM leads_company c "  # noqa: S608
            "WHERE c.workspace_id = %s AND c.domain = t.domain AND t.domain <> ''",
            [self.workspace_id],
        )

    def _upsert_leads(self, cursor) -> set[str]:
        record_fields = ("identity_key", *_TEXT_FIELDS, *_NULLABLE_FIELDS, "extra", "company_id")
        set_columns = ("workspace_id", *record_fields, "created_at", "updated_at")
        default_columns, default_values = insert_defaults(Lead, skip=set_columns)
        assignments, fills = [], []
        for name in _TEXT_FIELDS:
            assignments.append(
                f"{name} = CASE WHEN leads_lead.{name} = '' THEN EXCLUDED.{name} "
                f"ELSE leads_lead.{name} END"
            )
            fills.append(f"(leads_lead.{name} = '' AND EXCLUDED.{name} <> '')")
        for name in (*_NULLABLE_FIELDS, "company_id"):
            assignments.append(f"{name} = COALESCE(leads_lead.{name}, EXCLUDED.{name})")
            fills.append(f"(leads_lead.{name} IS NULL AND EXCLUDED.{name} IS NOT NULL)")
        # Existing keys win on the right of `||`; only new keys count as a fill.
        assignments.append("extra = EXCLUDED.extra || leads_lead.extra")
        fills.append(
            "EXISTS (SELECT 1 FROM jsonb_object_keys(EXCLUDED.extra) k "
            "WHERE NOT leads_lead.extra ? k)"
        )
        placeholders = ", ".join(["%s"] * len(default_values))
        cursor.execute(
            f"INSERT INTO leads_lead (id, {', '.join(set_columns)}, "  # noqa: S608
            f"{', '.join(default_columns)}) "
            f"SELECT gen_random_uuid(), %s, {', '.join('t.' + c for c in record_fields)}, "
            # Key order: concurrent imports lock overlapping leads in the same order, so they
            # wait for each other instead of deadlocking.
            f"%s, %s, {placeholders} FROM {_TEMP_TABLE} t ORDER BY t.identity_key "
            "ON CONFLICT (workspace_id, identity_key) DO UPDATE SET "
            f"{', '.join(assignments)}, updated_at = EXCLUDED.updated_at "
            f"WHERE {' OR '.join(fills)} "
            # xmax = 0: the row version was inserted, not updated, by this statement.
            "RETURNING identity_key, (xmax = 0)",
            [self.workspace_id, self.stamp, self.stamp, *default_values],
        )
        return {key for key, inserted in cursor.fetchall() if inserted}


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    # SQLite caps the number of parameters per statement.
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _OrmWriter:
    """The same merge rules through the ORM, for databases other than PostgreSQL."""

    def __init__(self, *, workspace: Workspace, lead_list: LeadList, stamp: datetime) -> None:
        self.workspace = workspace
        self.lead_list = lead_list
        self.stamp = stamp

    def _companies(self, records: list[LeadRecord]) -> dict[str, Company]:
        # domain → [name, industry]: the first non-empty of each given in this batch.
        wanted: dict[str, list[str]] = {}
        for r in records:
            if r.domain:
                pair = wanted.setdefault(r.domain, ["", ""])
                pair[0] = pair[0] or r.company_name
                pair[1] = pair[1] or r.industry
        found: dict[str, Company] = {}
        for chunk in _chunks(list(wanted)):
            for company in Company.objects.filter(workspace=self.workspace, domain__in=chunk):
                found[company.domain] = company
        Company.objects.bulk_create(
            [
                Company(
                    workspace=self.workspace,
                    domain=d,
                    name=name,
                    industry=industry,
                )
                for d, (name, industry) in wanted.items()
                if d not in found
            ],
            ignore_conflicts=True,
        )
        changed = []
        for domain, company in found.items():
            name, industry = wanted[domain]
            if (not company.name and name) or (not company.industry and industry):
                company.name = company.name or name
                company.industry = company.industry or industry
                company.updated_at = self.stamp
                changed.append(company)
        Company.objects.bulk_update(changed, ["name", "industry", "updated_at"])
        missing = [d for d in wanted if d not in found]
        for chunk in _chunks(missing):
            for company in Company.objects.filter(workspace=self.workspace, domain__in=chunk):
                found[company.domain] = company
        return found

    def write(self, records: list[LeadRecord]) -> _BatchOutcome:
        companies = self._companies(records)
        keys = [r.identity_key for r in records]
        existing: dict[str, Lead] = {}
        for chunk in _chunks(keys):
            for lead in Lead.objects.filter(workspace=self.workspace, identity_key__in=chunk):
                existing[lead.identity_key] = lead
        new, changed = [], []
        for r in records:
            company = companies.get(r.domain)
            lead = existing.get(r.identity_key)
            if lead is None:
                new.append(
                    Lead(
                        workspace=self.workspace,
                        identity_key=r.identity_key,
                        company=company,
                        extra=r.extra,
                        **{n: getattr(r, n) for n in (*_TEXT_FIELDS, *_NULLABLE_FIELDS)},
                    )
                )
                continue
            dirty = False
            for name in (*_TEXT_FIELDS, *_NULLABLE_FIELDS):
                if not getattr(lead, name) and getattr(r, name):
                    setattr(lead, name, getattr(r, name))
                    dirty = True
            if lead.company_id is None and company is not None:
                lead.company = company
                dirty = True
            if set(r.extra) - set(lead.extra):
                lead.extra = {**r.extra, **lead.extra}
                dirty = True
            if dirty:
                lead.updated_at = self.stamp
                changed.append(lead)
        Lead.objects.bulk_create(new, ignore_conflicts=True)
        # auto_now_add stamps each object separately; the shared stamp tells later batches
        # which leads this import created.
        for chunk in _chunks([lead.pk for lead in new]):
            Lead.objects.filter(pk__in=chunk).update(created_at=self.stamp)
        Lead.objects.bulk_update(
            changed, [*_TEXT_FIELDS, *_NULLABLE_FIELDS, "company", "extra", "updated_at"]
        )
        ids: dict[str, tuple[uuid.UUID, datetime]] = {}
        for chunk in _chunks(keys):
            rows = Lead.objects.filter(workspace=self.workspace, identity_key__in=chunk)
            for key, pk, created_at in rows.values_list("identity_key", "pk", "created_at"):
                ids[key] = (pk, created_at)
        lead_ids = [ids[key][0] for key in keys]
        in_list: set[uuid.UUID] = set()
        for chunk in _chunks(lead_ids):
            in_list.update(
                ListMembership.objects.filter(
                    lead_list=self.lead_list, lead_id__in=chunk
                ).values_list("lead_id", flat=True)
            )
        to_add = [pk for pk in lead_ids if pk not in in_list]
        ListMembership.objects.bulk_create(
            [ListMembership(lead_list=self.lead_list, lead_id=pk) for pk in to_add],
            ignore_conflicts=True,
        )
        created = [key for key in keys if ids[key][1] == self.stamp]
        # A conflicting concurrent insert wins the race; then our object was not written.
        inserted = {lead.identity_key for lead in new if ids[lead.identity_key][0] == lead.pk}
        return _BatchOutcome(
            inserted=inserted, created_by_import=created, added_to_list=len(to_add)
        )


# The tests switch this off to run the ORM path on PostgreSQL too.
POSTGRES_COPY = True


def _writer(**kwargs) -> "_PostgresWriter | _OrmWriter":
    use_copy = connection.vendor == "postgresql" and POSTGRES_COPY
    return (_PostgresWriter if use_copy else _OrmWriter)(**kwargs)


# --- Services -----------------------------------------------------------------------------------


def leads_import_rows(
    *,
    workspace: Workspace,
    lead_list: LeadList,
    rows: Iterable[SourceRow],
    read_errors: list[RowError],
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """The pipeline proper, from mapped rows on. `read_errors` is filled by the reader while
    `rows` is consumed. Runs in one transaction; raises ValidationFailed when the file held no
    rows at all."""
    result = ImportResult(list_id=str(lead_list.pk))
    stamp = timezone.now()
    pending: dict[str, LeadRecord] = {}
    with transaction.atomic():
        writer = _writer(workspace=workspace, lead_list=lead_list, stamp=stamp)

        def drain_errors() -> None:
            for error in read_errors:
                result.add_error(error)
            read_errors.clear()

        def flush() -> None:
            if not pending:
                return
            records = list(pending.values())
            outcome = writer.write(records)
            result.rows_imported += len(outcome.inserted)
            # A matched lead this import created in an earlier batch: a repeat in the upload.
            for key in outcome.created_by_import:
                if key not in outcome.inserted:
                    result.rows_merged += 1
                    result.duplicate_reasons[_DUPLICATE_REASON[key[:2]]] += 1
            result.rows_updated += len(records) - len(outcome.created_by_import)
            result.rows_added_to_list += outcome.added_to_list
            pending.clear()

        for source in rows:
            drain_errors()
            record = to_record(source)
            if isinstance(record, RowError):
                result.add_error(record)
                continue
            result.rows_parsed += 1
            seen = pending.get(record.identity_key)
            if seen is not None:
                seen.merge(record)
                result.add_duplicate(row=record.row, identity_key=record.identity_key)
                continue
            pending[record.identity_key] = record
            if len(pending) >= batch_size:
                flush()
        drain_errors()
        flush()
        if result.rows_parsed == 0:
            raise ValidationFailed(details={"file": ["The file has no lead rows."]})
    return result


def leads_import_file(
    *,
    workspace: Workspace,
    list_id: uuid.UUID | str | None = None,
    lead_list: LeadList | None = None,
    stream: Any,
    column_mapping: Mapping[str, str | None] | None = None,
    file_format: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Imports a CSV, JSON array or NDJSON file read from `stream` (anything with `.read(n)`),
    without ever holding the whole file in memory."""
    if lead_list is None:
        lead_list = lead_list_get(workspace=workspace, list_id=list_id)
    binary = _buffered(stream)
    if not binary.peek(1):
        raise ValidationFailed(details={"file": ["The file is empty."]})
    file_format = file_format or detect_format(binary)
    readers = {"csv": read_csv, "json": read_json_array, "ndjson": read_ndjson}
    if file_format not in readers:
        raise ValidationFailed(details={"format": [f"One of: {', '.join(readers)}."]})
    errors: list[RowError] = []
    rows = readers[file_format](_text(binary), column_mapping=column_mapping, errors=errors)
    return leads_import_rows(
        workspace=workspace,
        lead_list=lead_list,
        rows=rows,
        read_errors=errors,
        batch_size=batch_size,
    )


def _decode_base64(value: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(details={"csv_content_base64": ["Not valid base64."]}) from None


def csv_import(
    *,
    workspace: Workspace,
    list_id: uuid.UUID | str,
    csv_content_base64: str,
    column_mapping: Mapping[str, str | None] | None,
    dispatch_enrichment: bool,
    enrichment_type: str | None = None,
    quote_id: str | None = None,
    idempotency_key: str | None = None,
    dispatch: Callable[[LeadList], dict[str, Any]] | None = None,
) -> IdempotentResult:
    """Cleanlist's `csv-import`: a base64 CSV into a list, idempotent on `idempotency_key`.
    The body is the SDK's `CsvImportResponse`. With `dispatch_enrichment`, `dispatch(lead_list)`
    (given by the caller: leads does not depend on enrichment) starts the enrichment after the
    rows land and its fields (`workflow_id`, …) join the body; the import and the start commit
    together, so a start refused for credits or its quote imports nothing, and a replay starts
    nothing again."""
    lead_list = lead_list_get(workspace=workspace, list_id=list_id)
    if dispatch_enrichment and dispatch is None:
        raise ValueError("dispatch_enrichment needs a dispatch callable")
    content = _decode_base64(csv_content_base64)
    fingerprint = request_fingerprint(
        operation=f"csv_import:{lead_list.pk}",
        payload={
            "csv_sha256": _sha256(content),
            "column_mapping": dict(column_mapping or {}),
            "dispatch_enrichment": dispatch_enrichment,
            "enrichment_type": enrichment_type,
            "quote_id": quote_id,
        },
    )

    def work() -> tuple[int, dict[str, Any]]:
        with transaction.atomic():
            result = leads_import_file(
                workspace=workspace,
                lead_list=lead_list,
                stream=io.BytesIO(content),
                column_mapping=column_mapping,
                file_format="csv",
            )
            body = csv_import_body(result)
            if dispatch_enrichment:
                body.update(dispatch(lead_list))
        return 201, body

    outcome = run_idempotently(
        workspace=workspace, key=idempotency_key, fingerprint=fingerprint, work=work
    )
    return outcome


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def csv_import_body(result: ImportResult) -> dict[str, Any]:
    """Cleanlist's counting: a row repeating a person earlier in the file is skipped
    (`duplicate_email`, `duplicate_linkedin`); a row matching a lead already in the workspace
    lands in the list and counts as imported."""
    skipped = result.rows_skipped + result.rows_merged
    return {
        "list_id": result.list_id,
        "rows_parsed": result.rows_parsed,
        "rows_imported": result.rows_parsed - skipped,
        "rows_skipped": skipped,
        "skip_reasons": dict(result.skip_reasons + result.duplicate_reasons),
        "sample_skip_rows": sorted(result.sample_skip_rows),
        "rows_new": result.rows_imported,
        "rows_updated": result.rows_updated,
        "rows_added_to_list": result.rows_added_to_list,
        "errors": [_error_dict(e) for e in result.errors],
        "workflow_id": None,
        "enrichment_status_url": None,
        "message": f"Imported {result.rows_parsed - skipped} of {result.rows_parsed} rows.",
    }


def _error_dict(error: RowError) -> dict[str, Any]:
    return {"row": error.row, "reason": error.reason, "detail": error.detail}


def import_body(result: ImportResult) -> dict[str, Any]:
    """The streamed `/import` endpoint's response."""
    return {
        "list_id": result.list_id,
        "rows_parsed": result.rows_parsed,
        "rows_imported": result.rows_imported,
        "rows_updated": result.rows_updated,
        "rows_merged": result.rows_merged,
        "rows_added_to_list": result.rows_added_to_list,
        "rows_skipped": result.rows_skipped,
        "skip_reasons": dict(result.skip_reasons),
        "duplicate_reasons": dict(result.duplicate_reasons),
        "errors": [_error_dict(e) for e in result.errors],
        "error_count": result.error_count,
        "sample_skip_rows": sorted(result.sample_skip_rows),
    }
