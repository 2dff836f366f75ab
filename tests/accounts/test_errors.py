import json

import pytest
from django.core.cache import cache
from rest_framework.settings import api_settings

from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", ["/api/v2", "/api/v1/public"])
def test_unknown_api_path_is_404_in_error_shape(api, prefix):
    assert_error(api.get(f"{prefix}/no-such-thing"), 404, "not_found")


def test_wrong_method_is_405_in_error_shape(api):
    assert_error(api.delete("/api/v2/whoami"), 405, "method_not_allowed")


@pytest.mark.urls("tests.accounts.echo_urls")
def test_malformed_json_is_400_validation_error(api):
    response = api.post("/api/v2/echo", data="{nope", content_type="application/json")
    assert_error(response, 400, "validation_error")


@pytest.mark.urls("tests.accounts.echo_urls")
def test_deep_json_is_400_not_500(api):
    body = "[" * 100_000 + "]" * 100_000
    response = api.post("/api/v2/echo", data=body, content_type="application/json")
    assert response.status_code in (400, 413)
    assert response.json()["error"]["code"] in ("validation_error", "payload_too_large")


@pytest.mark.urls("tests.accounts.echo_urls")
def test_oversize_json_body_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"name": "x" * 5000})
    response = api.post("/api/v2/echo", data=body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_request_id_is_echoed_when_sane_and_generated_otherwise(api):
    response = api.get("/api/v2/whoami", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    response = api.get("/api/v2/whoami", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"].startswith("req_")


def test_throttling_per_key_is_429_with_retry_after(api, monkeypatch):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "api_key": "3/min"}
    monkeypatch.setattr("rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES", rates)
    cache.clear()
    statuses = [api.get("/api/v2/whoami").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = api.get("/api/v2/whoami")
    error = assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert error["retryable"] is True


def test_throttling_per_workspace_spans_keys(make_client, workspace, monkeypatch):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "workspace": "2/min"}
    monkeypatch.setattr("rest_framework.throttling.SimpleRateThrottle.THROTTLE_RATES", rates)
    first, second = make_client(workspace), make_client(workspace)
    assert first.get("/api/v2/whoami").status_code == 200
    assert second.get("/api/v2/whoami").status_code == 200
    assert_error(first.get("/api/v2/whoami"), 429, "rate_limited")


def test_unhandled_exception_is_500_without_traceback(api, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("accounts.apis.api_key_list", explode)
    response = api.get("/api/v2/api-keys")
    assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.content.decode()


@pytest.mark.urls("tests.accounts.echo_urls")
def test_invalid_utf8_json_is_400(api):
    response = api.post("/api/v2/echo", data=b'{"a": "\xff\xfe"}', content_type="application/json")
    assert_error(response, 400, "validation_error")
