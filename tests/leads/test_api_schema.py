"""The leads operations' OpenAPI document types what they return (no untyped objects)."""

import pytest

from leads.exports import COLUMNS

pytestmark = pytest.mark.django_db


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


@pytest.fixture
def schemas(client) -> dict:
    return client.get("/api/v2/schema", {"format": "json"}).json()["components"]["schemas"]


def test_api_schema_import_row_errors_are_typed(schemas):
    for response in ("LeadImportResponse", "CsvImportResponse"):
        assert schemas[response]["properties"]["errors"]["items"] == _ref("ImportRowError")
    error = schemas["ImportRowError"]
    assert error["properties"]["row"]["type"] == "integer"
    assert set(error["required"]) == {"row", "reason", "detail"}


def test_api_schema_export_rows_document_every_column(schemas):
    assert schemas["ExportJsonResponse"]["properties"]["leads"]["items"] == _ref("ExportLeadRow")
    row = schemas["ExportLeadRow"]
    # only the requested columns are present, so none is required
    assert list(row["properties"]) == list(COLUMNS)
    assert "required" not in row
    assert row["properties"]["email_confidence"] == {"type": "integer", "nullable": True}


def test_api_schema_search_results_are_typed(schemas):
    people, companies = schemas["SearchPeopleResponse"], schemas["SearchCompaniesResponse"]
    assert people["properties"]["results"]["items"] == _ref("LeadRow")
    assert companies["properties"]["results"]["items"] == _ref("CompanyRecord")
    for response in (people, companies):
        assert next(iter(response["properties"])) == "results"


@pytest.mark.parametrize(
    "component",
    [
        "LeadImportResponse",
        "CsvImportResponse",
        "ExportJsonResponse",
        "SearchPeopleResponse",
        "SearchCompaniesResponse",
    ],
)
def test_api_schema_has_no_untyped_objects(schemas, component):
    def untyped(node) -> bool:
        if isinstance(node, dict):
            if node.get("type") == "object" and node.get("additionalProperties") == {}:
                return True
            return any(untyped(value) for value in node.values())
        if isinstance(node, list):
            return any(untyped(value) for value in node)
        return False

    assert not untyped(schemas[component])
