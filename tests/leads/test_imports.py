import gc
import io
import itertools
import json
import sys
import threading
import time
import uuid

import pytest
from django.db import connection, transaction

from common.exceptions import ValidationFailed
from leads.imports import leads_import_file, leads_import_rows, pipeline, readers, writers
from leads.imports.writers import OrmWriter, PostgresCopyWriter
from leads.models import Company, Lead, ListMembership
from tests.helpers import assert_error
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db

GOOD_AND_BAD = (
    b"First Name,Last Name,Email,LinkedIn URL,Company,Website\n"
    b"Ada,Lovelace,ada@engines.example,,Engines,engines.example\n"  # row 2: good
    b"No,Identity,,,,\n"  # row 3: missing identity
    b"Bad,Email,not-an-email,,Acme,acme.example\n"  # row 4: invalid email
    b"Bad,Link,,https://www.linkedin.com/company/acme,Acme,acme.example\n"  # row 5
    b"Too,Few,x@y.example\n"  # row 6: wrong column count
    b"Ren\xe9,Latin1,rene@latin.example,,Latin,latin.example\n"  # row 7: not UTF-8
    b"Grace,Hopper,,linkedin.com/in/grace-hopper/,Navy,navy.example\n"  # row 8: good
)


@pytest.fixture(params=[PostgresCopyWriter, OrmWriter], ids=["copy", "orm"])
def writer(request):
    """Runs a test through the PostgreSQL COPY writer and through the portable ORM writer."""
    return request.param


def _import(workspace, lead_list, content: bytes, **kwargs):
    return leads_import_file(
        workspace=workspace, lead_list=lead_list, stream=io.BytesIO(content), **kwargs
    )


def test_import_bad_rows_are_reported_and_good_rows_land(workspace, writer):
    # given
    lead_list = LeadListFactory(workspace=workspace)
    # when
    result = _import(workspace, lead_list, GOOD_AND_BAD, writer=writer)
    # then
    assert (result.rows_parsed, result.rows_imported, result.rows_skipped) == (7, 2, 5)
    assert [(e.row, e.reason) for e in result.errors] == [
        (3, "missing_identity"),
        (4, "invalid_email"),
        (5, "invalid_linkedin_url"),
        (6, "wrong_column_count"),
        (7, "invalid_encoding"),
    ]
    assert result.skip_reasons["invalid_email"] == 1
    assert result.rows_added_to_list == 2
    leads = Lead.objects.filter(workspace=workspace).order_by("last_name")
    assert [lead.identity_key for lead in leads] == [
        "li:grace-hopper",
        "em:ada@engines.example",
    ]
    assert ListMembership.objects.filter(lead_list=lead_list).count() == 2


@pytest.mark.parametrize(
    "headers",
    [
        ("First Name", "Last Name", "Email Address", "Company Name", "Domain", "Job Title"),
        ("first_name", "last_name", "E-mail", "Company", "Website", "Title"),
        ("FirstName", "Surname", "email", "Organization", "Company Website", "Position"),
    ],
)
def test_import_header_aliases_map_to_lead_fields(workspace, headers):
    lead_list = LeadListFactory(workspace=workspace)
    content = (
        ",".join(headers) + "\nJane,Doe,JANE@Acme.example,Acme Inc,https://www.acme.example/,CTO\n"
    )
    result = _import(workspace, lead_list, content.encode())
    assert result.rows_imported == 1
    lead = Lead.objects.get(workspace=workspace)
    assert (lead.first_name, lead.last_name, lead.full_name) == ("Jane", "Doe", "Jane Doe")
    assert (lead.email, lead.company_name, lead.domain, lead.title) == (
        "jane@acme.example",
        "Acme Inc",
        "acme.example",
        "CTO",
    )
    assert lead.company.domain == "acme.example"
    assert lead.company.name == "Acme Inc"


def test_import_more_aliases_and_unknown_columns_kept_in_extra(workspace):
    lead_list = LeadListFactory(workspace=workspace)
    content = (
        "Name,LinkedIn,Mobile,City,Industry,Favourite Colour\n"
        "Alan Turing,https://uk.linkedin.com/in/alan-turing?trk=x,(415) 555-0132,London,"
        "Computing,green\n"
    )
    _import(workspace, lead_list, content.encode())
    lead = Lead.objects.get(workspace=workspace)
    assert (lead.first_name, lead.last_name) == ("Alan", "Turing")
    assert lead.linkedin_url == "https://www.linkedin.com/in/alan-turing"
    assert (lead.phone, lead.location, lead.industry) == ("+14155550132", "London", "Computing")
    assert lead.extra == {"Favourite Colour": "green"}


def test_import_explicit_column_mapping_wins_over_aliases(workspace):
    lead_list = LeadListFactory(workspace=workspace)
    content = b"Email,Work Address,Who\nold@x.example,jane@work.example,Jane Roe\n"
    _import(
        workspace,
        lead_list,
        content,
        column_mapping={"email": "Work Address", "full_name": "Who"},
    )
    lead = Lead.objects.get(workspace=workspace)
    assert lead.email == "jane@work.example"
    assert lead.full_name == "Jane Roe"
    assert lead.extra == {"Email": "old@x.example"}


def test_import_dedupes_within_upload_across_linkedin_url_forms(workspace, writer):
    lead_list = LeadListFactory(workspace=workspace)
    content = (
        b"first_name,last_name,linkedin_url,email,title\n"
        b"Ada,Lovelace,https://www.linkedin.com/in/ada-l/,,\n"
        b"Ada,Lovelace,http://linkedin.com/in/Ada-L?utm=1,ada@x.example,Countess\n"
        b"Ada,Lovelace,de.linkedin.com/in/ada-l,,\n"
    )
    result = _import(workspace, lead_list, content, writer=writer)
    assert (result.rows_parsed, result.rows_imported, result.rows_merged) == (3, 1, 2)
    assert result.duplicate_reasons == {"duplicate_linkedin": 2}
    lead = Lead.objects.get(workspace=workspace)
    # the repeats filled what the first row lacked
    assert (lead.email, lead.title) == ("ada@x.example", "Countess")


def test_import_duplicates_across_batches_are_merges_not_updates(workspace, writer):
    lead_list = LeadListFactory(workspace=workspace)
    content = (
        b"email,first_name\n"
        b"a@x.example,A\nb@x.example,B\nc@x.example,\n"
        b"c@x.example,C\na@x.example,A2\n"
    )
    result = _import(workspace, lead_list, content, batch_size=2, writer=writer)
    assert (result.rows_imported, result.rows_merged, result.rows_updated) == (3, 2, 0)
    assert result.duplicate_reasons == {"duplicate_email": 2}
    assert Lead.objects.get(email="c@x.example").first_name == "C"
    assert Lead.objects.get(email="a@x.example").first_name == "A"
    assert result.rows_added_to_list == 3


def test_import_upsert_fills_empty_fields_and_never_blanks_existing(workspace, writer):
    # given a lead with a title and no email, already in another list
    existing = LeadFactory(
        workspace=workspace,
        linkedin_url="https://www.linkedin.com/in/jane-doe",
        identity_key="li:jane-doe",
        title="CEO",
        location="",
        extra={"note": "keep"},
    )
    lead_list = LeadListFactory(workspace=workspace)
    content = (
        b"linkedin,title,email,city,note,source\n"
        b"https://linkedin.com/in/jane-doe,,jane@doe.example,Paris,overwritten?,fair\n"
    )
    # when
    result = _import(workspace, lead_list, content, writer=writer)
    # then the lead was matched, not duplicated; empty fields filled, others untouched
    assert (result.rows_imported, result.rows_updated, result.rows_added_to_list) == (0, 1, 1)
    existing.refresh_from_db()
    assert existing.title == "CEO"
    assert existing.email == "jane@doe.example"
    assert existing.location == "Paris"
    assert existing.extra == {"note": "keep", "source": "fair"}
    assert Lead.objects.filter(workspace=workspace).count() == 1
    # a second import adds nothing to the list
    again = _import(workspace, lead_list, content, writer=writer)
    assert (again.rows_updated, again.rows_added_to_list) == (1, 0)


def test_import_name_and_domain_identity_and_companies_by_domain(workspace, writer):
    lead_list = LeadListFactory(workspace=workspace)
    content = (
        b"first_name,last_name,company,website,industry\n"
        b"Jose,Garcia,,https://acme.example/about,\n"
        b"Mary,Major,Acme,www.acme.example,Software\n"
        b"Jos\xc3\xa9,GARCIA,Acme,acme.example,\n"
    )
    result = _import(workspace, lead_list, content, writer=writer)
    # accents and case do not make another person
    assert (result.rows_imported, result.rows_merged) == (2, 1)
    company = Company.objects.get(workspace=workspace)
    assert (company.domain, company.name, company.industry) == ("acme.example", "Acme", "Software")
    assert set(Lead.objects.values_list("company_id", flat=True)) == {company.id}


def test_import_name_and_company_name_without_a_domain_is_an_identity(workspace, writer):
    lead_list = LeadListFactory(workspace=workspace)
    content = (
        b"first_name,last_name,company\n"
        b"Chelsea,Kade,Pieper Carsten KG\n"
        b"chelsea,KADE,pieper  carsten kg\n"  # the same person: case and spacing do not count
        b"Chelsea,Kade,Tran PLC\n"  # another company: another person
    )
    result = _import(workspace, lead_list, content, writer=writer)
    assert (result.rows_imported, result.rows_merged, result.rows_skipped) == (2, 1, 0)
    assert result.duplicate_reasons == {"duplicate_name": 1}
    assert sorted(Lead.objects.values_list("identity_key", flat=True)) == [
        "nd:chelsea kade@pieper carsten kg",
        "nd:chelsea kade@tran plc",
    ]
    # no domain, so no company record: companies are keyed by domain
    assert not Company.objects.filter(workspace=workspace).exists()


def test_import_json_array_and_ndjson(workspace, writer):
    lead_list = LeadListFactory(workspace=workspace)
    array = json.dumps(
        [
            {"First Name": "Ada", "Email": "ada@x.example", "score": 3},
            "not an object",
            {"email": "bad"},
            {"linkedin_url": "linkedin.com/in/bob", "tags": ["a", "b"]},
        ]
    ).encode()
    result = _import(workspace, lead_list, array, writer=writer)
    assert (result.rows_parsed, result.rows_imported) == (4, 2)
    assert [(e.row, e.reason) for e in result.errors] == [
        (2, "not_an_object"),
        (3, "invalid_email"),
    ]
    assert Lead.objects.get(identity_key="li:bob").extra == {"tags": '["a", "b"]'}
    ndjson = b'{"email": "c@x.example"}\n\n{oops\n{"email": "ada@x.example", "title": "Dr"}\n'
    result = _import(workspace, lead_list, ndjson, writer=writer)
    assert (result.rows_imported, result.rows_updated) == (1, 1)
    assert [(e.row, e.reason) for e in result.errors] == [(3, "invalid_json")]
    assert Lead.objects.get(email="ada@x.example").title == "Dr"


def test_import_json_array_larger_than_the_read_buffer(workspace, monkeypatch):
    monkeypatch.setattr(readers, "_READ_CHUNK", 64)
    lead_list = LeadListFactory(workspace=workspace)
    rows = [{"email": f"p{i}@x.example", "bio": "x" * 200} for i in range(50)]
    result = _import(workspace, lead_list, json.dumps(rows).encode())
    assert result.rows_imported == 50


def test_import_truncated_json_keeps_elements_before_the_error(workspace):
    lead_list = LeadListFactory(workspace=workspace)
    result = _import(workspace, lead_list, b'[{"email": "a@x.example"}, {"email": "b@')
    assert result.rows_imported == 1
    assert [(e.row, e.reason) for e in result.errors] == [(2, "invalid_json")]


def test_import_bom_and_crlf_and_blank_lines(workspace):
    lead_list = LeadListFactory(workspace=workspace)
    content = b"\xef\xbb\xbfEmail,First Name\r\na@x.example,A\r\n\r\n,\r\nb@x.example,B\r\n"
    result = _import(workspace, lead_list, content)
    assert (result.rows_parsed, result.rows_imported, result.rows_skipped) == (2, 2, 0)


def test_import_formula_neutralisation_of_our_exports_is_undone(workspace):
    lead_list = LeadListFactory(workspace=workspace)
    _import(workspace, lead_list, b"email,phone,title\na@x.example,'+14155550132,'=cmd\n")
    lead = Lead.objects.get()
    assert (lead.phone, lead.title) == ("+14155550132", "=cmd")


# --- HTTP: /lead-lists/{id}/import ----------------------------------------------------------


def _upload(api, list_id, content: bytes, name="leads.csv", **extra):
    file = io.BytesIO(content)
    file.name = name
    return api.post(
        f"/api/v2/lead-lists/{list_id}/import", {"file": file, **extra}, format="multipart"
    )


def test_import_api_multipart_reports_row_errors(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    response = _upload(api, lead_list.id, GOOD_AND_BAD)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["list_id"] == str(lead_list.id)
    assert (body["rows_parsed"], body["rows_imported"], body["rows_skipped"]) == (7, 2, 5)
    assert body["rows_added_to_list"] == 2
    assert body["error_count"] == 5
    assert body["errors"][0] == {
        "row": 3,
        "reason": "missing_identity",
        "detail": body["errors"][0]["detail"],
    }
    assert body["skip_reasons"]["invalid_encoding"] == 1
    assert body["sample_skip_rows"] == [3, 4, 5, 6, 7]


def test_import_api_column_mapping_form_field(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    response = _upload(
        api, lead_list.id, b"Who,Addr\nJo,jo@x.example\n", column_mapping='{"email": "Addr"}'
    )
    assert response.status_code == 201
    assert Lead.objects.get(workspace=workspace).email == "jo@x.example"
    bad = _upload(api, lead_list.id, b"Who\nJo\n", column_mapping='{"email": "Nope"}')
    error = assert_error(bad, 400, "missing_column")
    assert error["details"]["missing_columns"] == ["Nope"]
    unknown = _upload(api, lead_list.id, b"Who\nJo\n", column_mapping='{"shoe_size": "Who"}')
    assert "column_mapping" in assert_error(unknown, 400, "validation_error")["details"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/csv", b"email\na@x.example\n"),
        ("application/json", b'[{"email": "a@x.example"}]'),
        ("application/x-ndjson", b'{"email": "a@x.example"}\n'),
    ],
)
def test_import_api_raw_body(api, workspace, content_type, body):
    lead_list = LeadListFactory(workspace=workspace)
    response = api.generic(
        "POST", f"/api/v2/lead-lists/{lead_list.id}/import", body, content_type=content_type
    )
    assert response.status_code == 201, response.content
    assert response.json()["rows_imported"] == 1


@pytest.mark.parametrize("content", [b"", b"email,first_name\n", b"\xef\xbb\xbf", b"email\n\n,\n"])
def test_import_api_empty_file_is_400(api, workspace, content):
    lead_list = LeadListFactory(workspace=workspace)
    response = _upload(api, lead_list.id, content)
    assert "file" in assert_error(response, 400, "validation_error")["details"]
    assert not Lead.objects.exists()


def test_import_api_missing_file_field_is_400(api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    response = api.post(f"/api/v2/lead-lists/{lead_list.id}/import", {}, format="multipart")
    assert_error(response, 400, "validation_error")


def test_import_api_oversize_body_is_413_before_reading(api, workspace, settings):
    settings.SLUICE_IMPORT_MAX_BYTES = 100
    lead_list = LeadListFactory(workspace=workspace)
    response = _upload(api, lead_list.id, b"email\n" + b"a@x.example\n" * 20)
    error = assert_error(response, 413, "payload_too_large")
    assert error["details"]["max_bytes"] == 100
    assert not Lead.objects.exists()


def test_import_api_upload_handler_stops_at_the_cap(settings):
    from common.exceptions import PayloadTooLarge
    from leads.io_apis import _LimitedUploadHandler

    settings.SLUICE_IMPORT_MAX_BYTES = 10
    handler = _LimitedUploadHandler()
    handler.new_file("file", "x.csv", "text/csv", 20)
    assert handler.receive_data_chunk(b"12345", 0) is None
    with pytest.raises(PayloadTooLarge):
        handler.receive_data_chunk(b"1234567", 5)


def test_import_api_another_workspaces_list_is_404(other_api, workspace):
    lead_list = LeadListFactory(workspace=workspace)
    assert_error(_upload(other_api, lead_list.id, b"email\na@x.example\n"), 404, "not_found")
    assert not Lead.objects.exists()


def test_import_in_many_batches_counts_errors_and_repeats_in_row_order(workspace, writer):
    # given rows parsed a batch ahead of the writer (leads.imports.pipeline._read_ahead)
    lead_list = LeadListFactory(workspace=workspace)
    content = (
        b"email,first_name\n"
        b"a@x.example,A\nbad,B\nb@x.example,B\nb@x.example,B2\nc@x.example,C\nworse,D\n"
        b"d@x.example,D\n"
    )

    result = _import(workspace, lead_list, content, batch_size=1, writer=writer)

    assert (result.rows_parsed, result.rows_imported, result.rows_skipped) == (7, 4, 2)
    assert result.rows_merged == 1
    assert [error.row for error in result.errors] == [3, 7]
    # (the repeat is in a later batch: a merge with the lead the import created, not sampled)
    assert result.sample_skip_rows == [3, 7]
    assert result.rows_added_to_list == 4


def test_import_a_writer_failure_stops_the_reader_and_writes_nothing(workspace):
    # given a writer that fails on its second batch
    lead_list = LeadListFactory(workspace=workspace)

    class FailingWriter(PostgresCopyWriter):
        batches = 0

        def write(self, records, prepared=None):
            FailingWriter.batches += 1
            if FailingWriter.batches == 2:
                raise RuntimeError("disk full")
            return super().write(records, prepared)

    content = b"email\n" + b"".join(b"p%d@x.example\n" % i for i in range(50))

    with pytest.raises(RuntimeError, match="disk full"):
        _import(workspace, lead_list, content, batch_size=5, writer=FailingWriter)

    # then the reader thread is gone and the transaction rolled back
    assert not any(t.name == "import-reader" for t in threading.enumerate())
    assert not Lead.objects.filter(workspace=workspace).exists()


def test_import_a_reader_failure_is_raised_in_the_caller(workspace):
    lead_list = LeadListFactory(workspace=workspace)

    def rows():
        yield from readers.read_rows(
            io.BytesIO(b"email\na@x.example\n"), file_format=None, column_mapping=None, errors=[]
        )
        raise OSError("connection reset while reading the upload")

    with pytest.raises(OSError, match="connection reset"):
        leads_import_rows(workspace=workspace, lead_list=lead_list, rows=rows(), read_errors=[])
    assert not Lead.objects.filter(workspace=workspace).exists()


def test_import_lead_ids_increase_in_file_order_across_batches(workspace):
    # The COPY writer hands out ordered ids (UUIDv7 layout), so the new leads' index entries
    # are appended instead of scattered.
    lead_list = LeadListFactory(workspace=workspace)
    content = b"email\n" + b"".join(b"p%02d@x.example\n" % i for i in range(12))
    _import(workspace, lead_list, content, batch_size=5, writer=PostgresCopyWriter)
    leads = sorted(Lead.objects.filter(workspace=workspace), key=lambda lead: lead.email)
    ids = [lead.id for lead in leads]
    assert ids == sorted(ids)
    assert {(lead_id.version, lead_id.variant) for lead_id in ids} == {(7, uuid.RFC_4122)}


@pytest.mark.django_db(transaction=True)
def test_import_row_matching_a_lead_committed_during_its_upsert_still_joins_the_list(workspace):
    # given an import of a person whose lead another transaction inserts, and commits while
    # the import's upsert waits for it: the upsert meets the lead through ON CONFLICT, but
    # its statement's snapshot predates the lead
    lead_list = LeadListFactory(workspace=workspace)
    content = b"linkedin,first_name\nhttps://www.linkedin.com/in/race-x,Race\n"
    results = []

    def import_file() -> None:
        try:
            results.append(_import(workspace, lead_list, content, writer=PostgresCopyWriter))
        finally:
            connection.close()

    importer = threading.Thread(target=import_file)
    with transaction.atomic():
        lead = LeadFactory(
            workspace=workspace,
            linkedin_url="https://www.linkedin.com/in/race-x",
            first_name="Race",
            full_name="Race",
        )
        importer.start()
        with connection.cursor() as cursor:
            deadline = time.monotonic() + 30
            while True:  # until the import waits for this transaction
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"
                )
                if cursor.fetchone()[0] or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
    importer.join(timeout=30)
    # then the row counts as an update of that lead, which joined the list
    (result,) = results
    assert (result.rows_imported, result.rows_updated, result.rows_added_to_list) == (0, 1, 1)
    assert list(lead_list.memberships.values_list("lead_id", flat=True)) == [lead.id]


def test_import_values_with_copy_format_characters_land_as_given(workspace, writer):
    # Backslashes, tabs, newlines and carriage returns inside cells, and quotes in `extra`
    # (JSON escapes them with backslashes): COPY's text format has to escape all of them.
    lead_list = LeadListFactory(workspace=workspace)
    content = (
        b"email,title,Notes,Path\n"
        b'a@x.example,R\\&D \\N lead,"line 1\nline\t2\r\nend \\N","C:\\temp\\""quoted\\"""\n'
        b"b@x.example,\\,\\N,\n"
    )
    result = _import(workspace, lead_list, content, writer=writer)
    assert result.rows_imported == 2
    first = Lead.objects.get(email="a@x.example")
    assert first.title == "R\\&D \\N lead"
    assert first.extra == {"Notes": "line 1\nline\t2\r\nend \\N", "Path": 'C:\\temp\\"quoted\\"'}
    second = Lead.objects.get(email="b@x.example")
    assert (second.title, second.extra) == ("\\", {"Notes": "\\N"})


def test_import_companies_across_batches_fill_only_what_is_empty(workspace, writer):
    # given a company the workspace has, with a name and no industry
    Company.objects.create(workspace=workspace, domain="acme.example", name="Acme Corp")
    lead_list = LeadListFactory(workspace=workspace)
    content = (
        b"email,company,website,industry\n"
        b"a@acme.example,Acme,acme.example,\n"  # batch 1: nothing the company lacks
        b"b@new.example,,new.example,\n"  # batch 1: a new company without a name
        b"c@acme.example,Other,acme.example,\n"  # batch 2: a name, but it has one
        b"d@new.example,New Co,new.example,\n"  # batch 2: the name it lacked
        b"e@acme.example,,acme.example,Software\n"  # batch 3: the industry it lacked
        b"f@new.example,Newer Co,new.example,Retail\n"  # batch 3: its name stays
    )
    # when
    result = _import(workspace, lead_list, content, batch_size=2, writer=writer)
    # then each company was filled by the first batch that brought a value, never overwritten
    assert result.rows_imported == 6
    companies = {
        c.domain: (c.name, c.industry) for c in Company.objects.filter(workspace=workspace)
    }
    assert companies == {
        "acme.example": ("Acme Corp", "Software"),
        "new.example": ("New Co", "Retail"),
    }
    by_email = dict(Lead.objects.values_list("email", "company__domain"))
    assert by_email == {
        "a@acme.example": "acme.example",
        "b@new.example": "new.example",
        "c@acme.example": "acme.example",
        "d@new.example": "new.example",
        "e@acme.example": "acme.example",
        "f@new.example": "new.example",
    }


def test_import_batch_naming_only_companies_it_wrote_sends_no_company_statement(workspace):
    # given an import whose later batches name the first batch's companies with nothing new
    lead_list = LeadListFactory(workspace=workspace)
    rows = b"".join(b"p%d@x.example,Acme,acme.example\n" % i for i in range(6))
    content = b"email,company,website\n" + rows
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    # when
    with connection.execute_wrapper(record):
        result = _import(workspace, lead_list, content, batch_size=2, writer=PostgresCopyWriter)
    # then only the first batch wrote the company, and every lead is linked to it
    assert result.rows_imported == 6
    assert sum("INSERT INTO leads_company" in sql for sql in statements) == 1
    company = Company.objects.get(workspace=workspace)
    assert set(Lead.objects.values_list("company_id", flat=True)) == {company.id}


def test_import_ordered_lead_ids_are_the_uuid_of_prefix_and_counter(workspace):
    # The ids are formatted as text without a UUID object per lead: the same text.
    ids = writers._OrderedLeadIds()
    ids.counter = itertools.count(0xFFFF_FFFE)
    taken = [ids.take() for _ in range(2)]
    assert taken == [str(uuid.UUID(int=ids.prefix | n)) for n in (0xFFFF_FFFE, 0xFFFF_FFFF)]


class _ObservingWriter(PostgresCopyWriter):
    """Records the interpreter's settings while a batch is written."""

    seen: list[tuple[tuple[int, ...], float]] = []

    def write(self, records, prepared=None):
        _ObservingWriter.seen.append((gc.get_threshold(), sys.getswitchinterval()))
        return super().write(records, prepared)


def test_import_spaces_collections_and_switches_sooner_and_restores_both(workspace):
    # given the interpreter's settings before an import, and an import that fails
    lead_list = LeadListFactory(workspace=workspace)
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    _ObservingWriter.seen = []
    # when
    _import(workspace, lead_list, b"email\na@x.example\n", writer=_ObservingWriter)
    with pytest.raises(ValidationFailed):
        _import(workspace, lead_list, b"email\n\n", writer=_ObservingWriter)
    # then while a batch was written, young collections were spaced and the GIL handed over
    # sooner; after either import, both are as they were
    ((during_thresholds, during_interval),) = _ObservingWriter.seen
    assert during_thresholds[0] == pipeline.IMPORT_GC_THRESHOLD > thresholds[0]
    assert during_thresholds[1:] == thresholds[1:]
    assert during_interval == pipeline.IMPORT_SWITCH_INTERVAL < interval
    assert (gc.get_threshold(), sys.getswitchinterval()) == (thresholds, interval)
