"""ZeroBounce: `GET /v2/validate`.

Statuses valid / catch-all / unknown / invalid / spamtrap / abuse / do_not_mail map to ours.
Account problems come back as HTTP 200 with `{"error": "..."}`; ZeroBounce's message for a bad key
and for an empty balance is the same ("Invalid API key or your account ran out of credits"), so
we read the words: "credits" alone → out of credits, anything about the key → auth failed. Both
stop calls until an operator clears the mark. `unknown` results are free.
"""

from __future__ import annotations

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
        if response.status_code != 200:
            return default_map(response)
        try:
            payload = json_body(response)
        except MalformedBody:
            return Outcome.transient("malformed_body")
        if error := payload.get("error"):
            message = str(error).lower()
            if "key" in message:
                return Outcome.auth_failed(str(error)[:200])
            if "credit" in message:
                return Outcome.out_of_credits(str(error)[:200])
            return Outcome.permanent(str(error)[:200])
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
