"""iter_batch hands a batch back in slices, each with its call records (verdicts included) and
cache entries written before the caller sees it, so a caller that records each slice loses at
most one if its process dies."""

import threading

import pytest

from providers.base import DataPoint, PersonInput
from providers.engine import cache_key, iter_batch
from providers.models import ProviderCall, ResultCacheEntry
from tests.helpers import recorded

pytestmark = pytest.mark.django_db

EMAIL = {DataPoint.EMAIL}


@pytest.fixture
def sandbox(settings):
    def configure(latency_ms: int) -> None:
        settings.SLUICE_SANDBOX_INSTANCES = {
            "sandbox": {"latency_ms": latency_ms, "email_hit_rate": 1.0, "verify_mix": (1, 0, 0, 0)}
        }

    return configure


def _people(count: int) -> list[PersonInput]:
    return [PersonInput(full_name=f"P {i}", domain="acme.com") for i in range(count)]


def _assert_written(people: list[PersonInput], tag: str) -> None:
    """Every person handed over has a cache entry and an accepted finder's record."""
    keys = {cache_key(workspace_id="", identity=p.identity()) for p in people}
    cached = ResultCacheEntry.objects.filter(identity_key__in=keys, data_point="email")
    assert {key.hex for key in cached.values_list("identity_key", flat=True)} == keys
    finders = ProviderCall.objects.filter(tag=tag, data_point="email", outcome="found")
    assert recorded(finders.filter(accepted=True, email_status="valid")) >= len(people)


def test_iter_batch_in_the_callers_thread_hands_over_each_slice_written(sandbox):
    # given calls that do not wait (no pool) and slices of no time at all: one person each
    sandbox(latency_ms=0)
    people = _people(5)

    handed: list[int] = []
    slices = 0
    for finished in iter_batch(people, EMAIL, slice_seconds=0, tag="wf-inline"):
        slices += 1
        handed.extend(index for index, _ in finished)
        # then what is handed over is already in the database, verdict included
        _assert_written([people[i] for i in handed], "wf-inline")

    assert sorted(handed) == list(range(5))
    assert slices == 5


def test_iter_batch_with_a_pool_hands_over_every_person_once_written(settings, sandbox):
    sandbox(latency_ms=5)
    settings.SLUICE_ENGINE_THREADS = 8
    people = _people(40)

    handed: list[int] = []
    for finished in iter_batch(people, EMAIL, slice_seconds=0.01, tag="wf-pool"):
        handed.extend(index for index, _ in finished)
        assert all(result.email for _, result in finished)
        _assert_written([people[i] for i in handed], "wf-pool")

    assert sorted(handed) == list(range(40))
    assert recorded(ProviderCall.objects.filter(tag="wf-pool", data_point="email")) == 40
    assert (
        recorded(ProviderCall.objects.filter(tag="wf-pool", data_point="email_verification")) == 40
    )


def test_iter_batch_with_a_pool_sets_fed_before_its_last_people_are_handed_over(settings, sandbox):
    # given a pooled batch ten times the pool's size
    sandbox(latency_ms=5)
    settings.SLUICE_ENGINE_THREADS = 4
    fed = threading.Event()

    # when it runs, then by the time its last people are handed over the caller was told to
    # bring more work (they started after the one that set it, and ran meanwhile)
    handed = 0
    for finished in iter_batch(_people(40), EMAIL, slice_seconds=0.01, tag="wf-fed", fed=fed):
        handed += len(finished)
        if handed == 40:
            assert fed.is_set()
    assert handed == 40


def test_iter_batch_in_the_callers_thread_never_sets_fed(sandbox):
    sandbox(latency_ms=0)
    fed = threading.Event()

    list(iter_batch(_people(5), EMAIL, slice_seconds=0, tag="wf-inline-fed", fed=fed))

    assert not fed.is_set()
