"""Dropcontact: asynchronous batch enrichment (`POST /v1/enrich/all`, then poll
`GET /v1/enrich/all/{request_id}`).

A 200 is not success: read `success`. While the batch runs, the poll answers 200 with
`success: false` ("Request not ready yet, try again in 30 seconds"). 403 = not enough credits
for the request, 429 = over 60 requests/s, 401 = bad token. When our poll deadline passes the
answer is *unknown* (ask again later), never "not found". Credits are only kept when an email is
returned. Emails carry a `qualification` such as `nominative@pro`; `invalid` ones are misses and
catch-all ones are risky.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings

from providers.base import NAME_AND_COMPANY, DataPoint, EmailStatus, Outcome, PersonInput, to_e164
from providers.http import HttpProvider, MalformedBody, default_map, json_body, parse_retry_after


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
            json={"data": [{k: v for k, v in record.items() if v}], "siren": False},
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
        interval = settings.SLUICE_DROPCONTACT_POLL_INTERVAL_S
        deadline = time.monotonic() + settings.SLUICE_DROPCONTACT_POLL_TIMEOUT_S
        while True:
            time.sleep(interval)
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
            if time.monotonic() + interval > deadline:
                return Outcome.unknown(f"poll_timeout:{request_id}")

    def find_email(self, person: PersonInput) -> Outcome:
        row = self._enrich(person)
        if isinstance(row, Outcome):
            return row
        candidates = [e for e in row.get("email") or [] if isinstance(e, dict) and e.get("email")]
        usable = [e for e in candidates if "invalid" not in str(e.get("qualification", ""))]
        if not usable:
            if candidates:
                return Outcome.not_found(provider_status="invalid_by_provider")
            return Outcome.not_found()
        best = usable[0]
        qualification = str(best.get("qualification") or "")
        verdict = EmailStatus.RISKY if "catch" in qualification else EmailStatus.VALID
        if "nominative" not in qualification and verdict == EmailStatus.VALID:
            verdict = EmailStatus.UNKNOWN
        return Outcome.found(
            str(best["email"]).lower(),
            verdict=verdict,
            provider_status=qualification or "found",
            cost=1.0,
        )

    def find_phone(self, person: PersonInput) -> Outcome:
        row = self._enrich(person)
        if isinstance(row, Outcome):
            return row
        phone = row.get("mobile_phone") or row.get("phone")
        e164 = to_e164(phone)
        if e164 is None:
            return Outcome.not_found()
        return Outcome.found(e164, provider_status="found", cost=1.0)
