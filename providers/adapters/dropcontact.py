"""Dropcontact: asynchronous batch enrichment (`POST /v1/enrich/all`, then poll
`GET /v1/enrich/all/{request_id}`).

A 200 is not success: read `success`. While the batch runs, the poll answers 200 with
`success: false` ("Request not ready yet, try again in 30 seconds"); Dropcontact asks for one poll
every 30 seconds, so after a first look at the configured interval we poll at that pace, and once
more at our deadline. When the deadline passes the answer is *unknown* (ask again later), never
"not found". 403 = not enough credits for the request, 429 = over 60 requests/s, 401 = bad token.

Each email carries a `qualification` `localpart@domain`, in the request's language: we ask for
English (`language: en`) and read the French forms too. Invalid addresses or domains and
throw-away (`disposable`/`jetable`) domains are misses; `Do_Not_Contact`/`Ne_Pas_Contacter` is a
miss and a suppression candidate; catch-all and personal (`perso`) addresses are risky; a
nominative professional address is valid; anything else carries no verdict.

Credits: an email found costs one credit (given back when none is found); an email we send in
the record costs one verification credit, never given back, even when the lookup misses.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from providers.base import (
    NAME_AND_COMPANY,
    SUPPRESSION_CANDIDATE,
    DataPoint,
    EmailStatus,
    Outcome,
    PersonInput,
    to_e164,
)
from providers.http import HttpProvider, MalformedBody, default_map, json_body, parse_retry_after

# Dropcontact's documented pace for fetching a result.
POLL_INTERVAL_S = 30.0
CREDIT = 1.0

_INVALID_LOCAL = frozenset({"invalid", "invalide"})
_INVALID_DOMAIN = frozenset({"invalid domain", "domaine invalide", "invalid", "invalide"})
_DISPOSABLE = frozenset({"disposable", "jetable"})
_DO_NOT_CONTACT = frozenset({"do_not_contact", "ne_pas_contacter"})
_CATCH_ALL = frozenset({"catch-all", "catch_all"})
_NOMINATIVE = frozenset({"nominative", "nominatif"})
_PERSONAL = "perso"


def _split(qualification: str) -> tuple[str, str]:
    local, _, domain = qualification.strip().lower().partition("@")
    return local.strip(), domain.strip()


def _is_invalid(qualification: str) -> bool:
    local, domain = _split(qualification)
    return local in _INVALID_LOCAL or domain in _INVALID_DOMAIN


def _miss_reason(qualification: str) -> str | None:
    """Why an address that came back is not a hit, or None when it is usable."""
    local, domain = _split(qualification)
    if local in _DO_NOT_CONTACT:
        return f"{SUPPRESSION_CANDIDATE}:{qualification}"
    if _is_invalid(qualification) or domain in _DISPOSABLE:
        return f"invalid_by_provider:{qualification}"
    return None


def _verdict(qualification: str) -> EmailStatus:
    local, domain = _split(qualification)
    if local in _CATCH_ALL or domain == _PERSONAL:
        return EmailStatus.RISKY
    if local in _NOMINATIVE:
        return EmailStatus.VALID
    return EmailStatus.UNKNOWN


class DropcontactProvider(HttpProvider):
    kind = "dropcontact"
    base_url = "https://api.dropcontact.com/v1"
    finds = frozenset({DataPoint.EMAIL, DataPoint.PHONE})
    requires = {
        DataPoint.EMAIL: (*NAME_AND_COMPANY, ("linkedin_url",)),
        DataPoint.PHONE: (*NAME_AND_COMPANY, ("linkedin_url",), ("email",)),
    }
    default_rate_limit = "60/s"
    # Each lookup holds a thread while it polls; keep a few in flight.
    default_concurrency = 20
    # Waiting between polls; a seam so a test can record the pace instead of sleeping it.
    _sleep = staticmethod(time.sleep)

    def _map_error(self, response: Any) -> Outcome:
        if response.status_code == 403:
            return Outcome.out_of_credits("403_not_enough_credits")
        if response.status_code == 429:
            return Outcome.rate_limited(parse_retry_after(response.headers.get("Retry-After")))
        return default_map(response)

    def _enrich(self, person: PersonInput) -> dict[str, Any] | Outcome:
        record = {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "full_name": None if person.first_name else person.full_name,
            "website": person.domain,
            "company": person.company_name,
            "linkedin": person.linkedin_url,
            "email": person.email,
        }
        headers = {"X-Access-Token": self.api_key}
        response = self.call(
            "POST",
            "/enrich/all",
            json={
                "data": [{k: v for k, v in record.items() if v}],
                "siren": False,
                "language": "en",
            },
            headers=headers,
        )
        if isinstance(response, Outcome):
            return response
        if response.status_code != 200:
            return self._map_error(response)
        try:
            submitted = json_body(response)
        except MalformedBody:
            return Outcome.transient("malformed_body")
        request_id = submitted.get("request_id")
        if submitted.get("error") or not submitted.get("success") or not request_id:
            reason = str(submitted.get("reason") or "submit_failed")
            return Outcome.permanent(reason[:200])
        return self._poll(str(request_id), headers)

    def _poll(self, request_id: str, headers: dict[str, str]) -> dict[str, Any] | Outcome:
        first = settings.SLUICE_DROPCONTACT_POLL_INTERVAL_S
        pace = max(first, POLL_INTERVAL_S)
        deadline = time.monotonic() + settings.SLUICE_DROPCONTACT_POLL_TIMEOUT_S
        wait = first
        while True:
            # The last wait is cut short so that one poll lands on the deadline.
            self._sleep(max(0.0, min(wait, deadline - time.monotonic())))
            response = self.call("GET", f"/enrich/all/{request_id}", headers=headers)
            if not isinstance(response, Outcome):
                if response.status_code in (401, 403):
                    return self._map_error(response)
                if response.status_code == 200:
                    try:
                        payload = json_body(response)
                    except MalformedBody:
                        payload = {}
                    rows = payload.get("data")
                    if payload.get("success") and isinstance(rows, list):
                        return rows[0] if rows and isinstance(rows[0], dict) else {}
            # Not ready, throttled, or a hiccup on their side: poll again until our deadline.
            if time.monotonic() >= deadline:
                return Outcome.unknown(f"poll_timeout:{request_id}")
            wait = pace

    @staticmethod
    def _emails(row: dict[str, Any]) -> list[tuple[str, str]]:
        """(address, qualification) pairs, in Dropcontact's order."""
        return [
            (str(e["email"]).lower(), str(e.get("qualification") or ""))
            for e in row.get("email") or []
            if isinstance(e, dict) and e.get("email")
        ]

    @classmethod
    def _cost(cls, person: PersonInput, row: dict[str, Any]) -> float:
        """A sent email always costs its verification credit; otherwise a credit is spent only
        when a (not invalid) email comes back."""
        if person.email:
            return CREDIT
        found = any(not _is_invalid(q) for _, q in cls._emails(row))
        return CREDIT if found else 0.0

    def find_email(self, person: PersonInput) -> Outcome:
        row = self._enrich(person)
        if isinstance(row, Outcome):
            return row
        cost = self._cost(person, row)
        candidates = self._emails(row)
        # Someone who asked not to be contacted is not a hit under any of their addresses.
        for _, qualification in candidates:
            reason = _miss_reason(qualification)
            if reason and reason.startswith(SUPPRESSION_CANDIDATE):
                return Outcome.not_found(reason, cost=cost)
        usable = [(e, q) for e, q in candidates if _miss_reason(q) is None]
        if not usable:
            if candidates:
                return Outcome.not_found(_miss_reason(candidates[0][1]) or "", cost=cost)
            return Outcome.not_found(cost=cost)
        email, qualification = usable[0]
        return Outcome.found(
            email,
            verdict=_verdict(qualification),
            provider_status=qualification or "found",
            cost=cost,
        )

    def find_phone(self, person: PersonInput) -> Outcome:
        row = self._enrich(person)
        if isinstance(row, Outcome):
            return row
        cost = self._cost(person, row)
        phone = row.get("mobile_phone") or row.get("phone")
        e164 = to_e164(phone)
        if e164 is None:
            return Outcome.not_found(cost=cost)
        return Outcome.found(e164, provider_status="found", cost=cost)
