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

# Row error reasons of reading (stable keys: they appear in `skip_reasons`).
INVALID_ENCODING = "invalid_encoding"
WRONG_COLUMN_COUNT = "wrong_column_count"
MALFORMED_ROW = "malformed_row"
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"


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


_READERS = {"csv": read_csv, "json": read_json_array, "ndjson": read_ndjson}
FORMATS: tuple[str, ...] = tuple(_READERS)


def read_rows(
    stream: Any,
    *,
    file_format: str | None,
    column_mapping: Mapping[str, str | None] | None,
    errors: list[RowError],
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
    return _READERS[file_format](_text(binary), column_mapping=column_mapping, errors=errors)
