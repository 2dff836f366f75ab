"""People Data Labs: the adapter against PDL's documented answers (docs.peopledatalabs.com and
the official clients peopledatalabs-js / peopledatalabs-python)."""

from datetime import UTC, datetime, timedelta

import pytest
import responses

from providers.base import CompanyInput, OutcomeKind, PersonInput
from providers.registry import build_provider

K = OutcomeKind
PDL_PERSON = "https://api.peopledatalabs.com/v5/person/enrich"
PDL_COMPANY = "https://api.peopledatalabs.com/v5/company/enrich"
PERSON = PersonInput(
    first_name="Sean",
    last_name="Thorne",
    domain="peopledatalabs.com",
    linkedin_url="https://www.linkedin.com/in/seanthorne",
)


def _plan_gated_record(**fields):
    """A 200 match as PDL sends it to a plan without contact fields: every contact field is
    `true` (PDL holds a value) or `false` (it holds none) instead of the value."""
    data = {
        "id": "qEnOZ5Oh0poWnQ1luFBfVw_0000",
        "full_name": "sean thorne",
        "work_email": True,
        "emails": True,
        "mobile_phone": True,
        "phone_numbers": True,
        "personal_emails": False,
    }
    return {"status": 200, "likelihood": 10, "data": {**data, **fields}}


@pytest.mark.parametrize("lookup", ["find_email", "find_phone"])
@responses.activate
def test_pdl_plan_gated_contact_fields_are_a_charged_miss(lookup):
    """PDL's Person Schema page says free plans see contact fields (emails, phone numbers)
    as `true` when a value exists and `false` when not, and the official JS client types
    `work_email`/`mobile_phone` as `string | boolean` and `emails`/`phone_numbers` as
    `Array | boolean`. Such a 200 is still a billed match (the `x-call-credits-spent`
    header, Usage Limits page), so it is a clean miss that carries its cost."""
    # given PDL matches the person but the plan hides the contact fields
    responses.add(
        "GET", PDL_PERSON, json=_plan_gated_record(), headers={"x-call-credits-spent": "1"}
    )
    # when the adapter looks the person up
    outcome = getattr(build_provider("pdl"), lookup)(PERSON)
    # then it is a miss, not an adapter crash, and the credit PDL took is recorded
    assert outcome.kind == K.NOT_FOUND, outcome
    assert outcome.provider_status == "field_not_in_plan"
    assert outcome.cost == 1.0


@responses.activate
def test_pdl_plan_gated_false_is_a_miss_too():
    """`false` (PDL holds no value for the field) is the other boolean the Person Schema
    documents for plan-gated contact fields."""
    responses.add(
        "GET",
        PDL_PERSON,
        json=_plan_gated_record(work_email=False, emails=False, mobile_phone=False,
                                phone_numbers=False),
    )  # fmt: skip
    assert build_provider("pdl").find_email(PERSON).kind == K.NOT_FOUND
    assert build_provider("pdl").find_phone(PERSON).kind == K.NOT_FOUND


@responses.activate
def test_pdl_email_falls_back_to_the_emails_list():
    """When `work_email` is gated but `emails` is a list of PersonEmailResponse objects
    (`address`, `type`), as the JS client types it, a professional address is a hit."""
    responses.add(
        "GET",
        PDL_PERSON,
        json=_plan_gated_record(
            emails=[
                {"address": "sean@gmail.com", "type": "personal"},
                {"address": "sean@peopledatalabs.com", "type": "current_professional"},
            ]
        ),
    )
    outcome = build_provider("pdl").find_email(PERSON)
    assert (outcome.kind, outcome.value) == (K.FOUND, "sean@peopledatalabs.com")


@responses.activate
def test_pdl_rate_limit_waits_until_x_ratelimit_reset():
    """PDL's "Fix 429 rate limit errors" page says to read `x-ratelimit-reset` (the UTC time
    the window resets, `2022-02-23T20:19:55Z` in the Usage Limits sample) and pause until
    then; the 429 body is `{"status": 429, "error": {"type": "rate_limit_error", ...}}`
    and no Retry-After is promised."""
    reset = (datetime.now(UTC) + timedelta(seconds=42)).strftime("%Y-%m-%dT%H:%M:%SZ")
    responses.add(
        "GET",
        PDL_PERSON,
        status=429,
        json={"status": 429, "error": {"type": "rate_limit_error",
                                       "message": "An error occurred due to requests hitting "
                                                  "the API too quick"}},
        headers={"x-ratelimit-reset": reset},
    )  # fmt: skip
    outcome = build_provider("pdl").find_email(PERSON)
    assert outcome.kind == K.RATE_LIMITED
    assert outcome.retry_after is not None
    assert 35 <= outcome.retry_after <= 43


@responses.activate
def test_pdl_rate_limit_reads_an_epoch_reset_too():
    """PDL's older header format (its earlier Rate Limiting page) sent `x-ratelimit-reset`
    as UTC epoch seconds."""
    reset = int(datetime.now(UTC).timestamp()) + 20
    responses.add(
        "GET", PDL_PERSON, status=429, json={"status": 429},
        headers={"x-ratelimit-reset": str(reset)},
    )  # fmt: skip
    outcome = build_provider("pdl").find_email(PERSON)
    assert outcome.kind == K.RATE_LIMITED
    assert 15 <= outcome.retry_after <= 21


@responses.activate
def test_pdl_company_tags_are_not_a_tech_stack():
    """The company `tags` field is a list of free keywords about the company (JS client:
    `tags?: Array<string>`, next to a separate `technologies_used`), not technologies."""
    responses.add(
        "GET",
        PDL_COMPANY,
        json={"status": 200, "name": "people data labs", "display_name": "People Data Labs",
              "website": "peopledatalabs.com", "size": "51-200", "employee_count": 120,
              "tags": ["data", "b2b", "people data", "enrichment"], "likelihood": 9,
              "id": "tnHcNHbCv8MKeLh92946LAkX6PKg"},
    )  # fmt: skip
    outcome = build_provider("pdl").enrich_company(CompanyInput(domain="peopledatalabs.com"))
    assert outcome.kind == K.FOUND
    assert outcome.value.tech_stack is None
