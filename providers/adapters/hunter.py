"""Hunter (hunter.io): Email Finder and Email Verifier.

Quirks (hunter.io/api-documentation/v2): 403 means *rate limit reached* and 429 means *usage
limit / credits used up* — not the usual meanings; 202 means "still verifying, ask again";
222 (verifier) means the remote SMTP server answered unexpectedly, retry later: no verdict
(unknown, free, never cached); 451 (`claimed_email`) means the person asked Hunter to stop
processing their data: a definite miss and a suppression candidate; 404 from the finder is a
miss. A finder answer whose own `verification.status` is `invalid` is a miss. Hunter counts no
credit for a finder miss nor for a verification ending `unknown`, `disposable` or `webmail`.
"""

from __future__ import annotations

from typing import Any

from providers.base import SUPPRESSION_CANDIDATE, DataPoint, EmailStatus, Outcome, PersonInput
from providers.http import HttpProvider, MalformedBody, default_map, json_body, parse_retry_after

_VERDICTS = {
    "valid": EmailStatus.VALID,
    "accept_all": EmailStatus.RISKY,
    "webmail": EmailStatus.RISKY,
    "unknown": EmailStatus.UNKNOWN,
    "invalid": EmailStatus.INVALID,
    "disposable": EmailStatus.INVALID,
}
# Verifications Hunter does not count (its help centre: webmail, unknown and disposable results
# are skipped).
_FREE_VERDICTS = frozenset({"unknown", "disposable", "webmail"})


class HunterProvider(HttpProvider):
    kind = "hunter"
    base_url = "https://api.hunter.io/v2"
    finds = frozenset({DataPoint.EMAIL})
    verifies = True
    requires = {
        DataPoint.EMAIL: (
            ("first_name", "last_name", "domain"),
            ("full_name", "domain"),
            ("first_name", "last_name", "company_name"),
            ("full_name", "company_name"),
            ("linkedin_url",),
        )
    }
    # Documented: 15 requests/s and 500/min per key (the verifier: 10/s, 300/min).
    default_rate_limit = "500/min:15"
    default_concurrency = 10

    def _map_status(self, response: Any) -> Outcome | None:
        status = response.status_code
        if status == 202:
            return Outcome.rate_limited(
                parse_retry_after(response.headers.get("Retry-After")) or 2.0,
                provider_status="202_in_progress",
            )
        if status == 403:
            return Outcome.rate_limited(
                parse_retry_after(response.headers.get("Retry-After")), provider_status="403"
            )
        if status == 429:
            return Outcome.out_of_credits("429_usage_limit")
        if status == 451:
            # The person asked Hunter to stop processing their data: an answer, not a failure.
            return Outcome.not_found(f"{SUPPRESSION_CANDIDATE}:451_claimed_email")
        if status != 200:
            return default_map(response)
        return None

    def find_email(self, person: PersonInput) -> Outcome:
        params: dict[str, Any] = {"api_key": self.api_key}
        if person.domain:
            params["domain"] = person.domain
        elif person.company_name:
            params["company"] = person.company_name
        if person.first_name and person.last_name:
            params |= {"first_name": person.first_name, "last_name": person.last_name}
        elif person.full_name:
            params["full_name"] = person.full_name
        if person.linkedin_handle and not (person.domain or person.company_name):
            params["linkedin_handle"] = person.linkedin_handle
        response = self.call("GET", "/email-finder", params=params)
        if isinstance(response, Outcome):
            return response
        if response.status_code == 404:
            return Outcome.not_found("404")
        if (mapped := self._map_status(response)) is not None:
            return mapped
        try:
            data = json_body(response).get("data") or {}
        except MalformedBody:
            return Outcome.transient("malformed_body")
        email = data.get("email")
        if not isinstance(email, str) or "@" not in email:
            return Outcome.not_found()
        raw_status = (data.get("verification") or {}).get("status") or ""
        verdict = _VERDICTS.get(raw_status)
        if verdict == EmailStatus.INVALID:
            # Hunter itself says this address bounces: not a hit, and no credit is spent on it.
            return Outcome.not_found(provider_status=f"invalid_by_provider:{raw_status}")
        score = data.get("score")
        return Outcome.found(
            email.lower(),
            confidence=int(score) if isinstance(score, int | float) else None,
            verdict=verdict,
            provider_status=raw_status or "found",
            cost=1.0,
        )

    def verify_email(self, email: str) -> Outcome:
        response = self.call(
            "GET", "/email-verifier", params={"email": email, "api_key": self.api_key}
        )
        if isinstance(response, Outcome):
            return response
        if response.status_code == 222:
            return Outcome.unknown("222_smtp_failure")
        if (mapped := self._map_status(response)) is not None:
            return mapped
        try:
            data = json_body(response).get("data") or {}
        except MalformedBody:
            return Outcome.transient("malformed_body")
        raw_status = data.get("status")
        if raw_status not in _VERDICTS:
            return Outcome.transient("malformed_body")
        score = data.get("score")
        return Outcome.found(
            email,
            verdict=_VERDICTS[raw_status],
            confidence=int(score) if isinstance(score, int | float) else None,
            provider_status=raw_status,
            cost=0.0 if raw_status in _FREE_VERDICTS else 1.0,
        )
