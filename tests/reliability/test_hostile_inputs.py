"""Hostile inputs against every operation that takes them, each answered in the API error
shape and never with a 5xx. The operations are read from the served OpenAPI document and the
URL conf, so an operation added later is covered without editing this file."""

import base64
import csv
import io
import json
from urllib.parse import urlsplit

import pytest
from django.core import signing
from rest_framework.test import APIClient

from leads.models import ListMembership
from tests.helpers import assert_error
from tests.leads.factories import LeadFactory, LeadListFactory
from tests.reliability.conftest import count_case
from tests.urlconf import api_endpoints

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]


def _schema() -> dict:
    # At collection, before pytest-django allows the test client's "testserver" host.
    return APIClient().get("/api/v2/schema", {"format": "json"}, HTTP_HOST="localhost").json()


def _json_operations() -> list[tuple[str, str, dict]]:
    """(method, path template, JSON body schema) for every operation with a JSON body."""
    spec = _schema()
    operations = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                operations.append((method.upper(), path, content["application/json"]["schema"]))
    return operations


def _resolve(spec: dict, schema: dict) -> dict:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return spec["components"]["schemas"][name]
    return schema


@pytest.fixture
def target(seeded):
    """Real ids for the path parameters, so requests get past the lookup to the body."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {seeded['api_key'].raw_key}")
    started = client.post(
        "/api/v2/enrichment/person",
        {"lead_list_id": str(seeded["list"].id), "email": "jane@example.com"},
        format="json",
    )
    assert started.status_code == 202, started.content
    ids = {"list_id": str(seeded["list"].id), "workflow_id": started.json()["workflow_id"]}

    def fill(path: str) -> str:
        for name, value in ids.items():
            path = path.replace("{" + name + "}", value)
        return path.replace("{webhook_id}", "00000000-0000-4000-8000-000000000000")

    client.fill = fill
    return client


JSON_OPERATIONS = _json_operations()
OPERATION_IDS = [f"{m} {p}" for m, p, _ in JSON_OPERATIONS]


def _send(client, method: str, path: str, body: bytes, content_type="application/json"):
    count_case("hostile inputs")
    return client.generic(method, path, body, content_type=content_type)


@pytest.mark.parametrize(("method", "path", "schema"), JSON_OPERATIONS, ids=OPERATION_IDS)
def test_hostile_body_oversize_is_413(target, settings, method, path, schema):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = json.dumps({"name": "x" * 5000}).encode()
    assert_error(_send(target, method, target.fill(path), body), 413, "payload_too_large")


@pytest.mark.parametrize(("method", "path", "schema"), JSON_OPERATIONS, ids=OPERATION_IDS)
def test_hostile_body_deep_json_is_400(target, method, path, schema):
    body = b"[" * 100_000 + b"]" * 100_000
    assert_error(_send(target, method, target.fill(path), body), 400, "validation_error")
    nested = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    response = _send(target, method, target.fill(path), nested)
    assert response.status_code < 500, response.content[:300]


@pytest.mark.parametrize(("method", "path", "schema"), JSON_OPERATIONS, ids=OPERATION_IDS)
def test_hostile_body_invalid_utf8_and_garbage_are_400(target, method, path, schema):
    for body in (b'{"name": "\xff\xfe\xc3"}', b"\x00\x01\x02", b"{", b"nul", b'{"a": NaN}'):
        assert_error(_send(target, method, target.fill(path), body), 400, "validation_error")


@pytest.mark.parametrize(("method", "path", "schema"), JSON_OPERATIONS, ids=OPERATION_IDS)
def test_hostile_body_not_an_object_is_400(target, method, path, schema):
    for body in ("[]", "[1, 2]", '"text"', "42", "null", "true"):
        response = _send(target, method, target.fill(path), body.encode())
        assert_error(response, 400, "validation_error")


@pytest.mark.parametrize(("method", "path", "schema"), JSON_OPERATIONS, ids=OPERATION_IDS)
def test_hostile_body_wrong_types_nul_bytes_and_long_strings(target, method, path, schema):
    """Each documented property in turn gets a value of the wrong type, a string with NUL
    bytes, a 100,000-character string and a huge number: a 4xx in the error shape, never a
    5xx. A string property given an object must be a 400 naming that property."""
    spec = _schema()
    properties = _resolve(spec, schema).get("properties", {})
    assert properties, (method, path)
    hostile_values = [
        {"$gt": ""},
        [[[]]],
        "nul\x00byte",
        "\x00",
        "x" * 100_000,
        "😀" * 5_000,
        10**40,
        -(10**40),
        1e308,
        "../../../etc/passwd",
        "'; DROP TABLE leads; --",
    ]
    for name, prop in properties.items():
        prop = _resolve(spec, prop)
        for value in hostile_values:
            response = _send(target, method, target.fill(path), json.dumps({name: value}).encode())
            assert response.status_code < 500, (name, repr(value)[:40], response.content[:300])
            if response.status_code >= 400:
                assert_error(response, response.status_code, response.json()["error"]["code"])
        if prop.get("type") == "string" and prop.get("format") != "binary":
            response = _send(target, method, target.fill(path), json.dumps({name: {}}).encode())
            error = assert_error(response, 400, "validation_error")
            assert name in json.dumps(error["details"]), (name, error)


@pytest.mark.parametrize(("method", "path", "schema"), JSON_OPERATIONS, ids=OPERATION_IDS)
def test_hostile_body_unknown_fields_never_5xx(target, method, path, schema):
    body = {f"unknown_{i}": "x" for i in range(500)} | {"__proto__": {"admin": True}}
    response = _send(target, method, target.fill(path), json.dumps(body).encode())
    assert response.status_code < 500, response.content[:300]
    assert_error(response, response.status_code, response.json()["error"]["code"])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v2/lead-lists/{list_id}", {"name": "x", "nmae": "typo"}),
        ("/api/v2/search/people", {"titel": "CEO"}),
        ("/api/v2/search/companies", {"industri": "x"}),
    ],
)
def test_hostile_unknown_fields_where_a_typo_matters_are_400(target, path, body):
    method = "PATCH" if path.endswith("}") else "POST"
    response = _send(target, method, target.fill(path), json.dumps(body).encode())
    error = assert_error(response, 400, "validation_error")
    assert {key for key in body if key not in ("name",)} <= set(error["details"])


# --- Pagination: huge limits and forged, garbage, huge cursors -------------------------------

# (method, path, where the paging params go)
PAGINATED = [
    ("GET", "/api/v2/lead-lists", "query"),
    ("GET", "/api/v2/lead-lists/{list_id}/leads", "query"),
    ("GET", "/api/v2/export/json", "query"),
    ("GET", "/api/v2/credits/ledger", "query"),
    ("GET", "/api/v2/enrichment/{workflow_id}/items", "query"),
    ("POST", "/api/v2/search/people", "body"),
    ("POST", "/api/v2/search/companies", "body"),
]

FORGED_CURSORS = [
    "garbage",
    "x" * 100_000,  # huge
    "eyJraW5kIjoiY3JlZGl0cy5sZWRnZXIiLCJiZWZvcmVfaWQiOjF9",  # unsigned base64 JSON
    signing.dumps({"kind": "credits.ledger", "before_id": 1}, key="not-our-secret"),
    signing.dumps({"kind": "nope", "after": 0}, salt="sluice.cursor", compress=True),
    signing.dumps(["not", "a", "dict"], salt="sluice.cursor", compress=True),
    "%00",
    "😀",
    "..",
]


def _paged(client, method, path, params):
    count_case("hostile inputs")
    if "export/json" in path:
        params = {"list_id": client.fill("{list_id}"), **params}
    if method == "GET":
        return client.get(client.fill(path), params)
    return client.post(client.fill(path), params, format="json")


@pytest.mark.parametrize(("method", "path", "where"), PAGINATED, ids=[p for _, p, _ in PAGINATED])
def test_hostile_pagination_limits_out_of_range_are_400(target, method, path, where):
    for limit in (10**30, 10**6, 0, -1, "abc", "1e3", "", "5.5", "NaN", "0x10"):
        if limit == "" and method == "GET":
            continue  # a blank query value means "not given"
        response = _paged(target, method, path, {"limit": limit})
        error = assert_error(response, 400, "validation_error")
        assert "limit" in error["details"], (limit, error)


@pytest.mark.parametrize(("method", "path", "where"), PAGINATED, ids=[p for _, p, _ in PAGINATED])
def test_hostile_pagination_forged_cursors_are_400(target, method, path, where):
    for cursor in FORGED_CURSORS:
        response = _paged(target, method, path, {"cursor": cursor})
        error = assert_error(response, 400, "validation_error")
        assert "cursor" in error["details"], (cursor[:40], error)


def test_hostile_pagination_cursor_of_one_listing_is_refused_by_another(target, seeded):
    # given a genuine ledger cursor (two entries, one per page)
    target.post("/api/v2/credits/estimate", {"tool": "enrich_person"}, format="json")
    ledger = target.get("/api/v2/credits/ledger", {"limit": 1}).json()
    cursor = ledger["cursor"]
    assert cursor
    # then every other listing refuses it
    for method, path, _ in PAGINATED:
        if "ledger" in path:
            continue
        response = _paged(target, method, path, {"cursor": cursor})
        assert_error(response, 400, "validation_error")


# --- Path parameters that are not ids ---------------------------------------------------------

NOT_IDS = ["not-a-uuid", "1", "%00", "..%2F..%2Fadmin", "😀", "x" * 3000, "' OR 1=1 --"]


@pytest.mark.parametrize(
    "endpoint",
    [e for e in api_endpoints() if "<" in e.route],
    ids=lambda e: f"{e.method} {e.route}",
)
def test_hostile_path_params_that_are_not_ids_are_404(target, endpoint):
    for garbage in NOT_IDS:
        path = "/" + endpoint.route
        for _ in range(path.count("<")):
            head, _, rest = path.partition("<")
            path = head + garbage + rest.partition(">")[2]
        count_case("hostile inputs")
        response = getattr(target, endpoint.method.lower())(path, format="json")
        assert_error(response, 404, "not_found")


# --- Uploads: invalid UTF-8, NUL bytes ---------------------------------------------------------

BAD_CSVS = [
    b"first_name,last_name,email\n\xff\xfe\xc3,Doe,jane@example.com\nJohn,Roe,john@example.com\n",
    b"first_name,last_name,email\nJa\x00ne,Doe,jane@example.com\n",
    b"\x00\x00\x00\x00",
    b"\xef\xbb\xbf" + b"first_name,email\n" + b"A" * 200_000 + b",a@example.com\n",
    b'first_name,email\n"unterminated,a@example.com\n',
    b"",
]


@pytest.mark.parametrize("content", BAD_CSVS, ids=range(len(BAD_CSVS)))
def test_hostile_csv_import_bad_bytes_never_5xx(target, content):
    count_case("hostile inputs", 2)
    path = target.fill("/api/v2/lead-lists/{list_id}/csv-import")
    response = target.post(
        path,
        {
            "csv_content_base64": base64.b64encode(content).decode(),
            "dispatch_enrichment": False,
        },
        format="json",
    )
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert_error(response, response.status_code, response.json()["error"]["code"])
    upload = io.BytesIO(content)
    upload.name = "leads.csv"
    response = target.post(
        target.fill("/api/v2/lead-lists/{list_id}/import"), {"file": upload}, format="multipart"
    )
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        assert_error(response, response.status_code, response.json()["error"]["code"])


def test_hostile_csv_import_invalid_base64_is_400(target):
    count_case("hostile inputs")
    response = target.post(
        target.fill("/api/v2/lead-lists/{list_id}/csv-import"),
        {"csv_content_base64": "!!!not base64***", "dispatch_enrichment": False},
        format="json",
    )
    assert_error(response, 400, "validation_error")


# --- CSV formula injection in exports ----------------------------------------------------------

TRIGGERS = ["=", "+", "-", "@", "\t", "\r"]


@pytest.mark.parametrize("trigger", TRIGGERS, ids=[repr(t) for t in TRIGGERS])
def test_hostile_formula_injection_neutralised_in_csv_and_kept_in_json(
    client, target, seeded, trigger
):
    # given a lead whose every text cell starts with a formula trigger
    payload = f'{trigger}HYPERLINK("http://evil.example")'
    lead = LeadFactory(
        workspace=seeded["workspace"],
        first_name=payload,
        last_name=payload,
        title=payload,
        company_name=payload,
        location=payload,
        industry=payload,
    )
    lead_list = LeadListFactory(workspace=seeded["workspace"])
    ListMembership.objects.create(lead_list=lead_list, lead=lead)
    count_case("hostile inputs", 2)
    # when exported both ways
    export = target.post("/api/v2/export/csv/signed-url", {"list_id": str(lead_list.id)})
    assert export.status_code == 200, export.content
    url = urlsplit(export.json()["download_url"])
    download = client.get(f"{url.path}?{url.query}")
    text = b"".join(download.streaming_content).decode("utf-8-sig")
    (row,) = list(csv.DictReader(io.StringIO(text, newline="")))
    page = target.get("/api/v2/export/json", {"list_id": str(lead_list.id)}).json()
    # then no CSV cell starts with a trigger, and the JSON export has the data as stored
    cells = [value for value in row.values() if value]
    assert cells
    for value in cells:
        assert not value.startswith(tuple(TRIGGERS)), (trigger, value)
    assert row["first_name"] == "'" + payload
    (json_row,) = page["leads"]
    assert json_row["first_name"] == payload


def test_hostile_company_name_at_the_column_limit_is_stored_not_500(target, seeded):
    # given the longest name the API accepts (the provider answers with a longer one)
    count_case("hostile inputs")
    response = target.post("/api/v2/enrichment/company", {"company_name": "0" * 300})
    # then a normal answer, and no credit left held
    assert response.status_code in (200, 404), response.content[:300]
    balance = target.get("/api/v2/credits/balance").json()
    assert balance["held"] == 1  # the person enrichment's hold from `target`, nothing more


# --- Values past their columns, NULs in keys, deep values, odd digits and methods --------------

# (the field the 400 names, the person)
PERSON_TOO_LONG = {
    "first_name over its column": (
        "first_name",
        {"first_name": "a" * 151, "last_name": "Roe", "domain": "x.io"},
    ),
    "last_name over its column": (
        "last_name",
        {"first_name": "Jane", "last_name": "b" * 151, "domain": "x.io"},
    ),
    "company_name over its column": (
        "company_name",
        {"first_name": "Jane", "last_name": "Roe", "company_name": "c" * 301},
    ),
    "linkedin_url over its column": (
        "linkedin_url",
        {"linkedin_url": "https://linkedin.com/in/" + "s" * 300},
    ),
    # 300 characters as given, 312 as https://www.linkedin.com/in/<slug>
    "linkedin slug too long once normalised": (
        "linkedin_url",
        {"linkedin_url": "linkedin.com/in/" + "s" * 284},
    ),
    # each name within its column, the identity (nd:<first> <last>@<company>) over 400
    "identity over 400 characters": (
        "non_field_errors",
        {"first_name": "a" * 150, "last_name": "b" * 150, "company_name": "c" * 300},
    ),
    "email over its column": (
        "email",
        {"email": "e" * 64 + "@" + ("d" * 60 + ".") * 4 + "io"},
    ),
}


@pytest.mark.parametrize(("field", "person"), PERSON_TOO_LONG.values(), ids=PERSON_TOO_LONG.keys())
def test_hostile_person_enrichment_values_past_their_columns_are_400(target, seeded, field, person):
    count_case("hostile inputs")
    body = {"lead_list_id": str(seeded["list"].id), **person}
    response = target.post("/api/v2/enrichment/person", body, format="json")
    error = assert_error(response, 400, "validation_error")
    assert field in error["details"], error


def test_hostile_import_nul_in_csv_header_and_json_keys_is_not_5xx(target):
    count_case("hostile inputs", 4)
    path = target.fill("/api/v2/lead-lists/{list_id}/import")
    csv_body = b"email,No\x00tes\nnul1@example.com,x\n"
    response = target.generic("POST", path, csv_body, content_type="text/csv")
    assert response.status_code == 201, response.content[:300]
    json_body = b'[{"email": "nul2@example.com", "No\\u0000tes": "x"}]'
    response = target.generic("POST", path, json_body, content_type="application/json")
    assert response.status_code == 201, response.content[:300]
    ndjson_body = b'{"email": "nul3@example.com", "\\u0000": "x"}\n'
    response = target.generic("POST", path, ndjson_body, content_type="application/x-ndjson")
    assert response.status_code == 201, response.content[:300]
    response = target.post(
        target.fill("/api/v2/lead-lists/{list_id}/csv-import"),
        {
            "csv_content_base64": base64.b64encode(csv_body.replace(b"nul1", b"nul4")).decode(),
            "dispatch_enrichment": False,
        },
        format="json",
    )
    assert response.status_code == 201, response.content[:300]


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_hostile_import_value_nested_5000_deep_is_a_row_error(target, content_type):
    count_case("hostile inputs")
    record = '{"email": "deep@example.com", "tree": ' + '{"a": ' * 5_000 + "1" + "}" * 5_001
    body = f"[{record}]" if content_type == "application/json" else record + "\n"
    path = target.fill("/api/v2/lead-lists/{list_id}/import")
    response = target.generic("POST", path, body.encode(), content_type=content_type)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["skip_reasons"] == {"nested_too_deep": 1}


@pytest.mark.parametrize("webhook_id", ["²", "٣", "9" * 30, "-1", " 1"])
def test_hostile_webhook_delete_with_digits_int_cannot_take_is_404(target, webhook_id):
    count_case("hostile inputs")
    response = target.delete(f"/api/v2/webhooks/{webhook_id}")
    assert_error(response, 404, "not_found")


def test_hostile_metrics_non_ascii_bearer_token_is_401(client, settings):
    count_case("hostile inputs", 2)
    settings.SLUICE_METRICS_TOKEN = "s3cret"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer pässwörd")
    assert response.status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_hostile_long_http_method_is_counted_in_usage(target, seeded, caplog):
    from accounts.models import ApiUsage

    count_case("hostile inputs")
    response = target.generic("PROPFINDALL", "/api/v2/lead-lists")
    assert response.status_code == 405, response.content[:300]
    assert "Could not record API usage" not in caplog.text
    usage = ApiUsage.objects.get(api_key=seeded["api_key"], status_code=405)
    assert (usage.method, usage.route, usage.calls) == ("PROPFIND", "lead-lists", 1)
