"""People Data Labs: Person Enrichment (email, phone) and Company Enrichment.

200 = match (charged; `x-call-credits-spent` says how much), 404 = clean miss (free), 400/405
`invalid_request_error`, 401 `authentication_error`, 402 `payment_required` (out of credits),
429 `rate_limit_error` with the window's end in `x-ratelimit-reset` (a UTC time), 5xx
`api_error`. On plans without access to contact fields PDL answers `true` (a value exists) or
`false` instead of the value: a miss for us, and still a billed match. `required` makes PDL
answer 404 (and not charge) when the field we want is missing. Company `tags` are free keywords,
not technologies, so they never fill `tech_stack`.
"""

from __future__ import annotations

from typing import Any

from providers.base import CompanyInput, CompanyResult, DataPoint, Outcome, PersonInput, to_e164
from providers.http import (
    HttpProvider,
    MalformedBody,
    default_map,
    json_body,
    parse_reset_at,
    parse_retry_after,
)

MATCH_COST = 1.0


class PdlProvider(HttpProvider):
    kind = "pdl"
    base_url = "https://api.peopledatalabs.com/v5"
    finds = frozenset({DataPoint.EMAIL, DataPoint.PHONE, DataPoint.COMPANY})
    requires = {
        DataPoint.EMAIL: (
            ("linkedin_url",),
            ("full_name", "domain"),
            ("full_name", "company_name"),
        ),
        DataPoint.PHONE: (
            ("linkedin_url",),
            ("email",),
            ("full_name", "domain"),
            ("full_name", "company_name"),
        ),
        DataPoint.COMPANY: (("domain",), ("name",), ("ticker",)),
    }
    # Documented default for paying customers: 1,000 per minute.
    default_rate_limit = "1000/min:20"
    default_concurrency = 10

    def _get(self, path: str, params: dict[str, Any]) -> tuple[dict[str, Any], float] | Outcome:
        """The 200 body and the credits PDL says it spent, or the Outcome of anything else."""
        response = self.call(
            "GET",
            path,
            params={k: v for k, v in params.items() if v},
            headers={"X-Api-Key": self.api_key},
        )
        if isinstance(response, Outcome):
            return response
        if response.status_code == 404:
            return Outcome.not_found("404")
        if response.status_code in (400, 405):
            return Outcome.permanent(f"{response.status_code}_invalid_request_error")
        if response.status_code == 429:
            wait = parse_reset_at(response.headers.get("x-ratelimit-reset"))
            if wait is None:
                wait = parse_retry_after(response.headers.get("Retry-After"))
            return Outcome.rate_limited(wait, provider_status="429_rate_limit_error")
        if response.status_code != 200:
            return default_map(response)
        try:
            return json_body(response), _credits_spent(response.headers)
        except MalformedBody:
            return Outcome.transient("malformed_body")

    def _person(
        self, person: PersonInput, required: str
    ) -> tuple[dict[str, Any], dict[str, Any], float] | Outcome:
        """The payload, its `data` record and the credits spent, or the Outcome."""
        answer = self._get(
            "/person/enrich",
            {
                "profile": person.linkedin_url,
                "email": person.email,
                "first_name": person.first_name,
                "last_name": person.last_name,
                "name": None if person.first_name and person.last_name else person.full_name,
                "company": person.domain or person.company_name,
                "min_likelihood": self.options.get("min_likelihood", 6),
                "required": required,
            },
        )
        if isinstance(answer, Outcome):
            return answer
        payload, cost = answer
        data = payload.get("data")
        if not isinstance(data, dict):
            return Outcome.transient("malformed_body")
        return payload, data, cost

    def _confidence(self, payload: dict[str, Any]) -> int | None:
        likelihood = payload.get("likelihood")
        return int(likelihood) * 10 if isinstance(likelihood, int | float) else None

    def find_email(self, person: PersonInput) -> Outcome:
        answer = self._person(person, "work_email")
        if isinstance(answer, Outcome):
            return answer
        payload, data, cost = answer
        email = data.get("work_email")
        if not isinstance(email, str):
            professional = [
                e.get("address")
                for e in _as_list(data.get("emails"))
                if isinstance(e, dict) and e.get("type") in ("current_professional", "professional")
            ]
            email = next((e for e in professional if isinstance(e, str)), None)
        if not isinstance(email, str) or "@" not in email:
            return Outcome.not_found(_miss_reason(data, "work_email", "emails"), cost=cost)
        return Outcome.found(
            email.lower(), confidence=self._confidence(payload), provider_status="200", cost=cost
        )

    def find_phone(self, person: PersonInput) -> Outcome:
        answer = self._person(person, "mobile_phone")
        if isinstance(answer, Outcome):
            return answer
        payload, data, cost = answer
        phone = data.get("mobile_phone")
        if not isinstance(phone, str):
            numbers = [p for p in _as_list(data.get("phone_numbers")) if isinstance(p, str)]
            phone = numbers[0] if numbers else None
        e164 = to_e164(phone)
        if e164 is None:
            return Outcome.not_found(_miss_reason(data, "mobile_phone", "phone_numbers"), cost=cost)
        return Outcome.found(
            e164, confidence=self._confidence(payload), provider_status="200", cost=cost
        )

    def enrich_company(self, company: CompanyInput) -> Outcome:
        answer = self._get(
            "/company/enrich",
            {"website": company.domain, "name": company.name, "ticker": company.ticker},
        )
        if isinstance(answer, Outcome):
            return answer
        payload, cost = answer
        if not payload.get("name") and not payload.get("website"):
            return Outcome.transient("malformed_body")
        location = payload.get("location")
        funding = payload.get("total_funding_raised")
        employees = payload.get("employee_count")
        industry = payload.get("industry")
        result = CompanyResult(
            company_id=payload.get("id"),
            name=payload.get("display_name") or payload.get("name"),
            domain=payload.get("website") or company.domain,
            industry=industry,
            industries=[industry] if isinstance(industry, str) else None,
            employee_count=int(employees) if isinstance(employees, int | float) else None,
            employee_count_range=payload.get("size"),
            revenue_range=payload.get("inferred_revenue"),
            hq_location=location.get("name") if isinstance(location, dict) else None,
            funding_stage=payload.get("latest_funding_stage"),
            total_funding_usd=int(funding) if isinstance(funding, int | float) else None,
            # `tags` are keywords about the company, not technologies: no tech stack from PDL.
            tech_stack=None,
            linkedin_url=payload.get("linkedin_url"),
        )
        likelihood = payload.get("likelihood")
        return Outcome.found(
            result,
            confidence=int(likelihood) * 10 if isinstance(likelihood, int | float) else None,
            provider_status="200",
            cost=cost,
        )


def _as_list(value: Any) -> list[Any]:
    """A list field, or nothing: plan-gated fields arrive as `true`/`false`."""
    return value if isinstance(value, list) else []


def _miss_reason(data: dict[str, Any], *fields: str) -> str:
    if any(isinstance(data.get(f), bool) for f in fields):
        return "field_not_in_plan"
    return "no_value"


def _credits_spent(headers: Any) -> float:
    """`x-call-credits-spent` when PDL sends it, else the documented one credit per match."""
    try:
        return float(headers.get("x-call-credits-spent"))
    except (TypeError, ValueError):
        return MATCH_COST
