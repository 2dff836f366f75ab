"""The import services: rows → records → batches handed to a writer, counted in an
`ImportResult`. The whole import is one transaction: an unexpected failure leaves nothing
half-written; a bad row is only a row error, every good row lands."""

import base64
import binascii
import gc
import hashlib
import io
import queue
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import transaction
from django.utils import timezone

from accounts.models import Workspace
from common.exceptions import ValidationFailed
from leads import suppression
from leads.imports.readers import RowError, SourceRow, read_rows
from leads.imports.records import LeadRecord, duplicate_reason, to_record
from leads.imports.writers import BatchOutcome, WriterFactory, default_writer
from leads.models import Lead, LeadList
from leads.selectors import lead_list_get

BATCH_SIZE = 5000
# A batch is also written once its records hold this many characters of text, so rows with
# large values cannot make a batch of BATCH_SIZE rows hold hundreds of megabytes.
BATCH_MAX_CHARS = 8 << 20
MAX_REPORTED_ERRORS = 100
# What an import does with a row of a person on the suppression list (leads.suppression).
MARK, SKIP = "mark", "skip"
SUPPRESSED = "suppressed"
MAX_SAMPLE_SKIP_ROWS = 10
# Allocations between two young-generation collections while an import runs (Python's default
# is 700): see `_interpreter_tuned`.
IMPORT_GC_THRESHOLD = 100_000
# Seconds a thread holding the GIL keeps it while another asks for it during an import: see
# `_interpreter_tuned`.
IMPORT_SWITCH_INTERVAL = 0.0005
_T = TypeVar("_T")


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
    errors: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    sample_skip_rows: list[int] = field(default_factory=list)  # errors and repeats

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
        self.duplicate_reasons[duplicate_reason(identity_key)] += 1
        self._sample(row)

    def add_suppressed(self, *, row: int) -> None:
        """A row of a suppressed person, left out (`suppressed_rows=skip`)."""
        self.rows_skipped += 1
        self.skip_reasons[SUPPRESSED] += 1
        self._sample(row)

    def _sample(self, row: int) -> None:
        if len(self.sample_skip_rows) < MAX_SAMPLE_SKIP_ROWS:
            self.sample_skip_rows.append(row)


def leads_import_rows(
    *,
    workspace: Workspace,
    lead_list: LeadList,
    rows: Iterable[SourceRow],
    read_errors: list[RowError],
    batch_size: int = BATCH_SIZE,
    batch_chars: int = BATCH_MAX_CHARS,
    writer: WriterFactory | None = None,
    suppressed_rows: str = MARK,
) -> ImportResult:
    """The pipeline proper, from mapped rows on. `read_errors` is filled by the reader while
    `rows` is consumed. A batch is written at `batch_size` records or `batch_chars` characters
    of text, whichever comes first. `writer`: the writer class (default: `default_writer()`).
    Runs in one transaction; raises ValidationFailed when the file held no rows at all.
    A row of a person on the suppression list is imported and marked suppressed (`mark`) or
    left out with the skip reason `suppressed` (`skip`)."""
    result = ImportResult(list_id=str(lead_list.pk))
    stamp = timezone.now()
    with _interpreter_tuned(), transaction.atomic():
        batch_writer = (writer or default_writer())(
            workspace=workspace, lead_list=lead_list, stamp=stamp
        )

        def write(records: list[LeadRecord], prepared: object) -> None:
            if not records:
                return
            listed = suppression.identities_suppressed(workspace_id=workspace.pk, people=records)
            if listed and suppressed_rows == SKIP:
                for record in records:
                    if record.identity_key in listed:
                        result.add_suppressed(row=record.row)
                records = [record for record in records if record.identity_key not in listed]
                prepared = None  # it was prepared with the rows now left out
            outcome = batch_writer.write(records, prepared) if records else BatchOutcome(0, [], 0)
            if listed and suppressed_rows == MARK:
                Lead.objects.filter(
                    workspace=workspace, identity_key__in=listed, suppressed_at=None
                ).update(suppressed_at=stamp)
            result.rows_imported += outcome.inserted
            # A matched lead this import created in an earlier batch: a repeat in the upload.
            for key in outcome.repeats:
                result.rows_merged += 1
                result.duplicate_reasons[duplicate_reason(key)] += 1
            result.rows_updated += len(records) - outcome.inserted - len(outcome.repeats)
            result.rows_added_to_list += outcome.added_to_list

        batches = _batches(
            rows,
            read_errors,
            batch_size=batch_size,
            batch_chars=batch_chars,
            prepare=batch_writer.prepare,
        )
        # The next batch is parsed (and prepared for the writer) in a thread of its own while
        # this one waits for the database to write the last (docs/benchmarks.md, "A million
        # leads").
        for batch in _read_ahead(batches):
            batch.count_into(result)
            write(batch.records, batch.prepared)
        if result.rows_parsed == 0:
            raise ValidationFailed(details={"file": ["The file has no lead rows."]})
    return result


@dataclass
class _Batch:
    """A batch of records, with what parsing learnt of its rows (errors, repeats), to be
    counted in the order the rows came."""

    records: list[LeadRecord]
    parsed: int
    notes: list[RowError | tuple[int, str]]  # an error, or a repeat: (row, identity key)
    prepared: object  # the writer's `prepare(records)`

    def count_into(self, result: ImportResult) -> None:
        result.rows_parsed += self.parsed
        for note in self.notes:
            if isinstance(note, RowError):
                result.add_error(note)
            else:
                result.add_duplicate(row=note[0], identity_key=note[1])


def _batches(
    rows: Iterable[SourceRow],
    read_errors: list[RowError],
    *,
    batch_size: int,
    batch_chars: int,
    prepare: Callable[[list[LeadRecord]], object],
) -> Iterator[_Batch]:
    """Rows → records, merged per person within a batch, and `prepare`d for the writer; a
    batch ends at `batch_size` records or `batch_chars` characters of text, whichever comes
    first. No database access: this runs in the reader thread."""
    pending: dict[str, LeadRecord] = {}
    notes: list[RowError | tuple[int, str]] = []
    parsed = chars = 0
    for source in rows:
        notes.extend(read_errors)
        read_errors.clear()
        record = to_record(source)
        if isinstance(record, RowError):
            notes.append(record)
            continue
        parsed += 1
        # A repeat merges into the pending record; its size bounds what the merge adds.
        chars += record.size()
        seen = pending.get(record.identity_key)
        if seen is not None:
            seen.merge(record)
            notes.append((record.row, record.identity_key))
        else:
            pending[record.identity_key] = record
        if len(pending) >= batch_size or chars >= batch_chars:
            records = list(pending.values())
            yield _Batch(records, parsed, notes, prepare(records))
            pending, notes, parsed, chars = {}, [], 0, 0
    notes.extend(read_errors)
    read_errors.clear()
    records = list(pending.values())
    yield _Batch(records, parsed, notes, prepare(records) if records else None)


@contextmanager
def _interpreter_tuned() -> Iterator[None]:
    """While the block runs, the interpreter is tuned for an import, then put back as it was:

    - Python's cyclic garbage collector runs less often. An import allocates several objects
      per row and keeps a batch of them alive (a record, its dicts, its COPY line), none of
      them in a cycle; at the default threshold the collector went over the batch in flight
      every 700 allocations, about a tenth of the parsing's CPU. Collections still happen, so
      cycles made meanwhile are freed.
    - The GIL goes from one thread to another waiting for it sooner (every 0.5 ms instead of
      5 ms). The thread that writes the batches needs it back after each statement while the
      reader thread parses and holds it: each round trip used to wait up to 5 ms more with
      PostgreSQL idle, ~25 ms a batch. Threads that wait for nothing else are not switched
      more often: a switch happens only when another thread asks.

    (docs/benchmarks.md, "The import's fourth pass".) Imports running in several threads at
    once: the first one in tunes, the last one out restores what it found."""
    global _tuned_imports, _untuned
    with _tuning_lock:
        if _tuned_imports == 0:
            _untuned = (gc.get_threshold(), sys.getswitchinterval())
            thresholds, interval = _untuned
            gc.set_threshold(max(thresholds[0], IMPORT_GC_THRESHOLD), *thresholds[1:])
            sys.setswitchinterval(min(interval, IMPORT_SWITCH_INTERVAL))
        _tuned_imports += 1
    try:
        yield
    finally:
        with _tuning_lock:
            _tuned_imports -= 1
            if _tuned_imports == 0:
                thresholds, interval = _untuned
                gc.set_threshold(*thresholds)
                sys.setswitchinterval(interval)


_tuning_lock = threading.Lock()
_tuned_imports = 0
_untuned: tuple[tuple[int, int, int], float] = (gc.get_threshold(), sys.getswitchinterval())


def _read_ahead(items: Iterator[_T], *, depth: int = 1) -> Iterator[_T]:
    """`items`, produced in a thread of its own up to `depth` ahead of the consumer: parsing is
    pure Python, and it goes on while the consumer waits for the database (which releases the
    GIL). An exception in the producer is raised in the consumer; a consumer that stops early
    (an exception of its own) stops the producer before returning."""
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(message: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as exc:
            put(("error", exc))

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join()


def leads_import_file(
    *,
    workspace: Workspace,
    list_id: uuid.UUID | str | None = None,
    lead_list: LeadList | None = None,
    stream: Any,
    column_mapping: Mapping[str, str | None] | None = None,
    file_format: str | None = None,
    batch_size: int = BATCH_SIZE,
    batch_chars: int = BATCH_MAX_CHARS,
    writer: WriterFactory | None = None,
    suppressed_rows: str = MARK,
) -> ImportResult:
    """Imports a CSV, JSON array or NDJSON file read from `stream` (anything with `.read(n)`),
    without ever holding the whole file in memory."""
    if lead_list is None:
        if list_id is None:
            raise TypeError("leads_import_file needs list_id or lead_list.")
        lead_list = lead_list_get(workspace=workspace, list_id=list_id)
    errors: list[RowError] = []
    rows = read_rows(stream, file_format=file_format, column_mapping=column_mapping, errors=errors)
    return leads_import_rows(
        workspace=workspace,
        lead_list=lead_list,
        rows=rows,
        read_errors=errors,
        batch_size=batch_size,
        batch_chars=batch_chars,
        writer=writer,
        suppressed_rows=suppressed_rows,
    )


def csv_content_decode(csv_content_base64: str) -> bytes:
    """csv-import's `csv_content_base64`; not base64 is a 400 on that field."""
    try:
        return base64.b64decode(csv_content_base64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed(details={"csv_content_base64": ["Not valid base64."]}) from None


def csv_content_digest(content: bytes) -> str:
    """What csv-import's idempotency fingerprint holds of the file."""
    return hashlib.sha256(content).hexdigest()


AfterImport = TypeVar("AfterImport")


@dataclass(frozen=True)
class CsvImportResult(Generic[AfterImport]):
    result: ImportResult
    after_import: AfterImport | None


def csv_import(
    *,
    workspace: Workspace,
    lead_list: LeadList,
    content: bytes,
    column_mapping: Mapping[str, str | None] | None,
    after_import: Callable[[LeadList], AfterImport] | None = None,
    writer: WriterFactory | None = None,
) -> CsvImportResult[AfterImport]:
    """Cleanlist's `csv-import`: a CSV into a list. `after_import(lead_list)` (the caller's,
    e.g. starting an enrichment of the list: leads does not depend on enrichment) runs once
    the rows are in, in the same transaction: if it raises, nothing is imported."""
    with transaction.atomic():
        result = leads_import_file(
            workspace=workspace,
            lead_list=lead_list,
            stream=io.BytesIO(content),
            column_mapping=column_mapping,
            file_format="csv",
            writer=writer,
        )
        after = after_import(lead_list) if after_import is not None else None
    return CsvImportResult(result=result, after_import=after)
