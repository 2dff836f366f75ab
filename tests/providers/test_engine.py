import time

import pytest
import responses
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from common.outgoing_http import NetworkInTransaction
from providers.base import (
    CompanyInput,
    CompanyResult,
    DataPoint,
    EmailStatus,
    OutcomeKind,
    PersonInput,
)
from providers.engine import WaterfallEngine, enrich_company, run_batch
from providers.limits import BreakerPolicy, get_limits
from providers.models import ProviderCall, ProviderMark, ResultCacheEntry
from providers.services import provider_mark_clear
from tests.helpers import recorded, wait_until

pytestmark = pytest.mark.django_db

EMAIL = {DataPoint.EMAIL}
JANE = PersonInput(first_name="Jane", last_name="Doe", domain="acme.com")
HUNTER_FINDER = "https://api.hunter.io/v2/email-finder"
NEVERBOUNCE = "https://api.neverbounce.com/v4/single/check"


def _hunter_found(email="jane@acme.com", status="valid"):
    return {"data": {"email": email, "score": 90, "verification": {"status": status}}}


@pytest.fixture
def sandboxes(settings):
    """`sandbox_a` never finds, `sandbox_b` always does, the verifier says valid."""

    def configure(**instances):
        base = {"latency_ms": 0, "verify_mix": (1, 0, 0, 0)}
        instances["sandbox"] = base | instances.get("sandbox", {})
        settings.SLUICE_SANDBOX_INSTANCES = instances
        return settings

    return configure


def _trail(result):
    return [(a.provider, a.data_point, a.outcome) for a in result.attempts]


def test_engine_respects_the_order_and_the_first_verified_hit_wins(settings, sandboxes):
    sandboxes(
        sandbox_a={"email_hit_rate": 0.0},
        sandbox_b={"email_hit_rate": 1.0},
        sandbox_c={"email_hit_rate": 1.0},
    )
    settings.SLUICE_WATERFALL_EMAIL = ["cache", "sandbox_a", "sandbox_b", "sandbox_c"]

    [result] = run_batch([JANE], EMAIL)

    assert result.email == "jane.doe@acme.com"
    assert result.email_status == EmailStatus.VALID
    assert result.email_provider == "sandbox_b"
    assert _trail(result) == [
        ("sandbox_a", DataPoint.EMAIL, OutcomeKind.NOT_FOUND),
        ("sandbox_b", DataPoint.EMAIL, OutcomeKind.FOUND),
        ("sandbox", DataPoint.EMAIL_VERIFICATION, OutcomeKind.FOUND),
    ]


@responses.activate
def test_engine_keeps_going_when_the_verifier_says_invalid(settings, sandboxes):
    # given Hunter finds an address the verifier rejects, then the sandbox finds another
    sandboxes(sandbox={"latency_ms": 0, "email_hit_rate": 1.0})
    settings.SLUICE_WATERFALL_EMAIL = ["hunter", "sandbox"]
    settings.SLUICE_VERIFIER = "neverbounce"
    responses.add("GET", HUNTER_FINDER, json=_hunter_found("j.doe@acme.com", "accept_all"))
    responses.add("GET", NEVERBOUNCE, json={"status": "success", "result": "invalid"})
    responses.add("GET", NEVERBOUNCE, json={"status": "success", "result": "catchall"})

    [result] = run_batch([JANE], EMAIL)

    assert (result.email, result.email_status, result.email_provider) == (
        "jane.doe@acme.com",
        EmailStatus.RISKY,
        "sandbox",
    )
    assert [a.provider for a in result.attempts] == [
        "hunter",
        "neverbounce",
        "sandbox",
        "neverbounce",
    ]


def test_engine_treats_an_email_the_finder_marks_invalid_as_a_miss(settings, sandboxes):
    sandboxes(sandbox_a={"email_hit_rate": 1.0, "finder_invalid_rate": 1.0},
              sandbox_b={"email_hit_rate": 1.0})  # fmt: skip
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b"]

    [result] = run_batch([JANE], EMAIL)

    assert result.email_provider == "sandbox_b"
    first = result.attempts[0]
    assert (first.outcome, first.provider_status) == (
        OutcomeKind.NOT_FOUND,
        "invalid_by_provider:invalid",
    )


@responses.activate
def test_engine_skips_a_provider_lacking_inputs_without_calling_it(settings, sandboxes):
    # given only a LinkedIn URL: the sandbox needs a name and a domain, Hunter does not
    sandboxes(sandbox={"latency_ms": 0, "email_hit_rate": 1.0})
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox", "hunter"]
    settings.SLUICE_VERIFIER = ""
    responses.add("GET", HUNTER_FINDER, json=_hunter_found())
    person = PersonInput(linkedin_url="https://www.linkedin.com/in/janedoe")

    [result] = run_batch([person], EMAIL)

    assert result.attempts[0].outcome == OutcomeKind.SKIPPED
    assert result.attempts[0].provider_status == "missing_inputs"
    assert (result.email, result.email_provider) == ("jane@acme.com", "hunter")
    assert result.email_status == EmailStatus.VALID  # no verifier: Hunter's own verdict
    assert "linkedin_handle=janedoe" in responses.calls[0].request.url
    assert len(responses.calls) == 1


def test_engine_skips_a_provider_whose_breaker_is_open(settings, sandboxes):
    sandboxes(sandbox_a={"email_hit_rate": 1.0}, sandbox_b={"email_hit_rate": 1.0})
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b"]
    limits, policy = get_limits(), BreakerPolicy(failures=2, window=60, cooldown=60)
    limits.breaker_failure("sandbox_a", policy)
    limits.breaker_failure("sandbox_a", policy)

    [result] = run_batch([JANE], EMAIL)

    assert result.attempts[0].provider_status == "circuit_open"
    assert result.email_provider == "sandbox_b"
    assert not ProviderCall.objects.filter(provider="sandbox_a").exists()


def test_engine_opens_the_breaker_on_an_outage_and_probes_after_the_cooldown(settings, sandboxes):
    # given sandbox_a answers 5xx to everything; the breaker opens after 3 failures
    sandboxes(sandbox_a={"email_hit_rate": 1.0, "fault_5xx_rate": 1.0},
              sandbox_b={"email_hit_rate": 1.0})  # fmt: skip
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b"]
    settings.SLUICE_BREAKER_FAILURES = 3
    # long enough to outlast the batch's own writes on a loaded machine (at the suite's 0.2 s
    # the breaker was already half-open when the test first looked)
    settings.SLUICE_BREAKER_COOLDOWN_S = 1.0
    settings.SLUICE_ENGINE_THREADS = 1
    people = [PersonInput(full_name=f"Person {i}", domain="acme.com") for i in range(3)]

    results = run_batch(people, EMAIL)

    # the first person's three tries (2 retries) open it; the others fall straight through
    assert [a.outcome for a in results[0].attempts[:3]] == [OutcomeKind.TRANSIENT_ERROR] * 3
    assert results[1].attempts[0].provider_status == "circuit_open"
    assert all(r.email_provider == "sandbox_b" for r in results)
    assert get_limits().breaker_state("sandbox_a") == "open"
    wait_until(lambda: get_limits().breaker_state("sandbox_a") == "half_open", timeout=5)
    [probe] = run_batch([people[0]], EMAIL)
    assert probe.attempts[0].outcome == OutcomeKind.TRANSIENT_ERROR  # one probe, re-opened
    assert get_limits().breaker_state("sandbox_a") == "open"


@responses.activate
def test_engine_cache_hit_makes_no_call(settings):
    settings.SLUICE_WATERFALL_EMAIL = ["hunter"]
    settings.SLUICE_VERIFIER = "neverbounce"
    responses.add("GET", HUNTER_FINDER, json=_hunter_found())
    responses.add("GET", NEVERBOUNCE, json={"status": "success", "result": "valid"})

    [first] = run_batch([JANE], EMAIL, tag="wf-1")
    [second] = run_batch([PersonInput(first_name="jane", last_name="doe", domain="ACME.com")],
                         EMAIL, tag="wf-2")  # fmt: skip

    assert len(responses.calls) == 2  # one finder call, one verification, both from wf-1
    assert (second.email, second.email_status) == (first.email, EmailStatus.VALID)
    assert [(a.provider, a.cached, a.cost) for a in second.attempts] == [
        ("hunter", True, 0.0),
        ("neverbounce", True, 0.0),
    ]
    assert recorded(ProviderCall.objects.filter(tag="wf-2", cached=True)) == 2
    assert recorded(ProviderCall.objects.filter(tag="wf-1", cached=False)) == 2


@responses.activate
def test_engine_never_caches_errors_or_rate_limits(settings, sandboxes):
    sandboxes(sandbox={"latency_ms": 0, "email_hit_rate": 0.0})
    settings.SLUICE_WATERFALL_EMAIL = ["hunter", "sandbox"]
    settings.SLUICE_PROVIDER_MAX_RETRIES = 0
    responses.add("GET", HUNTER_FINDER, status=503)

    run_batch([JANE], EMAIL)

    assert list(ResultCacheEntry.objects.values_list("provider", "kind")) == [
        ("sandbox", "not_found")
    ]


@responses.activate
def test_engine_retries_after_a_short_retry_after(settings):
    settings.SLUICE_WATERFALL_EMAIL = ["hunter"]
    settings.SLUICE_VERIFIER = ""
    responses.add("GET", HUNTER_FINDER, status=403, headers={"Retry-After": "0.01"}, json={})
    responses.add("GET", HUNTER_FINDER, json=_hunter_found())

    [result] = run_batch([JANE], EMAIL)

    assert [a.outcome for a in result.attempts] == [OutcomeKind.RATE_LIMITED, OutcomeKind.FOUND]
    assert result.email == "jane@acme.com"


@responses.activate
def test_engine_skips_a_provider_limited_by_a_long_retry_after(settings, sandboxes):
    # given Hunter asks for a minute's pause: fall through now, and leave it alone meanwhile
    sandboxes(sandbox={"latency_ms": 0, "email_hit_rate": 1.0})
    settings.SLUICE_WATERFALL_EMAIL = ["hunter", "sandbox"]
    settings.SLUICE_ENGINE_THREADS = 1
    responses.add("GET", HUNTER_FINDER, status=403, headers={"Retry-After": "60"}, json={})
    bob = PersonInput(first_name="Bob", last_name="Roe", domain="acme.com")

    first, second = run_batch([JANE, bob], EMAIL)

    assert first.attempts[0].outcome == OutcomeKind.RATE_LIMITED
    assert first.email_provider == second.email_provider == "sandbox"
    assert second.attempts[0].provider_status == "rate_limited_until"
    assert len(responses.calls) == 1
    assert 50 < get_limits().limited_for("hunter") <= 60


@responses.activate
def test_engine_marks_a_provider_out_of_credits_until_an_operator_clears_it(settings, sandboxes):
    sandboxes(sandbox={"latency_ms": 0, "email_hit_rate": 1.0})
    settings.SLUICE_WATERFALL_EMAIL = ["hunter", "sandbox"]
    settings.SLUICE_ENGINE_THREADS = 1
    responses.add("GET", HUNTER_FINDER, status=429, json={"errors": [{"id": "usage"}]})
    bob = PersonInput(first_name="Bob", last_name="Roe", domain="acme.com")

    # when Hunter says its credits are used up
    first, second = run_batch([JANE, bob], EMAIL)
    # then nobody calls it again, in this batch or the next
    assert first.attempts[0].outcome == OutcomeKind.OUT_OF_CREDITS
    assert second.attempts[0].provider_status == "marked:out_of_credits"
    mark = ProviderMark.objects.get(provider="hunter", cleared_at__isnull=True)
    assert mark.kind == "out_of_credits"
    [third] = run_batch([PersonInput(full_name="Al Poe", domain="acme.com")], EMAIL)
    assert third.attempts[0].provider_status == "marked:out_of_credits"
    assert len(responses.calls) == 1

    # when an operator clears the mark, calls resume
    assert provider_mark_clear(mark=mark, cleared_by="ops")
    responses.replace("GET", HUNTER_FINDER, json=_hunter_found("al@acme.com"))
    [fourth] = run_batch([PersonInput(full_name="Al Poe", domain="acme.com")], EMAIL)
    assert fourth.email_provider == "hunter"


def test_engine_finds_phones_and_emails_together(settings, sandboxes):
    sandboxes(sandbox={"latency_ms": 0, "email_hit_rate": 1.0, "phone_hit_rate": 1.0,
                       "verify_mix": (1, 0, 0, 0)})  # fmt: skip
    [result] = run_batch([JANE], {DataPoint.EMAIL, DataPoint.PHONE})
    assert result.email == "jane.doe@acme.com"
    assert result.phone.startswith("+1")
    assert len(result.phone) == 12
    assert result.phone_provider == "sandbox"


def test_engine_records_every_call_in_bulk_with_the_tag(settings, sandboxes):
    sandboxes(sandbox={"latency_ms": 0, "email_hit_rate": 1.0, "verify_mix": (1, 0, 0, 0)})
    people = [PersonInput(full_name=f"P {i}", domain="acme.com") for i in range(20)]

    results = run_batch(people, EMAIL, tag="wf-42")

    assert [r.person for r in results] == people  # same order as the input
    calls = ProviderCall.objects.filter(tag="wf-42")
    assert recorded(calls.filter(data_point="email", outcome="found")) == 20
    assert recorded(calls.filter(data_point="email_verification")) == 20
    assert ResultCacheEntry.objects.filter(provider="sandbox").count() == 40


def test_engine_runs_people_concurrently(settings, sandboxes):
    # 100 people, 2 calls each, 20 ms per call: 4 s one after another
    sandboxes(sandbox={"latency_ms": 20, "email_hit_rate": 1.0, "verify_mix": (1, 0, 0, 0)})
    settings.SLUICE_ENGINE_THREADS = 50
    settings.SLUICE_RESULT_CACHE_TTL_S = 0
    people = [PersonInput(full_name=f"P {i}", domain="acme.com") for i in range(100)]

    started = time.monotonic()
    results = run_batch(people, EMAIL)

    assert time.monotonic() - started < 2.0
    assert all(r.email for r in results)
    assert not ResultCacheEntry.objects.exists()  # TTL 0 disables the cache


def test_engine_enrich_company_uses_the_company_waterfall_and_the_cache(settings, sandboxes):
    sandboxes(sandbox={"latency_ms": 0, "company_hit_rate": 1.0})

    company = enrich_company(CompanyInput(domain="acme.com"))
    again = enrich_company(CompanyInput(domain="ACME.com"))

    assert isinstance(company, CompanyResult)
    assert company.domain == "acme.com"
    assert company.provider == "sandbox"
    assert again.as_record() == company.as_record()
    assert list(ProviderCall.objects.order_by("id").values_list("cached", flat=True)) == [
        False,
        True,
    ]


def test_engine_enrich_company_returns_none_when_nobody_knows_it(sandboxes):
    sandboxes(sandbox={"latency_ms": 0, "company_hit_rate": 0.0})
    assert enrich_company(CompanyInput(name="Nobody Inc")) is None


def test_engine_rejects_an_unknown_provider_name(settings):
    settings.SLUICE_WATERFALL_EMAIL = ["hunter", "nosuchprovider"]
    with pytest.raises(ImproperlyConfigured, match="nosuchprovider"):
        run_batch([JANE], EMAIL)


def test_engine_skips_a_provider_without_a_key(settings, sandboxes):
    sandboxes(sandbox={"latency_ms": 0, "email_hit_rate": 1.0})
    settings.SLUICE_WATERFALL_EMAIL = ["hunter", "sandbox"]
    settings.SLUICE_PROVIDER_KEYS = {}
    [result] = run_batch([JANE], EMAIL)
    assert result.attempts[0].provider_status == "not_configured"
    assert result.email_provider == "sandbox"


@pytest.mark.django_db(transaction=True)
def test_engine_refuses_to_call_providers_inside_a_transaction(sandboxes):
    # given a sandbox that finds everyone (no network: the rule holds for it too)
    sandboxes(sandbox={"email_hit_rate": 1.0, "company_hit_rate": 1.0})
    company = CompanyInput(domain="acme.com")
    # when the engine is called inside a transaction, it fails loudly before any call
    with transaction.atomic(), pytest.raises(NetworkInTransaction):
        run_batch([JANE], EMAIL)
    with transaction.atomic(), pytest.raises(NetworkInTransaction):
        enrich_company(company)
    assert not ProviderCall.objects.exists()
    # and outside one it runs
    [result] = run_batch([JANE], EMAIL)
    assert result.email == "jane.doe@acme.com"
    assert enrich_company(company) is not None


def test_engine_runs_a_batch_in_the_callers_thread_only_when_no_provider_waits(settings, sandboxes):
    # given sandboxes that answer at once
    sandboxes(sandbox_a={}, sandbox_b={"email_hit_rate": 1.0})
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b"]
    settings.SLUICE_ENGINE_THREADS = 8
    people = [PersonInput(full_name=f"Person {i}", domain="acme.com") for i in range(20)]
    at_once = run_batch(people, EMAIL)
    # then the batch needs no thread pool
    assert WaterfallEngine()._threads(EMAIL, len(people)) == 1

    # when one of them waits (a latency), the batch gets its threads, and the same answers
    sandboxes(sandbox_a={"latency_ms": 1}, sandbox_b={"email_hit_rate": 1.0})
    assert WaterfallEngine()._threads(EMAIL, len(people)) == 8
    ResultCacheEntry.objects.all().delete()
    waited = run_batch(people, EMAIL)
    assert [(r.email, r.email_provider) for r in waited] == [
        (r.email, r.email_provider) for r in at_once
    ]


def test_engine_takes_a_providers_slot_only_for_calls_that_wait(settings, sandboxes):
    # A call that answers at once holds the GIL start to end: a slot would bound nothing.
    sandboxes(sandbox_a={}, sandbox_b={"latency_ms": 5}, sandbox_c={"rate_limit": "100/s"})
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b", "sandbox_c"]

    engine = WaterfallEngine()

    assert set(engine._semaphores) == {"sandbox_b", "sandbox_c"}


def test_engine_records_a_finders_verdict_on_its_own_call_record(settings, sandboxes):
    # The verifier's verdict lands on the finder's record (_judge), not on a copy of it.
    sandboxes(sandbox_a={"email_hit_rate": 1.0}, sandbox={"verify_mix": (0, 0, 1, 0)},
              sandbox_b={"email_hit_rate": 1.0})  # fmt: skip
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b"]
    settings.SLUICE_VERIFIER = "sandbox"

    run_batch([JANE], EMAIL, tag="judged")

    finders = ProviderCall.objects.filter(tag="judged", data_point="email").order_by("step")
    assert [(c.provider, c.step, c.email_status, c.accepted) for c in finders] == [
        ("sandbox_a", 1, "invalid", False),
        ("sandbox_b", 2, "invalid", False),
    ]


def test_judged_record_is_the_record_with_its_verdict():
    from datetime import UTC, datetime

    from providers.engine import _judged
    from providers.services import CallRecord

    call = CallRecord("sandbox", "email", "found", 3, 1.0, False, "found", "t",
                      datetime.now(UTC), "ws", 1, True)  # fmt: skip

    assert _judged(call, "valid", True) == call._replace(email_status="valid", accepted=True)
    assert type(_judged(call, "valid", True)) is CallRecord
