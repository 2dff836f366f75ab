"""Reading an upload: the format from its first bytes, then CSV, JSON-array or NDJSON rows,
each mapped onto lead fields (leads.columns) as a `SourceRow`. Files are read as a stream, never
whole into memory. A row that cannot be read becomes a `RowError` in the caller's list and the
reading goes on.

Row numbers count like a spreadsheet: in a CSV the header is row 1 and the first lead row 2; in
a JSON array the first element is row 1; in NDJSON a row is a line.
"""

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from common.exceptions import ValidationFailed
from leads.columns import ColumnPlan, build_plan, clean_cell, unique_headers

_READ_CHUNK = 1 << 16
# One JSON-array element or NDJSON line, as the CSV reader caps one cell: a larger record is a
# row error, so no single record costs more than this to parse or to hold.
MAX_RECORD_CHARS = 1 << 20
# A JSON decode error this close to the end of the buffer may only mean the element goes on
# past it (the longest cut token, `-Infinity`, is 9 characters; a cut `\uXXXX` escape 6).
_TRUNCATION_MARGIN = 16

# Row error reasons of reading (stable keys: they appear in `skip_reasons`).
INVALID_ENCODING = "invalid_encoding"
WRONG_COLUMN_COUNT = "wrong_column_count"
MALFORMED_ROW = "malformed_row"
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
RECORD_TOO_LARGE = "record_too_large"
NESTED_TOO_DEEP = "nested_too_deep"


@dataclass(frozen=True)
class RowError:
    row: int
    reason: str
    detail: str


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
    # Headers become `Lead.extra` keys, and PostgreSQL text cannot hold NUL (cells: clean_cell).
    header = [name.replace("\x00", "") for name in header]
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
        # Without a NUL or a quote, clean_cell only trims: the common row, one C call a cell.
        clean = clean_cell if "\x00" in joined or "'" in joined else str.strip
        values = {header: clean(cell) for header, cell in zip(headers, cells, strict=False)}
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
        try:
            # Keys become `Lead.extra` keys: without NULs, as cells (clean_cell).
            values = {
                str(k).replace("\x00", ""): clean_cell(_json_value(v)) for k, v in obj.items()
            }
        except RecursionError:
            errors.append(RowError(number, NESTED_TOO_DEEP, "A value is nested too deeply."))
            return None
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


def _truncated(exc: json.JSONDecodeError, buffer: str) -> bool:
    """Whether the decode may have failed only because the element goes on past the buffer."""
    return exc.msg.startswith("Unterminated string") or len(buffer) - exc.pos <= _TRUNCATION_MARGIN


def read_json_array(
    text: IO[str],
    *,
    column_mapping: Mapping[str, str | None] | None,
    errors: list[RowError],
    max_record_chars: int = MAX_RECORD_CHARS,
) -> Iterator[SourceRow]:
    """A JSON array of objects, parsed element by element so a large file never sits in memory
    whole. An element is decoded once it is whole in the buffer; while it is not, the buffer
    grows by as much again as the element holds so far (not by a fixed chunk), so an element of
    n characters is decoded O(log n) times over a geometric series of lengths: O(n) in all.

    A syntax error, an element over `max_record_chars` or one nested deeper than the decoder
    goes ends the read with a row error: where a malformed or refused element ends is known
    only by scanning it token by token, which costs as much as the parse it avoids. The
    elements before it land."""
    decoder = json.JSONDecoder()
    rows = _JsonRows(column_mapping)
    buffer, pos, eof = "", 0, False

    def fill(wanted: int = _READ_CHUNK) -> None:
        nonlocal buffer, pos, eof
        chunk = text.read(max(wanted, _READ_CHUNK))
        buffer, pos = buffer[pos:] + chunk, 0
        eof = not chunk

    def skip_ws() -> None:
        nonlocal pos
        while True:
            whitespace = _WS.match(buffer, pos)
            assert whitespace is not None  # `\s*` matches the empty string too
            pos = whitespace.end()
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
            whole = end < len(buffer) or eof
        except json.JSONDecodeError as exc:
            if eof or not _truncated(exc, buffer):
                errors.append(RowError(number, INVALID_JSON, f"{exc.msg}; reading stopped here."))
                return
            whole, end = False, len(buffer)
        except RecursionError:
            errors.append(
                RowError(number, NESTED_TOO_DEEP, "Nested too deeply; reading stopped here.")
            )
            return
        if end - pos > max_record_chars:
            errors.append(
                RowError(
                    number,
                    RECORD_TOO_LARGE,
                    f"The record is over {max_record_chars} characters; reading stopped here.",
                )
            )
            return
        if not whole:
            # As much again as the element holds so far, and no more than one past the cap.
            pending = len(buffer) - pos
            fill(min(pending, max_record_chars + 1 - pending))
            number -= 1
            continue
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


def _line_end_skip(text: IO[str]) -> None:
    """Reads past the end of the current line, a piece at a time."""
    while True:
        piece = text.readline(_READ_CHUNK)
        if not piece or piece.endswith(("\n", "\r")):
            return


def read_ndjson(
    text: IO[str],
    *,
    column_mapping: Mapping[str, str | None] | None,
    errors: list[RowError],
    max_record_chars: int = MAX_RECORD_CHARS,
) -> Iterator[SourceRow]:
    """One JSON object per line. A line over `max_record_chars` is a row error, skipped
    without being held whole; the reading goes on."""
    rows = _JsonRows(column_mapping)
    number = 0
    while True:
        line = text.readline(max_record_chars + 2)  # the record and a CRLF
        if not line:
            return
        number += 1
        ended = line.endswith(("\n", "\r"))
        if len(line.rstrip("\r\n")) > max_record_chars:
            if not ended:
                _line_end_skip(text)
            errors.append(
                RowError(
                    number, RECORD_TOO_LARGE, f"The record is over {max_record_chars} characters."
                )
            )
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(RowError(number, INVALID_JSON, exc.msg))
            continue
        except RecursionError:
            errors.append(RowError(number, NESTED_TOO_DEEP, "Nested too deeply."))
            continue
        row = rows.row(number, obj, errors)
        if row is not None:
            yield row


_READERS = {"csv": read_csv, "json": read_json_array, "ndjson": read_ndjson}
FORMATS: tuple[str, ...] = tuple(_READERS)


def read_rows(
    stream: Any,
    *,
    file_format: str | None,
    column_mapping: Mapping[str, str | None] | None,
    errors: list[RowError],
    max_record_chars: int = MAX_RECORD_CHARS,
) -> Iterator[SourceRow]:
    """The mapped rows of a CSV, JSON array or NDJSON file read from `stream` (anything with
    `.read(n)`); `file_format` None: detected. An empty file or an unknown format is refused
    here, before any row is read."""
    binary = _buffered(stream)
    if not binary.peek(1):
        raise ValidationFailed(details={"file": ["The file is empty."]})
    file_format = file_format or detect_format(binary)
    if file_format not in _READERS:
        raise ValidationFailed(details={"format": [f"One of: {', '.join(FORMATS)}."]})
    text = _text(binary)
    if file_format == "csv":
        return read_csv(text, column_mapping=column_mapping, errors=errors)
    reader = read_json_array if file_format == "json" else read_ndjson
    return reader(
        text, column_mapping=column_mapping, errors=errors, max_record_chars=max_record_chars
    )
