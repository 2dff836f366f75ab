"""Prospeo (prospeo.io): Enrich Person, for an email or a mobile.

Every body carries `error: bool`; failures name an `error_code` (`NO_MATCH`,
`INSUFFICIENT_CREDITS`, `INVALID_DATAPOINTS`, `INVALID_REQUEST`, `INVALID_API_KEY`,
`ACCOUNT_RESTRICTED`, `RATE_LIMITED` or `RATE_LIMIT_EXCEEDED`, `INTERNAL_ERROR`), usually with
HTTP 400/401/429/500. The code is authoritative; the HTTP status is the fallback. A rate limit's
wait is `x-minute-reset-seconds`. A match costs 1 credit, 10 with a mobile; no match costs
nothing, nor does a record Prospeo marks `free_enrichment` (enriched before by this account).
`only_verified_email` goes with email lookups only: set on a mobile lookup it turns a person
with a mobile but no verified email into NO_MATCH.
"""

from __future__ import annotations

from typing import Any

from providers.base import DataPoint, EmailStatus, Outcome, PersonInput, to_e164
from providers.http import HttpProvider, MalformedBody, default_map, json_body, parse_retry_after

EMAIL_COST = 1.0
MOBILE_COST = 10.0
_RATE_LIMIT_CODES = frozenset({"RATE_LIMITED", "RATE_LIMIT_EXCEEDED"})
_ACCOUNT_CODES = frozenset({"INVALID_API_KEY", "UNAUTHORIZED", "ACCOUNT_RESTRICTED"})

_PERSON_INPUTS = (
    ("full_name", "company_name"),
    ("full_name", "domain"),
    ("linkedin_url",),
    ("email",),
)


class ProspeoProvider(HttpProvider):
    kind = "prospeo"
    base_url = "https://api.prospeo.io"
    finds = frozenset({DataPoint.EMAIL, DataPoint.PHONE})
    requires = {DataPoint.EMAIL: _PERSON_INPUTS[:3], DataPoint.PHONE: _PERSON_INPUTS}
    default_rate_limit = "30/s"
    default_concurrency = 10

    def _enrich(
        self, person: PersonInput, *, mobile: bool
    ) -> tuple[dict[str, Any], bool] | Outcome:
        """The person record and whether Prospeo marked it a free re-enrichment."""
        data = {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "full_name": person.full_name,
            "linkedin_url": person.linkedin_url,
            "email": person.email,
            "company_name": person.company_name,
            "company_website": person.domain,
        }
        flags: dict[str, bool] = (
            {"enrich_mobile": True, "only_verified_mobile": True}
            if mobile
            else {"only_verified_email": True, "enrich_mobile": False}
        )
        body = {**flags, "data": {k: v for k, v in data.items() if v}}
        response = self.call("POST", "/enrich-person", json=body, headers={"X-KEY": self.api_key})
        if isinstance(response, Outcome):
            return response
        try:
            payload = json_body(response)
        except MalformedBody:
            if response.status_code == 429:
                return Outcome.rate_limited(_wait(response))
            return (
                default_map(response)
                if response.status_code >= 400
                else (Outcome.transient("malformed_body"))
            )
        if payload.get("error") is True or response.status_code >= 400:
            return self._error(payload.get("error_code"), response)
        person_data = payload.get("person")
        if not isinstance(person_data, dict):
            return Outcome.not_found()
        return person_data, payload.get("free_enrichment") is True

    def _error(self, code: Any, response: Any) -> Outcome:
        code = str(code or "").upper()
        if code == "NO_MATCH":
            return Outcome.not_found("NO_MATCH")
        if code == "INSUFFICIENT_CREDITS":
            return Outcome.out_of_credits(code)
        if code in _ACCOUNT_CODES:
            return Outcome.auth_failed(code)
        if code in _RATE_LIMIT_CODES or response.status_code == 429:
            return Outcome.rate_limited(_wait(response), provider_status=code or "429")
        if code in ("INVALID_DATAPOINTS", "INVALID_REQUEST"):
            return Outcome.permanent(code)
        if code == "INTERNAL_ERROR":
            return Outcome.transient(code)
        return (
            default_map(response)
            if response.status_code >= 400
            else Outcome.transient(code or "malformed_body")
        )

    def find_email(self, person: PersonInput) -> Outcome:
        result = self._enrich(person, mobile=False)
        if isinstance(result, Outcome):
            return result
        person_data, free = result
        email_data = person_data.get("email") or {}
        email = email_data.get("email") if isinstance(email_data, dict) else None
        if not isinstance(email, str) or "@" not in email:
            return Outcome.not_found()
        status = str(email_data.get("status") or "").upper()
        if status == "INVALID":
            return Outcome.not_found(provider_status="invalid_by_provider:INVALID")
        verdict = EmailStatus.VALID if status == "VERIFIED" else EmailStatus.UNKNOWN
        return Outcome.found(
            email.lower(),
            verdict=verdict,
            provider_status=status or "found",
            cost=0.0 if free else EMAIL_COST,
        )

    def find_phone(self, person: PersonInput) -> Outcome:
        result = self._enrich(person, mobile=True)
        if isinstance(result, Outcome):
            return result
        person_data, free = result
        mobile = person_data.get("mobile") or {}
        number = None
        if isinstance(mobile, dict):
            number = mobile.get("mobile_international") or mobile.get("mobile")
        e164 = to_e164(number)
        if e164 is None:
            return Outcome.not_found()
        return Outcome.found(
            e164,
            provider_status=str(mobile.get("status") or "found"),
            cost=0.0 if free else MOBILE_COST,
        )


def _wait(response: Any) -> float | None:
    """Seconds until Prospeo's minute window resets, else a standard Retry-After."""
    wait = parse_retry_after(response.headers.get("x-minute-reset-seconds"))
    if wait is None:
        wait = parse_retry_after(response.headers.get("Retry-After"))
    return wait
