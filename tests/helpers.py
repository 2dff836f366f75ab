import time
from collections.abc import Callable
from typing import Any


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    """Checks the API error shape (docs/api.md) and returns the `error` object."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert isinstance(error["retryable"], bool)
    assert error["request_id"] == response["X-Request-ID"]
    assert "Traceback" not in response.content.decode(errors="replace")
    return error


def wait_until(predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.05):
    """Polls `predicate` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
