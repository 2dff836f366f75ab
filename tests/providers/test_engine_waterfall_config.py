"""The engine runs a workspace's resolved waterfall: orders, verifier, catch-all policy, lowest
accepted status; it annotates its call records for analytics; an exhausted provider is left
alone for the cool-down."""

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from providers.base import DataPoint, EmailStatus, OutcomeKind, PersonInput
from providers.configuration import AutoChoice, ResolvedWaterfall
from providers.engine import run_batch
from providers.limits import get_limits
from providers.models import CatchAllPolicy, ProviderCall, ProviderMark
from providers.selectors import active_marks
from providers.services import provider_mark_clear, provider_mark_set

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = {DataPoint.EMAIL}
HUNTER_FINDER = "https://api.hunter.io/v2/email-finder"


def _person(n: int) -> PersonInput:
    return PersonInput(first_name="Ada", last_name=f"L{n}", domain=f"d{n}.example.com")


def _waterfall(email, *, verifier="sandbox", policy="accept", min_status="unknown", **kw):
    return ResolvedWaterfall(
        version=7,
        orders={
            DataPoint.EMAIL: tuple(email),
            DataPoint.PHONE: (),
            DataPoint.COMPANY: (),
            DataPoint.EMAIL_VERIFICATION: (verifier,) if verifier else (),
        },
        catch_all_policy=policy,
        min_email_status=min_status,
        **kw,
    )


@pytest.fixture
def sandboxes(settings):
    def configure(verify_mix=(1, 0, 0, 0), **instances):
        base = {"latency_ms": 0, "email_hit_rate": 1.0, "verify_mix": verify_mix}
        settings.SLUICE_SANDBOX_INSTANCES = {"sandbox": base, **instances}

    return configure


def test_engine_follows_the_given_order_not_the_settings(settings, sandboxes, workspace):
    sandboxes()
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b"]

    [result] = run_batch(
        [_person(1)],
        EMAIL,
        workspace_id=str(workspace.pk),
        waterfall=_waterfall(["sandbox_b", "sandbox_a"]),
    )

    assert result.email_provider == "sandbox_b"
    finder = ProviderCall.objects.get(data_point="email")
    assert (finder.provider, finder.step, finder.opens_lookup) == ("sandbox_b", 1, True)
    assert (finder.email_status, finder.accepted) == ("valid", True)
    assert finder.workspace_id == workspace.pk


def test_engine_catch_all_reject_goes_on_and_records_the_verdict(sandboxes):
    sandboxes(verify_mix=(0, 1, 0, 0))  # every email risky

    [result] = run_batch(
        [_person(2)], EMAIL, waterfall=_waterfall(["sandbox_a", "sandbox_b"], policy="reject")
    )

    assert result.email is None
    finders = ProviderCall.objects.filter(data_point="email").order_by("step")
    assert [(c.provider, c.step, c.opens_lookup) for c in finders] == [
        ("sandbox_a", 1, True),
        ("sandbox_b", 2, False),
    ]
    assert {(c.email_status, c.accepted) for c in finders} == {("risky", False)}


@pytest.mark.parametrize("policy", [CatchAllPolicy.ACCEPT, CatchAllPolicy.ACCEPT_UNCHARGED])
def test_engine_catch_all_accepted_is_found_risky(sandboxes, policy):
    sandboxes(verify_mix=(0, 1, 0, 0))
    waterfall = _waterfall(["sandbox_a", "sandbox_b"], policy=policy)

    [result] = run_batch([_person(3)], EMAIL, waterfall=waterfall)

    assert (result.email_provider, result.email_status) == ("sandbox_a", EmailStatus.RISKY)
    assert waterfall.charges(result.email_status) is (policy == CatchAllPolicy.ACCEPT)


def test_engine_lowest_status_valid_refuses_unknown(sandboxes):
    sandboxes(verify_mix=(0, 0, 0, 1))  # the verifier cannot tell

    [result] = run_batch(
        [_person(4)], EMAIL, waterfall=_waterfall(["sandbox_a"], min_status="valid")
    )
    [default] = run_batch([_person(4)], EMAIL, waterfall=_waterfall(["sandbox_a"]))

    assert result.email is None
    assert default.email_status == EmailStatus.UNKNOWN


@responses.activate
def test_engine_out_of_credits_marks_the_provider_exhausted_for_the_cool_down(settings, sandboxes):
    # given Hunter says its credits are used up (its 429), and the sandbox stands behind it
    sandboxes()
    settings.SLUICE_PROVIDER_EXHAUSTED_COOLDOWN_S = 600
    responses.add("GET", HUNTER_FINDER, status=429, json={"errors": [{"id": "too_many"}]})
    waterfall = _waterfall(["hunter", "sandbox_a"])

    # when a first batch meets the answer, and a second batch runs after it
    [first] = run_batch([_person(5)], EMAIL, waterfall=waterfall)
    [second] = run_batch([_person(6)], EMAIL, waterfall=waterfall)

    # then the mark stops every later call until the cool-down ends
    assert first.email_provider == second.email_provider == "sandbox_a"
    assert len(responses.calls) == 1
    hunter_second = [a for a in second.attempts if a.provider == "hunter"]
    assert [(a.outcome, a.provider_status) for a in hunter_second] == [
        (OutcomeKind.SKIPPED, "marked:out_of_credits")
    ]
    mark = active_marks()["hunter"]
    assert mark.kind == "out_of_credits"
    remaining = (mark.expires_at - timezone.now()).total_seconds()
    assert 590 < remaining <= 600
    # chunks already running in other workers are told through the shared limits at once
    assert 590 < get_limits().limited_for("hunter") <= 600

    # and once the cool-down is over, Hunter is asked again (and marked again)
    ProviderMark.objects.filter(pk=mark.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    get_limits().reset("hunter")  # the shared "limited until" ends with it
    assert "hunter" not in active_marks()
    run_batch([_person(7)], EMAIL, waterfall=waterfall)
    assert len(responses.calls) == 2
    old = ProviderMark.objects.get(pk=mark.pk)
    assert (old.cleared_by, old.cleared_at) == ("cool-down", old.expires_at)
    assert ProviderMark.objects.filter(provider="hunter", cleared_at__isnull=True).count() == 1


def test_auth_failed_mark_still_waits_for_an_operator(settings, sandboxes):
    mark = provider_mark_set(provider="hunter", kind="auth_failed", reason="401")

    assert mark.expires_at is None
    assert "hunter" in active_marks()


def test_clearing_an_exhausted_mark_resumes_calls_at_once(redis_client):
    get_limits().limit_until("hunter", 600)
    mark = provider_mark_set(provider="hunter", kind="out_of_credits", reason="429")

    assert provider_mark_clear(mark=mark, cleared_by="ops")

    assert "hunter" not in active_marks()
    assert get_limits().limited_for("hunter") == 0


def test_exploration_is_bounded_and_reproducible():
    names = ("sandbox_a", "sandbox_b", "sandbox_c")
    waterfall = _waterfall(
        names, auto={DataPoint.EMAIL: AutoChoice(order=names, explore_share=0.1)}
    )
    identities = [f"id:{n}" for n in range(4000)]

    orders = [waterfall.order(DataPoint.EMAIL, i) for i in identities]

    explored = [o for o in orders if o != names]
    assert 0.08 < len(explored) / len(orders) < 0.12
    # two neighbours swapped: b before a, or c before b
    assert set(explored) == {
        ("sandbox_b", "sandbox_a", "sandbox_c"),
        ("sandbox_a", "sandbox_c", "sandbox_b"),
    }
    assert all(sorted(o) == sorted(names) for o in orders)
    assert orders == [waterfall.order(DataPoint.EMAIL, i) for i in identities]
