"""Apollo: People Enrichment (`POST /api/v1/people/match`), for emails.

No match is a 200 with `person: null` (free); a match costs one credit (demographics or email).
Apollo's own `email_status` (`verified`, `likely to engage`, `unverified`, `unavailable`; `bounced`
from its older list) is the finder's verdict: `unverified` (Apollo has low confidence) is risky,
`bounced`/`unavailable` is a miss, and so is the `email_not_unlocked@…` placeholder; any other
status carries no verdict. 401 is a bad key, 403 an endpoint or plan without API access, 422 a
request Apollo could not process, 429 a rate limit (`Retry-After`). Phones are only delivered
asynchronously to a webhook, so this adapter does not offer them.
"""

from __future__ import annotations

from providers.base import DataPoint, EmailStatus, Outcome, PersonInput
from providers.http import HttpProvider, MalformedBody, default_map, json_body, parse_retry_after

_VERDICTS = {
    "verified": EmailStatus.VALID,
    "likely to engage": EmailStatus.VALID,
    "unverified": EmailStatus.RISKY,
    "unavailable": EmailStatus.INVALID,
    "bounced": EmailStatus.INVALID,
}


class ApolloProvider(HttpProvider):
    kind = "apollo"
    base_url = "https://api.apollo.io/api/v1"
    finds = frozenset({DataPoint.EMAIL})
    requires = {
        DataPoint.EMAIL: (
            ("linkedin_url",),
            ("full_name", "domain"),
            ("full_name", "company_name"),
        )
    }
    default_rate_limit = "100/min:10"
    default_concurrency = 5

    def find_email(self, person: PersonInput) -> Outcome:
        body = {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "name": person.full_name,
            "domain": person.domain,
            "organization_name": person.company_name,
            "linkedin_url": person.linkedin_url,
            "reveal_personal_emails": False,
        }
        response = self.call(
            "POST",
            "/people/match",
            json={k: v for k, v in body.items() if v is not None},
            headers={"x-api-key": self.api_key, "Cache-Control": "no-cache"},
        )
        if isinstance(response, Outcome):
            return response
        if response.status_code == 429:
            return Outcome.rate_limited(parse_retry_after(response.headers.get("Retry-After")))
        if response.status_code == 403:
            # The key exists but may not call this endpoint: no retry will fix it.
            return Outcome.auth_failed("403")
        if response.status_code == 422:
            return Outcome.permanent("422")
        if response.status_code != 200:
            return default_map(response)
        try:
            payload = json_body(response)
        except MalformedBody:
            return Outcome.transient("malformed_body")
        if "person" not in payload:
            return Outcome.transient("malformed_body")
        found = payload.get("person")
        if not isinstance(found, dict):
            return Outcome.not_found()
        email = found.get("email")
        raw_status = str(found.get("email_status") or "").lower().replace("_", " ")
        if not isinstance(email, str) or "@" not in email or email.startswith("email_not_unlocked"):
            return Outcome.not_found(provider_status=raw_status or "no_email", cost=1.0)
        verdict = _VERDICTS.get(raw_status, EmailStatus.UNKNOWN)
        if verdict == EmailStatus.INVALID:
            return Outcome.not_found(provider_status=f"invalid_by_provider:{raw_status}", cost=1.0)
        return Outcome.found(
            email.lower(), verdict=verdict, provider_status=raw_status or "found", cost=1.0
        )
