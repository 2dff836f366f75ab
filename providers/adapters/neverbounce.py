"""NeverBounce: `GET /v4/single/check`.

Errors arrive as HTTP 200 with `status` ∈ general_failure, auth_failure, temp_unavail,
throttle_triggered, bad_referrer; only `status: success` carries a `result` (valid, invalid,
disposable, catchall, unknown). Read `status` before `result`.
"""

from __future__ import annotations

from providers.base import EmailStatus, Outcome
from providers.http import HttpProvider, MalformedBody, default_map, json_body

_VERDICTS = {
    "valid": EmailStatus.VALID,
    "catchall": EmailStatus.RISKY,
    "unknown": EmailStatus.UNKNOWN,
    "invalid": EmailStatus.INVALID,
    # Deliverable but throw-away: never a B2B contact.
    "disposable": EmailStatus.INVALID,
}


class NeverBounceProvider(HttpProvider):
    kind = "neverbounce"
    base_url = "https://api.neverbounce.com/v4"
    verifies = True
    default_rate_limit = None
    default_concurrency = 20

    def verify_email(self, email: str) -> Outcome:
        response = self.call(
            "GET", "/single/check", params={"key": self.api_key, "email": email, "timeout": 10}
        )
        if isinstance(response, Outcome):
            return response
        if response.status_code != 200:
            return default_map(response)
        try:
            payload = json_body(response)
        except MalformedBody:
            return Outcome.transient("malformed_body")
        status = payload.get("status")
        message = str(payload.get("message") or "")
        if status in ("auth_failure", "bad_referrer"):
            return Outcome.auth_failed(status)
        if status == "throttle_triggered":
            return Outcome.rate_limited(None, provider_status=status)
        if status == "temp_unavail":
            return Outcome.transient(status)
        if status == "general_failure":
            if "credit" in message.lower():
                return Outcome.out_of_credits(f"{status}:{message[:150]}")
            return Outcome.permanent(f"{status}:{message[:150]}")
        result = payload.get("result")
        if status != "success" or result not in _VERDICTS:
            return Outcome.transient("malformed_body")
        return Outcome.found(email, verdict=_VERDICTS[result], provider_status=result, cost=1.0)
