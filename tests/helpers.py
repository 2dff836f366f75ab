import threading
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


def at_once(requests: list[Callable[[], Any]], *, threads: int) -> list:
    """Runs every request from `threads` threads released together (each thread with its own
    database connection, as concurrent web workers would); returns the results, any order."""
    from django.db import connection

    threads = min(threads, len(requests))
    barrier = threading.Barrier(threads)
    results: list = []
    errors: list = []
    lock = threading.Lock()

    def run(batch: list[Callable[[], Any]]) -> None:
        try:
            barrier.wait()
            for request in batch:
                response = request()
                with lock:
                    results.append(response)
        except Exception as exc:  # surfaced below: a thread must not fail silently
            errors.append(exc)
        finally:
            connection.close()

    pool = [threading.Thread(target=run, args=(requests[i::threads],)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    return results


def recorded(calls: Any) -> int:
    """The provider calls a queryset of call records stands for (a row may hold several
    identical ones: providers.models.ProviderCall)."""
    from django.db.models import Sum

    return calls.aggregate(n=Sum("calls"))["n"] or 0
