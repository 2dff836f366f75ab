"""What one import may cost: the size of one record, of one kept value and of one batch, and
the reading of a large JSON element in a number of steps that grows with the log of its size.
Time is not asserted here (bench/json_import_element.py prints it)."""

import io
import json

import pytest

from leads.imports import leads_import_file, readers
from leads.imports.pipeline import BATCH_MAX_CHARS
from leads.imports.records import MAX_EXTRA_VALUE_CHARS
from leads.imports.writers import PostgresCopyWriter
from leads.models import Lead
from tests.leads.factories import LeadListFactory

pytestmark = pytest.mark.django_db

OVER_THE_CAP = "x" * readers.MAX_RECORD_CHARS


def _import(workspace, content: bytes, **kwargs):
    lead_list = LeadListFactory(workspace=workspace)
    return leads_import_file(
        workspace=workspace, lead_list=lead_list, stream=io.BytesIO(content), **kwargs
    )


def _errors(result) -> list[tuple[int, str]]:
    return [(e.row, e.reason) for e in result.errors]


class _CountingText(io.StringIO):
    reads = 0

    def read(self, size: int | None = -1) -> str:
        self.reads += 1
        return super().read(size)


def test_imports_limits_large_json_element_is_read_in_geometric_steps():
    # given one element of 8 MiB, 128 times the read chunk
    element = {"email": "big@x.example", "notes": "x" * (8 << 20)}
    text = _CountingText(json.dumps([element]))
    errors: list[readers.RowError] = []
    # when it is read with the record cap lifted
    rows = list(
        readers.read_json_array(text, column_mapping=None, errors=errors, max_record_chars=16 << 20)
    )
    # then it is whole, and the buffer doubled instead of growing by one chunk per read
    assert [row.fields["email"] for row in rows] == ["big@x.example"]
    assert rows[0].extra["notes"] == element["notes"]
    assert errors == []
    assert text.reads <= 12, text.reads  # log2(128) + the first read and the end


def test_imports_limits_json_element_over_the_cap_is_a_row_error_and_ends_the_read(workspace):
    # given a good element, one over the record cap, and another good one
    content = json.dumps(
        [
            {"email": "a@x.example"},
            {"email": "big@x.example", "notes": OVER_THE_CAP},
            {"email": "c@x.example"},
        ]
    ).encode()
    stream = io.BytesIO(content)
    # when
    result = leads_import_file(
        workspace=workspace, lead_list=LeadListFactory(workspace=workspace), stream=stream
    )
    # then the first lands and the read stops at the oversized one
    assert _errors(result) == [(2, "record_too_large")]
    assert list(Lead.objects.values_list("email", flat=True)) == ["a@x.example"]


def test_imports_limits_json_syntax_error_ends_the_read_without_reading_the_rest(workspace):
    # given a syntax error in element 2, followed by 4 MB of well-formed elements
    rest = ", ".join(json.dumps({"email": f"p{i}@x.example"}) for i in range(150_000))
    content = f'[{{"email": "a@x.example"}}, {{"email" "b@x.example"}}, {rest}]'.encode()
    stream = io.BytesIO(content)
    # when
    result = leads_import_file(
        workspace=workspace, lead_list=LeadListFactory(workspace=workspace), stream=stream
    )
    # then the error is reported where it is, and the rest of the body was never read
    assert _errors(result) == [(2, "invalid_json")]
    assert result.rows_imported == 1
    assert stream.tell() < 1 << 20, stream.tell()


def test_imports_limits_ndjson_line_over_the_cap_is_skipped_and_reading_goes_on(workspace):
    # given line 2 over the record cap, CRLF line ends
    content = (
        b'{"email": "a@x.example"}\r\n'
        + json.dumps({"email": "big@x.example", "notes": OVER_THE_CAP}).encode()
        + b'\r\n{"email": "c@x.example"}\r\n'
    )
    # when
    result = _import(workspace, content)
    # then only that line is refused; the line numbers after it are right
    assert _errors(result) == [(2, "record_too_large")]
    assert sorted(Lead.objects.values_list("email", flat=True)) == ["a@x.example", "c@x.example"]
    bad_third = content + b"{oops\n"
    assert _errors(_import(workspace, bad_third))[-1] == (4, "invalid_json")


@pytest.mark.parametrize("file_format", ["json", "ndjson"])
def test_imports_limits_value_nested_5000_deep_is_a_row_error(workspace, file_format):
    # given a record with a value nested 5,000 deep, between two good ones
    deep = '{"a": ' * 5_000 + "1" + "}" * 5_000
    records = ['{"email": "a@x.example"}', f'{{"email": "d@x.example", "tree": {deep}}}']
    if file_format == "json":
        content = f"[{', '.join(records)}]"
    else:
        content = "\n".join([*records, '{"email": "c@x.example"}']) + "\n"
    # when
    result = _import(workspace, content.encode())
    # then a row error, not a RecursionError; the good rows land
    assert _errors(result) == [(2, "nested_too_deep")]
    expected = ["a@x.example"] if file_format == "json" else ["a@x.example", "c@x.example"]
    assert sorted(Lead.objects.values_list("email", flat=True)) == expected


def test_imports_limits_nul_in_csv_header_and_json_keys_is_dropped(workspace):
    # given NUL bytes in a CSV header and in JSON and NDJSON keys of unmapped columns
    csv_content = b"email,No\x00tes\na@x.example,first\n"
    json_content = b'[{"email": "b@x.example", "No\\u0000tes": "second"}]'
    ndjson_content = b'{"email": "c@x.example", "\\u0000Notes": "third"}\n'
    # when
    for content in (csv_content, json_content, ndjson_content):
        assert _import(workspace, content).rows_imported == 1
    # then the keys are kept without the NUL (PostgreSQL jsonb cannot hold one)
    extras = dict(Lead.objects.values_list("email", "extra"))
    assert extras == {
        "a@x.example": {"Notes": "first"},
        "b@x.example": {"Notes": "second"},
        "c@x.example": {"Notes": "third"},
    }


def test_imports_limits_extra_value_over_the_cap_is_value_too_long(workspace):
    # given an unmapped column at the cap and one over it
    at_cap, over = "n" * MAX_EXTRA_VALUE_CHARS, "n" * (MAX_EXTRA_VALUE_CHARS + 1)
    content = f"email,Notes\na@x.example,{at_cap}\nb@x.example,{over}\n".encode()
    # when
    result = _import(workspace, content)
    # then
    assert _errors(result) == [(3, "value_too_long")]
    assert "'Notes'" in result.errors[0].detail
    assert Lead.objects.get().extra == {"Notes": at_cap}


def test_imports_limits_row_error_quotes_at_most_100_characters(workspace):
    content = b"email\n" + b"@" * 500_000 + b"\n"
    result = _import(workspace, content)
    assert _errors(result) == [(2, "invalid_email")]
    assert len(result.errors[0].detail) < 150


def test_imports_limits_batches_are_bounded_by_characters_as_well_as_rows(workspace):
    # given 10 rows of about 1,000 characters each, and a batch bound of 2,500 characters
    batches: list[int] = []

    class RecordingWriter(PostgresCopyWriter):
        def write(self, records, prepared=None):
            batches.append(len(records))
            return super().write(records, prepared)

    content = "email,Notes\n" + "".join(f"p{i}@x.example,{'n' * 1000}\n" for i in range(10))
    # when
    result = _import(workspace, content.encode(), batch_chars=2_500, writer=RecordingWriter)
    # then a batch is written every third row, not once at the end
    assert result.rows_imported == 10
    assert batches == [3, 3, 3, 1]
    assert BATCH_MAX_CHARS == 8 << 20  # the default, for the docs
