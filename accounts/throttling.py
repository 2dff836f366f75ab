"""The API's request limits: per API key and per workspace (REST_FRAMEWORK's `api_key` and
`workspace` rates), failed authentications per client address (`failed_auth`), and the
`X-RateLimit-*` headers that tell a client where it stands.

Each check counts the request in its windows in one atomic step (accounts/rate_limits.py), so
concurrent requests cannot all pass on the same last free slot. A refused request is counted
nowhere: it spends neither its key's budget nor its workspace's.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from accounts.models import ApiKey
from accounts.rate_limits import Decision, Limit, get_windows

# Where a request's decision waits for RateLimitHeadersMiddleware (on the Django request).
_DECISION_ATTRIBUTE = "sluice_rate_limit"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _limit(scope: str, ident: str) -> Limit | None:
    """The window of `scope` for `ident` at its rate in DRF's rate table (REST_FRAMEWORK's
    DEFAULT_THROTTLE_RATES, "30/min"; None: unlimited), read per request."""
    rate = SimpleRateThrottle.THROTTLE_RATES.get(scope)
    if rate is None:
        return None
    allowed, period = rate.split("/")
    return Limit(key=f"{scope}:{ident}", allowed=int(allowed), period=_PERIODS[period[0]])


def _remember(request: Request, decision: Decision) -> None:
    setattr(request._request, _DECISION_ATTRIBUTE, decision)


def client_address(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or behind SLUICE_TRUSTED_PROXIES reverse proxies the
    address the outermost of them saw (X-Forwarded-For counted from the right), so a client
    cannot choose its own address by sending the header."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = settings.SLUICE_TRUSTED_PROXIES
    forwarded = [
        part.strip()
        for part in str(request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",")
        if part.strip()
    ]
    if proxies <= 0 or not forwarded:
        return remote
    return forwarded[-min(proxies, len(forwarded))]


class ApiRateThrottle(BaseThrottle):
    """The key's and its workspace's limits, checked and counted together."""

    def __init__(self) -> None:
        self._decision: Decision | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True  # public endpoints
        limits = [
            limit
            for limit in (
                _limit("api_key", str(api_key.pk)),
                _limit("workspace", str(api_key.workspace_id)),
            )
            if limit is not None
        ]
        if not limits:
            return True
        self._decision = get_windows().take(limits)
        if self._decision is None:
            return True
        _remember(request, self._decision)
        return self._decision.allowed

    def wait(self) -> float | None:
        return self._decision.retry_after() if self._decision else None


@dataclass(frozen=True)
class AuthenticationAttempt:
    """A request offering a key, counted as a failure until the key proves good."""

    limits: tuple[Limit, ...]
    entry: str

    def succeeded(self) -> None:
        if self.limits:
            get_windows().give_back(self.limits, self.entry)


def authentication_attempt_begin(request: Request) -> AuthenticationAttempt:
    """Counts a request that offers a key against its address's failed-authentication limit
    before the key is looked at, and raises Throttled when the address has used it up.
    Counting first makes the limit exact under concurrency; `succeeded()` takes the count
    back, so only failures stay counted."""
    limit = _limit("failed_auth", client_address(request._request))
    decision = get_windows().take([limit]) if limit is not None else None
    if decision is None or limit is None:
        return AuthenticationAttempt(limits=(), entry="")
    if not decision.allowed:
        _remember(request, decision)
        raise Throttled(wait=decision.retry_after())
    return AuthenticationAttempt(limits=(limit,), entry=decision.entry)


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """What the client is told (as GitHub's API does): the binding window's size, the requests
    left in it, and the Unix time at which its oldest counted request leaves it."""
    window = decision.binding()
    return {
        "X-RateLimit-Limit": str(window.limit.allowed),
        "X-RateLimit-Remaining": str(window.remaining),
        "X-RateLimit-Reset": str(math.ceil(window.frees_at)),
    }


class RateLimitHeadersMiddleware:
    """Puts the `X-RateLimit-*` headers on every response of a request that was rate limited
    (served or refused; `Retry-After` comes with the 429 error itself)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        decision = getattr(request, _DECISION_ATTRIBUTE, None)
        if isinstance(decision, Decision):
            for name, value in rate_limit_headers(decision).items():
                response[name] = value
        return response
