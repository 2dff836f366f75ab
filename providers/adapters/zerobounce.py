"""ZeroBounce: `GET /v2/validate`.

Statuses valid / catch-all / unknown / invalid / spamtrap / abuse / do_not_mail map to ours;
`unknown` results are free. Account problems come back as HTTP 200 with an `error` (or `Error`)
message; a bad key and an empty balance share one message ("Invalid API Key or your account ran
out of credits"), so the free `GET /v2/getcredits` tells them apart: `Credits: -1` is a bad key,
0 an empty balance. Either stops calls until an operator clears the mark. A 403 is ZeroBounce's
API Shield (a firewall that may answer 403 instead of the usual codes), not a bad key: back off.
"""

from __future__ import annotations

from typing import Any

import requests

from providers.base import EmailStatus, Outcome
from providers.http import HttpProvider, MalformedBody, default_map, json_body

_VERDICTS = {
    "valid": EmailStatus.VALID,
    "catch-all": EmailStatus.RISKY,
    "unknown": EmailStatus.UNKNOWN,
    "invalid": EmailStatus.INVALID,
    "spamtrap": EmailStatus.INVALID,
    "abuse": EmailStatus.INVALID,
    "do_not_mail": EmailStatus.INVALID,
}


class ZeroBounceProvider(HttpProvider):
    kind = "zerobounce"
    base_url = "https://api.zerobounce.net/v2"
    verifies = True
    finds = frozenset()
    # Documented: 80,000 requests per 10 s before a one-minute block.
    default_rate_limit = "8000/s:1000"
    default_concurrency = 20

    def verify_email(self, email: str) -> Outcome:
        response = self.call(
            "GET",
            "/validate",
            params={"api_key": self.api_key, "email": email, "ip_address": ""},
        )
        if isinstance(response, Outcome):
            return response
        if response.status_code == 403:
            return Outcome.rate_limited(None, provider_status="403_api_shield")
        if response.status_code != 200:
            return default_map(response)
        try:
            payload = json_body(response)
        except MalformedBody:
            return Outcome.transient("malformed_body")
        if error := _error_message(payload):
            return self._account_error(error)
        status = str(payload.get("status") or "").lower()
        if status not in _VERDICTS:
            return Outcome.transient("malformed_body")
        sub_status = payload.get("sub_status") or ""
        return Outcome.found(
            email,
            verdict=_VERDICTS[status],
            provider_status=f"{status}:{sub_status}" if sub_status else status,
            cost=0.0 if status == "unknown" else 1.0,
        )

    def _account_error(self, error: str) -> Outcome:
        message = error.lower()
        about_key, about_credits = "key" in message, "credit" in message
        if about_credits and not about_key:
            return Outcome.out_of_credits(error[:200])
        if about_key and not about_credits:
            return Outcome.auth_failed(error[:200])
        if not about_key:
            return Outcome.permanent(error[:200])
        credits = self._credits()
        if credits is not None and credits < 0:
            return Outcome.auth_failed(f"invalid_api_key:{error}"[:200])
        if credits == 0:
            return Outcome.out_of_credits(f"no_credits:{error}"[:200])
        # The balance could not be read, or is positive (a race with a top-up): the key or the
        # balance is still wrong for this call, and an operator has to look either way.
        return Outcome.auth_failed(f"key_or_credits:{error}"[:200])

    def _credits(self) -> float | None:
        """The balance from the free `getcredits` call (-1 = invalid key), None if unknown."""
        response = self.call("GET", "/getcredits", params={"api_key": self.api_key})
        if not isinstance(response, requests.Response) or response.status_code != 200:
            return None
        try:
            payload = json_body(response)
        except MalformedBody:
            return None
        value = payload.get("Credits", payload.get("credits"))
        if not isinstance(value, int | float | str):
            return None
        try:
            return float(value)
        except ValueError:
            return None


def _error_message(payload: dict[str, Any]) -> str:
    """The account error, whichever key and shape it came in (`error`/`Error`, text or list)."""
    error = payload.get("error") or payload.get("Error")
    if isinstance(error, list):
        return "; ".join(str(e) for e in error if e)
    return str(error) if error else ""
