"""The one way Sluice makes an outgoing HTTP request (provider APIs, webhook deliveries).

An `OutgoingSession` applies the rules to every request it sends, so no caller can forget one:

- the environment is not trusted: proxy variables and `.netrc` are ignored;
- redirects are never followed: a 3xx is the answer;
- every request has a connect and a read timeout;
- every request carries a User-Agent;
- the URL must pass `validate_url` (http or https, no `user:password@`): the one place an egress
  policy goes;
- nothing is sent from inside a database transaction (`ensure_no_transaction`).

Modelled on Zulip's `zerver/lib/outgoing_http.py`.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping
from typing import Any

import requests
from django.db import DEFAULT_DB_ALIAS, connections
from requests.adapters import HTTPAdapter

# (connect, read) seconds; a single number means both.
Timeout = float | tuple[float, float]

ALLOWED_SCHEMES = frozenset({"http", "https"})


class NetworkInTransaction(RuntimeError):
    """A network call was about to start inside a database transaction: a programming error.
    The transaction would hold its locks and connection for as long as the remote side takes,
    and a rollback cannot take back what was sent."""


class RefusedUrl(ValueError):
    """The URL may not be called (see `validate_url`). The message never repeats the URL: it
    may carry credentials."""


def in_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether this thread's connection is inside an atomic block opened by our code. Django's
    TestCase wraps each test in atomics marked `_from_testcase`; those are not ours."""
    blocks = connections[using].atomic_blocks
    return any(not getattr(block, "_from_testcase", False) for block in blocks)


def ensure_no_transaction(purpose: str) -> None:
    """Raises `NetworkInTransaction` when the default database connection is inside a
    transaction. Call it before anything that may reach the network; `purpose` names it."""
    if in_transaction():
        raise NetworkInTransaction(
            f"{purpose} inside a database transaction: commit first, then call out "
            "(or schedule the call with transaction.on_commit)."
        )


def validate_url(url: str) -> None:
    """The egress policy: raises `RefusedUrl` for a URL Sluice must not call. Today: only
    http(s), with a host and no userinfo. Address rules (private, loopback, link-local
    ranges) belong here too."""
    try:
        parts = urllib.parse.urlsplit(url)
        host, _ = parts.hostname, parts.port  # `.port` raises for a malformed port
    except ValueError:
        raise RefusedUrl("The URL cannot be parsed.") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise RefusedUrl(f"Only http and https URLs may be called, not {parts.scheme!r}.")
    if "@" in parts.netloc:
        raise RefusedUrl("URLs with credentials (user:password@host) may not be called.")
    if not host:
        raise RefusedUrl("The URL has no host.")


def checked_timeout(value: Any) -> tuple[float, float]:
    """`value` as (connect, read) seconds, both finite and positive: a request never waits
    forever."""
    parts = value if isinstance(value, tuple) else (value, value)
    if len(parts) != 2 or not all(
        isinstance(p, int | float) and not isinstance(p, bool) and 0 < p < math.inf for p in parts
    ):
        raise ValueError(f"A timeout is (connect, read) seconds, both set; got {value!r}.")
    return float(parts[0]), float(parts[1])


class OutgoingSession(requests.Session):
    """A `requests.Session` that applies the module's rules to every request it sends.

    `role` names the caller in errors and in the default User-Agent; `timeout` applies to a
    request that passes none. Keep-alive connections are pooled (urllib3's pool is
    thread-safe); retries are the caller's business, never urllib3's."""

    def __init__(
        self,
        *,
        role: str,
        timeout: Timeout,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        pool_connections: int = 10,
        pool_maxsize: int = 10,
    ) -> None:
        super().__init__()
        self.role = role
        self.timeout = checked_timeout(timeout)
        self.trust_env = False
        adapter = HTTPAdapter(
            pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=0
        )
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.headers["User-Agent"] = user_agent or f"sluice-{role}"
        if headers:
            self.headers.update(headers)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # Every request, whether from `request()` or a prepared one, ends up here.
        validate_url(request.url or "")
        ensure_no_transaction(f"An outgoing {self.role} HTTP request")
        kwargs["allow_redirects"] = False
        timeout = kwargs.get("timeout")
        kwargs["timeout"] = self.timeout if timeout is None else checked_timeout(timeout)
        return super().send(request, **kwargs)
