"""The shared HTTP plumbing of the real adapters: one pooled session per process (a
`common.outgoing_http.OutgoingSession`, so the rules of every outgoing request apply),
connect/read timeouts, and the mapping every provider shares (5xx, timeouts, unparseable
bodies, `Retry-After`). Each adapter maps its own quirks first and falls back to `default_map`.
"""

from __future__ import annotations

import email.utils
import threading
import time
from datetime import UTC, datetime
from typing import Any

import requests
from django.conf import settings

from common.outgoing_http import OutgoingSession, RefusedUrl
from providers.base import Outcome, Provider

_session: OutgoingSession | None = None
_session_lock = threading.Lock()


def _timeout() -> tuple[float, float]:
    return (settings.SLUICE_PROVIDER_CONNECT_TIMEOUT_S, settings.SLUICE_PROVIDER_READ_TIMEOUT_S)


def session() -> OutgoingSession:
    """One session per process: keep-alive connections are reused across threads (urllib3's
    pool is thread-safe). Retries are ours (the engine's), never urllib3's."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                _session = OutgoingSession(
                    role="provider",
                    timeout=_timeout(),
                    user_agent="sluice-waterfall/0.1",
                    pool_connections=16,
                    pool_maxsize=64,
                )
    return _session


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# Below this a number is a delay in seconds; above it, a moment in UTC epoch seconds.
_EPOCH_THRESHOLD = 1_000_000_000


def parse_reset_at(value: str | None) -> float | None:
    """Seconds until the moment a rate-limit header names: an ISO-8601 UTC time
    (`2022-02-23T20:19:55Z`), UTC epoch seconds, an HTTP date, or plain delta-seconds."""
    if not value:
        return None
    value = value.strip().strip('"')
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if number > _EPOCH_THRESHOLD:
            return max(0.0, number - time.time())
        return max(0.0, number)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return parse_retry_after(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())


class MalformedBody(Exception):
    pass


def json_body(response: requests.Response) -> dict[str, Any]:
    """The body as a JSON object, or `MalformedBody` (HTML error pages, truncated JSON …)."""
    try:
        body = response.json()
    except ValueError as exc:
        raise MalformedBody(str(exc)) from exc
    if not isinstance(body, dict):
        raise MalformedBody("not a JSON object")
    return body


def default_map(response: requests.Response) -> Outcome:
    """HTTP statuses with their usual meaning, for whatever an adapter did not map itself."""
    status = response.status_code
    if status == 401:
        return Outcome.auth_failed("401")
    if status == 402:
        return Outcome.out_of_credits("402")
    if status == 429:
        return Outcome.rate_limited(parse_retry_after(response.headers.get("Retry-After")))
    if status >= 500 or status in (408, 409, 425):
        return Outcome.transient(str(status))
    return Outcome.permanent(str(status))


class HttpProvider(Provider):
    """A provider reached over HTTPS. `call()` never raises for network trouble: it returns
    either a response or the Outcome that the trouble means. A redirect is a response, never
    followed; a call from inside a database transaction raises `NetworkInTransaction`."""

    base_url: str = ""

    def __init__(self, *, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if base_url:
            self.base_url = base_url.rstrip("/")

    @property
    def timeout(self) -> tuple[float, float]:
        return _timeout()

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response | Outcome:
        kwargs.setdefault("timeout", self.timeout)
        try:
            return session().request(method, f"{self.base_url}{path}", **kwargs)
        except RefusedUrl:
            # Our configuration, not the provider's trouble: retrying cannot help.
            return Outcome.permanent("refused_url")
        except requests.Timeout:
            return Outcome.transient("timeout")
        except requests.ConnectionError:
            return Outcome.transient("connection_error")
        except requests.RequestException as exc:
            return Outcome.transient(type(exc).__name__)
