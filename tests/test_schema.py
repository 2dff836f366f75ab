import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", ["/api/v2", "/api/v1/public"])
def test_schema_and_docs_are_public_under_both_prefixes(client, prefix):
    schema = client.get(f"{prefix}/schema", {"format": "json"})
    assert schema.status_code == 200
    docs = client.get(f"{prefix}/docs")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_schema_documents_scope_and_errors_for_every_operation(client):
    spec = client.get("/api/v2/schema", {"format": "json"}).json()
    operations = [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if not path.endswith(("/schema", "/docs"))
    ]
    assert operations
    for path, method, op in operations:
        assert "Scope:" in op.get("description", ""), (path, method)
        assert {"401", "403", "429", "500"} <= set(op["responses"]), (path, method)


def test_schema_operation_ids_are_the_sdk_method_names(client):
    spec = client.get("/api/v2/schema", {"format": "json"}).json()
    operation_ids = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert {"whoami", "list_api_keys", "usage_report", "credits_balance"} <= operation_ids
    assert all(path.startswith("/api/v2/") for path in spec["paths"])
    v1 = client.get("/api/v1/public/schema", {"format": "json"}).json()
    assert all(path.startswith("/api/v1/public/") for path in v1["paths"])


def test_schema_types_the_items_of_api_keys_ledger_and_usage(client):
    spec = client.get("/api/v2/schema", {"format": "json"}).json()
    components = spec["components"]["schemas"]
    for output, field, item in [
        ("ApiKeyListOutput", "keys", "ApiKey"),
        ("LedgerListOutput", "entries", "LedgerEntry"),
        ("UsageReportOutput", "rows", "UsageRow"),
    ]:
        items = components[output]["properties"][field]["items"]
        assert items == {"$ref": f"#/components/schemas/{item}"}, output
    assert {"key_id", "key_prefix", "scopes", "is_active"} <= set(components["ApiKey"]["required"])
    assert {"id", "kind", "amount", "balance_after"} <= set(components["LedgerEntry"]["required"])
    assert set(components["UsageRow"]["required"]) == {"group", "calls", "errors", "credits_spent"}


def _untyped_objects(schema: dict, components: dict, where: str, seen: set) -> list[str]:
    """Places in a response schema that are objects without declared fields (a bare dict)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _untyped_objects(components[name], components, name, seen)
    found = []
    for key in ("oneOf", "anyOf", "allOf"):
        for part in schema.get(key, []):
            found += _untyped_objects(part, components, where, seen)
    if schema.get("type") == "object" or "properties" in schema:
        extra = schema.get("additionalProperties")
        if (not schema.get("properties") and not isinstance(extra, dict)) or extra == {}:
            found.append(where)
        for field, sub in schema.get("properties", {}).items():
            found += _untyped_objects(sub, components, f"{where}.{field}", seen)
        if isinstance(extra, dict):
            found += _untyped_objects(extra, components, f"{where}.*", seen)
    if schema.get("type") == "array" and "items" in schema:
        found += _untyped_objects(schema["items"], components, f"{where}[]", seen)
    return found


def test_schema_every_success_response_is_typed(client):
    # given the API's OpenAPI document
    spec = client.get("/api/v2/schema", {"format": "json"}).json()
    components = spec["components"]["schemas"]

    # when every 2xx JSON body is walked down to its leaves
    untyped = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                body = response.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and body:
                    where = f"{method.upper()} {path} {status}"
                    untyped += _untyped_objects(body, components, where, set())

    # then no object is left without its fields
    assert untyped == []
