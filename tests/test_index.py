"""`GET /`: a public, typed JSON index of the API prefixes, their docs, the admin and the
operator endpoints."""

import pytest
from django.urls import path
from drf_spectacular.generators import SchemaGenerator

from config.index import IndexApi

pytestmark = pytest.mark.django_db


def test_index_names_the_api_docs_admin_and_health_endpoints(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "name": "Sluice",
        "api": [
            {"prefix": "/api/v2", "schema": "/api/v2/schema", "docs": "/api/v2/docs"},
            {
                "prefix": "/api/v1/public",
                "schema": "/api/v1/public/schema",
                "docs": "/api/v1/public/docs",
            },
        ],
        "dialects": [
            {"name": "Lance", "schema": "/api/v1/operations/enrichment/schema"},
            {"name": "Enrich Leads API", "schema": "/api/schema"},
            {"name": "LocalLeads", "schema": "/api/v1/enrichment/schema"},
        ],
        "admin": "/admin/",
        "health": "/healthz",
        "ready": "/readyz",
        "metrics": "/metrics",
    }


def test_index_every_path_it_names_is_served_without_an_api_key(client):
    index = client.get("/").json()
    paths = [index["admin"], index["health"], index["ready"], index["metrics"]]
    paths += [surface[name] for surface in index["api"] for name in ("schema", "docs")]
    paths += [dialect["schema"] for dialect in index["dialects"]]

    statuses = {name: client.get(name).status_code for name in paths}

    # the admin sends a visitor to its login page; everything else answers
    assert statuses == {name: 302 if name == "/admin/" else 200 for name in paths}


def test_index_ignores_a_bad_api_key(client):
    response = client.get("/", HTTP_AUTHORIZATION="Bearer clapi_not-a-key")

    assert response.status_code == 200


def test_index_response_is_a_typed_schema_component():
    generator = SchemaGenerator(patterns=[path("", IndexApi.as_view(), name="index")])
    schema = generator.get_schema(request=None, public=True)

    operation = schema["paths"]["/"]["get"]
    assert operation["operationId"] == "index"
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IndexOutput"
    }
    components = schema["components"]["schemas"]
    output = components["IndexOutput"]
    assert set(output["required"]) == {
        "name", "api", "dialects", "admin", "health", "ready", "metrics"
    }  # fmt: skip
    assert output["properties"]["api"]["items"] == {"$ref": "#/components/schemas/ApiSurface"}
    assert set(components["ApiSurface"]["required"]) == {"prefix", "schema", "docs"}
    assert output["properties"]["dialects"]["items"] == {"$ref": "#/components/schemas/Dialect"}
