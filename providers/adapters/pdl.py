"""People Data Labs: Person Enrichment (email, phone) and Company Enrichment.

200 = match (charged), 404 = clean miss (free), 400 `invalid_request_error`, 401, 402
`payment_required` (out of credits), 429 `rate_limit_error`. On plans without access to a field,
PDL answers `true` instead of the value: that is a miss for us, not a hit. `required` makes PDL
answer 404 (and not charge) when the field we want is missing.
"""

from __future__ import annotations

from typing import Any

from providers.base import CompanyInput, CompanyResult, DataPoint, Outcome, PersonInput, to_e164
from providers.http import HttpProvider, MalformedBody, default_map, json_body


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

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any] | Outcome:
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
        if response.status_code == 400:
            return Outcome.permanent("400_invalid_request_error")
        if response.status_code != 200:
            return default_map(response)
        try:
            return json_body(response)
        except MalformedBody:
            return Outcome.transient("malformed_body")

    def _person(self, person: PersonInput, required: str) -> dict[str, Any] | Outcome:
        payload = self._get(
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
        if isinstance(payload, Outcome):
            return payload
        data = payload.get("data")
        if not isinstance(data, dict):
            return Outcome.transient("malformed_body")
        return payload

    def _confidence(self, payload: dict[str, Any]) -> int | None:
        likelihood = payload.get("likelihood")
        return int(likelihood) * 10 if isinstance(likelihood, int | float) else None

    def find_email(self, person: PersonInput) -> Outcome:
        payload = self._person(person, "work_email")
        if isinstance(payload, Outcome):
            return payload
        data = payload["data"]
        email = data.get("work_email")
        if not isinstance(email, str):
            professional = [
                e.get("address")
                for e in data.get("emails") or []
                if isinstance(e, dict) and e.get("type") in ("current_professional", "professional")
            ]
            email = next((e for e in professional if isinstance(e, str)), None)
        if not isinstance(email, str) or "@" not in email:
            # `true` = the field exists but is not in this plan.
            return Outcome.not_found("field_not_available", cost=1.0)
        return Outcome.found(
            email.lower(), confidence=self._confidence(payload), provider_status="200", cost=1.0
        )

    def find_phone(self, person: PersonInput) -> Outcome:
        payload = self._person(person, "mobile_phone")
        if isinstance(payload, Outcome):
            return payload
        data = payload["data"]
        phone = data.get("mobile_phone")
        if not isinstance(phone, str):
            numbers = [p for p in data.get("phone_numbers") or [] if isinstance(p, str)]
            phone = numbers[0] if numbers else None
        e164 = to_e164(phone)
        if e164 is None:
            return Outcome.not_found("field_not_available", cost=1.0)
        return Outcome.found(
            e164, confidence=self._confidence(payload), provider_status="200", cost=1.0
        )

    def enrich_company(self, company: CompanyInput) -> Outcome:
        payload = self._get(
            "/company/enrich",
            {"website": company.domain, "name": company.name, "ticker": company.ticker},
        )
        if isinstance(payload, Outcome):
            return payload
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
            tech_stack=[t for t in payload.get("tags") or [] if isinstance(t, str)] or None,
            linkedin_url=payload.get("linkedin_url"),
        )
        likelihood = payload.get("likelihood")
        return Outcome.found(
            result,
            confidence=int(likelihood) * 10 if isinstance(likelihood, int | float) else None,
            provider_status="200",
            cost=1.0,
        )
