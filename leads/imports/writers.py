"""Writing a batch of lead records: companies upserted by domain, leads upserted by identity key
(`leads.merge`: empty fields filled, nothing overwritten or blanked), then list memberships.

Two writers with the same behaviour: `PostgresCopyWriter` COPYs each batch into a temporary
table and merges it with a few set-based statements; `OrmWriter` does the same through the ORM
in bulk queries (any database, e.g. the SQLite demo). `default_writer()` picks by the database.
A writer works inside the caller's transaction.
"""

import itertools
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from operator import attrgetter
from typing import Protocol

from django.db import connection
from django.db.backends.utils import CursorWrapper

from accounts.models import Workspace
from common.bulk import insert_defaults
from leads.imports.records import LeadRecord
from leads.merge import (
    COMPANY_BLANK_FIELDS,
    LEAD_BLANK_FIELDS,
    LEAD_FIELDS,
    LEAD_NULLABLE_FIELDS,
    fill_empty,
    fill_empty_sql,
    fill_extra,
)
from leads.models import Company, Lead, LeadList, ListMembership


@dataclass
class BatchOutcome:
    inserted: int  # leads this batch created
    # Identity keys of the matched leads this import created in an earlier batch: a person
    # the upload repeats (the other matches are updates of leads the workspace had).
    repeats: list[str]
    added_to_list: int


class LeadWriter(Protocol):
    def prepare(self, records: list[LeadRecord]) -> object:
        """What `write` can be given of a batch ahead of time: called in the import's reader
        thread, so it must not touch the database."""
        ...

    def write(self, records: list[LeadRecord], prepared: object = None) -> BatchOutcome:
        """`prepared`: `prepare(records)` of exactly these records, or None."""
        ...


class WriterFactory(Protocol):
    """A writer class: built once per import, inside its transaction. `stamp` is the import's
    `created_at`/`updated_at`, by which a later batch recognises leads this import created."""

    def __call__(
        self, *, workspace: Workspace, lead_list: LeadList, stamp: datetime
    ) -> LeadWriter: ...


_TEMP_TABLE = "sluice_import_rows"
# How many companies an import remembers (`PostgresCopyWriter.companies`): a bound on its
# memory; a domain beyond it is only written again when a batch names it.
MAX_KNOWN_COMPANIES = 200_000
_RECORD_COLUMNS = ("row_no", "identity_key", "lead_id", *LEAD_FIELDS, "extra")
_LEAD_VALUES = attrgetter(*LEAD_FIELDS)


class _OrderedLeadIds:
    """Ids for the leads an import may create, increasing in the order they are handed out:
    the layout of a UUIDv7 (48 bits of Unix milliseconds, then random bits) with a counter in
    the last 32 bits. The new leads' entries then land side by side at the right end of the
    indexes that hold a lead id (the lead's primary key and `lead_recent`, the membership's
    unique key and its lead index), instead of on a random page of each, which at a million
    leads no longer fits in PostgreSQL's buffers (docs/benchmarks.md, "Importing a million
    leads")."""

    def __init__(self) -> None:
        millis = time.time_ns() // 1_000_000
        random_bits = secrets.randbits(42)
        self.prefix = (
            (millis & ((1 << 48) - 1)) << 80
            | 0x7 << 76  # version 7
            | (random_bits >> 30) << 64  # 12 random bits
            | 0b10 << 62  # the RFC 4122 variant
            | (random_bits & ((1 << 30) - 1)) << 32  # 30 more random bits
        )
        # The id as text up to the counter's 8 hex digits (the end of its last group).
        self.text_prefix = str(uuid.UUID(int=self.prefix))[:-8]
        self.counter = itertools.count()  # next() on it is atomic: any thread may take ids

    def take(self) -> str:
        # `str(uuid.UUID(int=self.prefix | n))`, formatted without building a UUID per lead.
        return f"{self.text_prefix}{next(self.counter):08x}"


# COPY's text format: tab-separated, `\N` for NULL, backslash escapes for these characters.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")


def _copy_line(values: list[str | None]) -> str:
    """One row in COPY's text format."""
    if _COPY_SPECIAL.search("".join(filter(None, values))):
        values = [value if value is None else value.translate(_COPY_ESCAPES) for value in values]
    return "\t".join("\\N" if value is None else value for value in values)


class PostgresCopyWriter:
    """COPY into a temporary table, then two set-based statements per batch: the companies,
    then the leads with their list memberships."""

    def __init__(self, *, workspace: Workspace, lead_list: LeadList, stamp: datetime) -> None:
        self.workspace_id = workspace.pk
        self.list_id = lead_list.pk
        self.stamp = stamp
        self.lead_ids = _OrderedLeadIds()
        # Domain → whether its company has a name, an industry, as far as this import's own
        # rows written so far tell: a row can only fill what is empty (leads.merge).
        self.companies: dict[str, tuple[bool, bool]] = {}
        text_columns = ", ".join(f"{name} text" for name in LEAD_FIELDS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_TEMP_TABLE} (row_no integer, "
                f"identity_key text, lead_id uuid, {text_columns}, extra jsonb) ON COMMIT DROP"
            )

    def prepare(self, records: list[LeadRecord]) -> bytes:
        """The batch as COPY data, encoded in the reader thread: the thread that waits for
        the database then sends it in one piece, and no longer competes with the parsing for
        the interpreter row by row."""
        take = self.lead_ids.take
        lines = [
            _copy_line(
                [
                    str(r.row),
                    r.identity_key,
                    take(),
                    *_LEAD_VALUES(r),
                    json.dumps(r.extra, ensure_ascii=False) if r.extra else "{}",
                ]
            )
            for r in records
        ]
        lines.append("")
        return "\n".join(lines).encode()

    def write(self, records: list[LeadRecord], prepared: object = None) -> BatchOutcome:
        data = prepared if isinstance(prepared, bytes) else self.prepare(records)
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {_TEMP_TABLE}")
            columns = ", ".join(_RECORD_COLUMNS)
            with cursor.cursor.copy(f"COPY {_TEMP_TABLE} ({columns}) FROM STDIN") as copy:
                copy.write(data)
            self._upsert_companies(cursor, records)
            return self._upsert_leads(cursor, batch_size=len(records))

    def _companies_to_write(self, records: list[LeadRecord]) -> set[str]:
        """The batch's domains whose company this import has not written yet, or whose rows
        bring a name or an industry the company lacked when it last did."""
        todo = set()
        known = self.companies
        for r in records:
            if r.domain:
                filled = known.get(r.domain)
                if (
                    filled is None
                    or (r.company_name and not filled[0])
                    or (r.industry and not filled[1])
                ):
                    todo.add(r.domain)
        return todo

    def _upsert_companies(self, cursor: CursorWrapper, records: list[LeadRecord]) -> None:
        """Companies by domain, only for the domains where the batch may change something:
        most rows of a large import name a company an earlier batch already wrote, with
        nothing new, and that join and grouping were a tenth of the import's PostgreSQL time
        (docs/benchmarks.md, "The import's fourth pass")."""
        domains = self._companies_to_write(records)
        if not domains:
            return
        set_columns = ("workspace_id", "domain", "name", "industry", "created_at", "updated_at")
        default_columns, default_values = insert_defaults(Company, skip=set_columns)
        placeholders = ", ".join(["%s"] * len(default_values))
        assignments, fills = fill_empty_sql(
            table="leads_company", blank_fields=COMPANY_BLANK_FIELDS
        )
        _, fills_before = fill_empty_sql(table="c", blank_fields=COMPANY_BLANK_FIELDS, incoming="d")
        cursor.execute(
            f"INSERT INTO leads_company (id, {', '.join(set_columns)}, "  # noqa: S608
            f"{', '.join(default_columns)}) "
            f"SELECT gen_random_uuid(), %s, d.domain, d.name, d.industry, %s, %s, "
            f"{placeholders} FROM (SELECT domain, "
            # The first non-empty name and industry given for the domain in this batch.
            "COALESCE((array_agg(company_name ORDER BY row_no) "
            "FILTER (WHERE company_name <> ''))[1], '') AS name, "
            "COALESCE((array_agg(industry ORDER BY row_no) "
            "FILTER (WHERE industry <> ''))[1], '') AS industry "
            f"FROM {_TEMP_TABLE} WHERE domain = ANY(%s::text[]) GROUP BY domain) d "
            # A company that exists with nothing to fill is left alone: through ON CONFLICT it
            # would be locked (a write of its row) by every batch that names it.
            "LEFT JOIN leads_company c ON c.workspace_id = %s AND c.domain = d.domain "
            f"WHERE c.id IS NULL OR {' OR '.join(fills_before)} "
            "ORDER BY d.domain "
            "ON CONFLICT (workspace_id, domain) WHERE domain IS NOT NULL DO UPDATE SET "
            f"{', '.join(assignments)}, updated_at = EXCLUDED.updated_at "
            f"WHERE {' OR '.join(fills)}",
            [self.workspace_id, self.stamp, self.stamp, *default_values, sorted(domains),
             self.workspace_id],
        )  # fmt: skip
        # Each company now has a name if it had one or the batch gave one (fill_empty); the
        # batch's empty values say nothing of what it had, so they count as still empty.
        known = self.companies
        for r in records:
            if r.domain in domains and (r.domain in known or len(known) < MAX_KNOWN_COMPANIES):
                named, classified = known.get(r.domain, (False, False))
                known[r.domain] = (named or bool(r.company_name), classified or bool(r.industry))

    def _upsert_leads(self, cursor: CursorWrapper, *, batch_size: int) -> BatchOutcome:
        """One statement: the leads upserted (linked to their company by domain), then the
        batch's leads added to the list in file order; how many leads it inserted, and which
        of the matched ones this import created (counts, not the batch's keys: the keys of a
        whole batch cost both sides more than the counting they served)."""
        record_fields = ("identity_key", *LEAD_FIELDS, "extra")
        set_columns = ("id", "workspace_id", *record_fields, "company_id", "created_at",
                       "updated_at")  # fmt: skip
        default_columns, default_values = insert_defaults(Lead, skip=set_columns)
        assignments, fills = fill_empty_sql(
            table="leads_lead",
            blank_fields=LEAD_BLANK_FIELDS,
            nullable_fields=(*LEAD_NULLABLE_FIELDS, "company_id"),
            json_fields=("extra",),
        )
        placeholders = ", ".join(["%s"] * len(default_values))
        cursor.execute(
            f"WITH upserted AS (INSERT INTO leads_lead ({', '.join(set_columns)}, "  # noqa: S608
            f"{', '.join(default_columns)}) "
            f"SELECT t.lead_id, %s, {', '.join('t.' + c for c in record_fields)}, c.id, "
            f"%s, %s, {placeholders} FROM {_TEMP_TABLE} t "
            "LEFT JOIN leads_company c ON c.workspace_id = %s AND c.domain = t.domain "
            "AND t.domain <> '' "
            # Key order: concurrent imports lock overlapping leads in the same order, so they
            # wait for each other instead of deadlocking.
            "ORDER BY t.identity_key "
            "ON CONFLICT (workspace_id, identity_key) DO UPDATE SET "
            f"{', '.join(assignments)}, updated_at = EXCLUDED.updated_at "
            f"WHERE {' OR '.join(fills)} "
            # xmax = 0: the row version was inserted, not updated, by this statement.
            "RETURNING id, identity_key, created_at, (xmax = 0) AS inserted), "
            # The batch's leads: those the upsert returned, and those it left alone (a match
            # with nothing to fill) looked up one by one on the identity index (LATERAL …
            # LIMIT 1). As a plain join, the planner, whose statistics cannot see the leads
            # this transaction inserted, hashed every lead of the workspace for every batch:
            # quadratic in the import.
            "matched AS (SELECT u.id, u.created_at, u.inserted, t.identity_key, t.row_no "
            f"FROM {_TEMP_TABLE} t JOIN upserted u ON u.identity_key = t.identity_key "
            "UNION ALL SELECT l.id, l.created_at, false, t.identity_key, t.row_no "
            f"FROM {_TEMP_TABLE} t CROSS JOIN LATERAL (SELECT id, created_at FROM leads_lead "
            "WHERE workspace_id = %s AND identity_key = t.identity_key LIMIT 1) l "
            "WHERE NOT EXISTS (SELECT 1 FROM upserted u WHERE u.identity_key = t.identity_key)), "
            "added AS (INSERT INTO leads_listmembership (lead_list_id, lead_id, added_at) "
            "SELECT %s, id, %s FROM matched ORDER BY row_no "
            "ON CONFLICT (lead_list_id, lead_id) DO NOTHING RETURNING 1) "
            "SELECT (SELECT count(*) FROM added), count(*), count(*) FILTER (WHERE inserted), "
            "array_agg(identity_key) FILTER (WHERE created_at = %s AND NOT inserted) "
            "FROM matched",
            [self.workspace_id, self.stamp, self.stamp, *default_values, self.workspace_id,
             self.workspace_id, self.list_id, self.stamp, self.stamp],
        )  # fmt: skip
        added, matched, inserted, repeats = cursor.fetchone()
        if matched < batch_size:
            # A lead another transaction committed while the upsert ran can be met by its
            # ON CONFLICT and yet be invisible to the statement's snapshot: look the batch up
            # again in a statement of its own (the memberships already added stay as they are).
            added_late, repeats = self._add_to_list(cursor)
            added += added_late
        return BatchOutcome(inserted=inserted, repeats=repeats or [], added_to_list=added)

    def _add_to_list(self, cursor: CursorWrapper) -> tuple[int, list[str]]:
        cursor.execute(
            "WITH matched AS (SELECT l.id, l.created_at, t.identity_key, t.row_no, "  # noqa: S608
            # The batch's own new leads carry the ids it gave them.
            f"l.id = t.lead_id AS inserted FROM {_TEMP_TABLE} t CROSS JOIN LATERAL "
            "(SELECT id, created_at FROM leads_lead WHERE workspace_id = %s "
            "AND identity_key = t.identity_key LIMIT 1) l), "
            "added AS (INSERT INTO leads_listmembership (lead_list_id, lead_id, added_at) "
            "SELECT %s, id, %s FROM matched ORDER BY row_no "
            "ON CONFLICT (lead_list_id, lead_id) DO NOTHING RETURNING 1) "
            "SELECT (SELECT count(*) FROM added), "
            "array_agg(identity_key) FILTER (WHERE created_at = %s AND NOT inserted) "
            "FROM matched",
            [self.workspace_id, self.list_id, self.stamp, self.stamp],
        )
        added, repeats = cursor.fetchone()
        return added, repeats or []


@dataclass
class _CompanyValues:
    name: str = ""
    industry: str = ""


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    # SQLite caps the number of parameters per statement.
    for start in range(0, len(items), size):
        yield items[start : start + size]


class OrmWriter:
    """The same merge rules through the ORM, for any database."""

    def __init__(self, *, workspace: Workspace, lead_list: LeadList, stamp: datetime) -> None:
        self.workspace = workspace
        self.lead_list = lead_list
        self.stamp = stamp

    def _companies(self, records: list[LeadRecord]) -> dict[str, Company]:
        # domain → the first non-empty name and industry given for it in this batch.
        wanted: dict[str, _CompanyValues] = {}
        for r in records:
            if r.domain:
                given = wanted.setdefault(r.domain, _CompanyValues())
                fill_empty(given, {"name": r.company_name, "industry": r.industry})
        found = dict(self._by_domain(list(wanted)))
        Company.objects.bulk_create(
            [
                Company(workspace=self.workspace, domain=domain, **asdict(given))
                for domain, given in wanted.items()
                if domain not in found
            ],
            ignore_conflicts=True,
        )
        changed = []
        for domain, company in found.items():
            if fill_empty(company, asdict(wanted[domain])):
                company.updated_at = self.stamp
                changed.append(company)
        Company.objects.bulk_update(changed, [*COMPANY_BLANK_FIELDS, "updated_at"])
        found.update(self._by_domain([d for d in wanted if d not in found]))
        return found

    def _by_domain(self, domains: list[str]) -> Iterator[tuple[str, Company]]:
        for chunk in _chunks(domains):
            for company in Company.objects.filter(workspace=self.workspace, domain__in=chunk):
                assert company.domain is not None  # it matched one of `domains`
                yield company.domain, company

    def prepare(self, records: list[LeadRecord]) -> None:
        return None

    def write(self, records: list[LeadRecord], prepared: object = None) -> BatchOutcome:
        companies = self._companies(records)
        keys = [r.identity_key for r in records]
        existing: dict[str, Lead] = {}
        for chunk in _chunks(keys):
            for known in Lead.objects.filter(workspace=self.workspace, identity_key__in=chunk):
                existing[known.identity_key] = known
        new: list[Lead] = []
        changed: list[Lead] = []
        for r in records:
            company = companies.get(r.domain)
            values = {name: getattr(r, name) for name in LEAD_FIELDS}
            lead = existing.get(r.identity_key)
            if lead is None:
                new.append(
                    Lead(
                        workspace=self.workspace,
                        identity_key=r.identity_key,
                        company=company,
                        extra=r.extra,
                        **values,
                    )
                )
                continue
            filled = fill_empty(lead, {**values, "company_id": company.pk if company else None})
            if fill_extra(lead.extra, r.extra) or filled:
                lead.updated_at = self.stamp
                changed.append(lead)
        Lead.objects.bulk_create(new, ignore_conflicts=True)
        # auto_now_add stamps each object separately; the shared stamp tells later batches
        # which leads this import created.
        for chunk in _chunks([lead.pk for lead in new]):
            Lead.objects.filter(pk__in=chunk).update(created_at=self.stamp)
        Lead.objects.bulk_update(changed, [*LEAD_FIELDS, "company", "extra", "updated_at"])
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
        # A conflicting concurrent insert wins the race; then our object was not written.
        inserted = {lead.identity_key for lead in new if ids[lead.identity_key][0] == lead.pk}
        repeats = [key for key in keys if ids[key][1] == self.stamp and key not in inserted]
        return BatchOutcome(inserted=len(inserted), repeats=repeats, added_to_list=len(to_add))


def default_writer() -> WriterFactory:
    """COPY on PostgreSQL, the ORM elsewhere."""
    return PostgresCopyWriter if connection.vendor == "postgresql" else OrmWriter
