"""A cache hit, as the engine builds it for a rerun (every answer from the cache), gives the
same outcome, attempts and call records as the calls it replays; the cache read decodes every
stored value; a run pinned to the operator's waterfall reads no workspace configuration."""

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from enrichment.waterfall import run_waterfall
from providers.base import DataPoint, PersonInput
from providers.configuration import operator_default
from providers.engine import cache_key, run_batch
from providers.models import ProviderCall, ResultCacheEntry
from providers.selectors import _json_value, cache_lookup
from providers.services import CacheAnswer, cache_store_many
from tests.ops.factories import WorkflowFactory

pytestmark = pytest.mark.django_db

PEOPLE = [
    PersonInput(first_name="Jane", last_name="Doe", domain="acme.com"),
    PersonInput(
        first_name="Bob",
        last_name="Roe",
        company_name="Initech",
        linkedin_url="https://www.linkedin.com/in/bob-roe",
    ),
    PersonInput(first_name="Ann", last_name="Poe", domain="globex.com", email="ann@globex.com"),
    PersonInput(linkedin_url="https://www.linkedin.com/in/no-names"),  # missing inputs: skipped
]
_RECORD = ("provider", "data_point", "outcome", "provider_status", "step", "opens_lookup",
           "email_status", "accepted", "workspace_id")  # fmt: skip


def _records(tag):
    """The run's records, however calls_record merged them into rows (by the second)."""
    counted = Counter()
    for *record, calls in ProviderCall.objects.filter(tag=tag).values_list(*_RECORD, "calls"):
        counted[tuple(record)] += calls
    return counted


@pytest.mark.parametrize("latency_ms", [0, 1])  # in the caller's thread, and in the pool
def test_a_cache_hit_replays_the_outcome_attempts_and_records_of_its_call(
    settings, workspace, latency_ms
):
    # given: a finder that never finds (its misses are cached too), one that does, a verifier
    # whose verdicts vary by person
    base = {"latency_ms": latency_ms}
    settings.SLUICE_SANDBOX_INSTANCES = {
        "sandbox_a": base | {"email_hit_rate": 0.0},
        "sandbox_b": base | {"email_hit_rate": 1.0},
        "sandbox": base | {"verify_mix": (1, 1, 1, 1)},
    }
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox_a", "sandbox_b"]
    settings.SLUICE_VERIFIER = "sandbox"
    wanted = {DataPoint.EMAIL}

    # when: the same people twice, the second time every answer from the cache
    called = run_batch(PEOPLE, wanted, tag="called", workspace_id=str(workspace.pk))
    replayed = run_batch(PEOPLE, wanted, tag="replayed", workspace_id=str(workspace.pk))

    # then
    for first, second in zip(called, replayed, strict=True):
        found = ("email", "email_status", "email_confidence", "email_provider")
        assert [getattr(second, f) for f in found] == [getattr(first, f) for f in found]
        assert len(second.attempts) == len(first.attempts)
        for call, hit in zip(first.attempts, second.attempts, strict=True):
            if call.outcome == "skipped":
                assert hit == call
                continue
            assert (hit.cached, hit.ms, hit.cost) == (True, 0, 0.0)
            assert (hit.provider, hit.data_point, hit.outcome, hit.provider_status, hit.value,
                    hit.verdict) == (call.provider, call.data_point, call.outcome,
                                     call.provider_status, call.value, call.verdict)  # fmt: skip
            entry = ResultCacheEntry.objects.get(pk=hit.cache_entry_id)
            assert (entry.provider, entry.data_point) == (hit.provider, str(hit.data_point))
    assert {bool(r.email) for r in replayed[:3]} == {True, False}  # found, and verified invalid
    assert _records("replayed") == _records("called")
    assert set(ProviderCall.objects.filter(tag="replayed").values_list("cached", "cost",
                                                                       "latency_ms")) == {
        (True, 0.0, 0)
    }  # fmt: skip


def test_a_cache_hits_record_comes_after_the_persons_earlier_calls(settings):
    # A hit carries the time of the person's latest call: never earlier than that call's.
    settings.SLUICE_SANDBOX_INSTANCES = {
        "sandbox": {"latency_ms": 0, "email_hit_rate": 1.0, "phone_hit_rate": 1.0}
    }
    settings.SLUICE_WATERFALL_EMAIL = settings.SLUICE_WATERFALL_PHONE = ["sandbox"]
    settings.SLUICE_VERIFIER = "sandbox"
    wanted = {DataPoint.EMAIL, DataPoint.PHONE}
    jane = PEOPLE[0]
    run_batch([jane], wanted, tag="first")
    ResultCacheEntry.objects.filter(data_point="email").delete()  # the finder is called again

    run_batch([jane], wanted, tag="second")

    [finder] = ProviderCall.objects.filter(tag="second", data_point="email")
    [phone] = ProviderCall.objects.filter(tag="second", data_point="phone")
    assert (finder.cached, phone.cached) == (False, True)
    assert phone.created_at >= finder.created_at


def test_the_cache_read_decodes_every_stored_value():
    values = ["jane@acme.example", 'say "hi"@x', "back\\slash", "tab\there", "line\nbreak",
              "ünïcödé@exämple.com", "", "\"", "\\", "\x01", {"name": "Acme", "tags": ['a"b']},
              [1, 2.5, None, True], 42, None]  # fmt: skip
    keys = [cache_key(workspace_id="ws-json", identity=f"li:p{i}") for i in range(len(values))]
    cache_store_many(
        entries=[
            CacheAnswer("sandbox", "email", key, "found", value, None, "", "found")
            for key, value in zip(keys, values, strict=True)
        ],
        ttl_seconds=3600,
    )

    found = cache_lookup(identity_keys=keys, providers=["sandbox"], data_points=["email"])

    assert [found[("sandbox", "email", key)].value for key in keys] == values


@pytest.mark.parametrize("value", ["a@b.c", 'q"uote', "b\\s", "ü", "", {"a": '"b'}, [1, "x"], 3])
def test_json_value_is_json_loads_of_what_postgresql_prints(value):
    printed = json.dumps(value, ensure_ascii=False)  # jsonb prints strings the same way

    assert _json_value(printed) == json.loads(printed) == value


def test_a_run_pinned_to_the_operators_waterfall_reads_no_configuration(
    workspace, django_assert_num_queries
):
    workflow = WorkflowFactory(workspace=workspace, waterfall_version=0,
                               deadline=timezone.now() + timedelta(hours=1))  # fmt: skip

    with django_assert_num_queries(1):  # the pinned version, nothing else
        config = run_waterfall(workflow_id=workflow.pk, workspace_id=str(workspace.pk))

    assert config == operator_default()
