import multiprocessing
import time

import pytest
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from providers.base import RateSpec
from providers.limits import BreakerPolicy, LocalLimits, RedisLimits
from tests.helpers import wait_until

POLICY = BreakerPolicy(failures=3, window=60, cooldown=0.2)


@pytest.fixture(params=["redis", "local"])
def limits(request, redis_client):
    return RedisLimits(redis_client) if request.param == "redis" else LocalLimits()


def test_rate_spec_parses_documented_limits():
    assert RateSpec.parse("500/min:15") == RateSpec(rate=500 / 60, burst=15)
    assert RateSpec.parse("15/s") == RateSpec(rate=15, burst=15)
    assert RateSpec.parse("100/min") == RateSpec(rate=100 / 60, burst=2)
    with pytest.raises(ValueError, match="Bad rate limit"):
        RateSpec.parse("lots")


def test_limits_token_bucket_allows_the_burst_then_asks_to_wait(limits):
    # (a max wait of 0: take a token now or learn how long until the next, reserving nothing)
    spec = RateSpec(rate=2, burst=3)
    assert [limits.reserve_token("p", spec, 0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = -limits.reserve_token("p", spec, 0)
    assert 0.3 < wait <= 0.5
    assert limits.reserve_token("other", spec, 0) == 0.0  # per provider


def test_limits_breaker_opens_half_opens_and_closes(limits):
    for _ in range(2):
        limits.breaker_failure("p", POLICY)
    assert limits.breaker_allows("p", POLICY)
    limits.breaker_failure("p", POLICY)
    assert limits.breaker_state("p") == "open"
    assert not limits.breaker_allows("p", POLICY)

    wait_until(lambda: limits.breaker_state("p") == "half_open", timeout=5)
    assert limits.breaker_allows("p", POLICY)  # the one probe
    assert not limits.breaker_allows("p", POLICY)  # nobody else meanwhile
    limits.breaker_success("p")
    assert limits.breaker_state("p") == "closed"
    assert limits.breaker_allows("p", POLICY)


def test_limits_failed_probe_reopens_the_breaker(limits):
    for _ in range(3):
        limits.breaker_failure("p", POLICY)
    wait_until(lambda: limits.breaker_state("p") == "half_open", timeout=5)
    assert limits.breaker_allows("p", POLICY)
    limits.breaker_failure("p", POLICY)
    assert limits.breaker_state("p") == "open"


def test_limits_limited_until(limits):
    assert limits.limited_for("p") == 0.0
    limits.limit_until("p", 30)
    assert 29 < limits.limited_for("p") <= 30
    limits.reset("p")
    assert limits.limited_for("p") == 0.0


_start_together = None


def _join(barrier) -> None:
    global _start_together
    _start_together = barrier


def _hammer(url: str, duration: float) -> list[float]:
    """Runs in a separate process: takes every token it can for `duration` seconds, from the
    moment both processes are ready (not a fixed delay: on a loaded machine an interpreter's
    start-up can outlast any delay)."""
    shared = RedisLimits(redis.Redis.from_url(url))
    spec = RateSpec(rate=20, burst=5)
    granted = []
    _start_together.wait(timeout=120)
    start_at = time.time()
    while time.time() < start_at + duration:
        wait = shared.reserve_token("shared-provider", spec, 0)
        if wait == 0:
            granted.append(time.time())
        else:
            time.sleep(min(-wait, 0.01))
    return granted


def test_limits_is_clear_until_a_failure_a_limit_or_an_open_breaker(limits):
    assert limits.is_clear("p")
    limits.breaker_failure("p", POLICY)
    assert not limits.is_clear("p")  # a failure is being counted
    limits.breaker_success("p")
    assert limits.is_clear("p")
    limits.limit_until("p", 30)
    assert not limits.is_clear("p")
    assert limits.is_clear("other")


def test_limits_is_clear_is_false_while_the_breaker_is_open_or_half_open(limits):
    for _ in range(3):
        limits.breaker_failure("p", POLICY)
    assert not limits.is_clear("p")
    wait_until(lambda: limits.breaker_state("p") == "half_open", timeout=5)
    assert not limits.is_clear("p")


def test_limits_rate_limit_is_shared_by_two_real_processes(redis_client):
    # given two processes hammering the same provider's bucket (20/s, burst 5) for 1.5 s
    duration = 1.5
    ctx = multiprocessing.get_context("spawn")
    # (each process takes one task: the first waits at the barrier until the other has the second)
    with ctx.Pool(2, initializer=_join, initargs=(ctx.Barrier(2),)) as pool:
        a, b = pool.starmap(_hammer, [(settings.REDIS_URL, duration)] * 2, chunksize=1)
    # then together they stay within the limit, and both were served
    total = len(a) + len(b)
    allowed = 5 + 20 * duration
    assert total <= allowed + 1, (len(a), len(b))
    assert total >= 0.8 * allowed
    assert a
    assert b


def test_limits_fail_open_when_redis_is_unreachable():
    # a closed port: every command fails; calls still flow, none is blocked by our limits (no
    # retries, as the connection pool of `get_limits` has none: redis-py's default client would
    # back off for seconds before each failure, which changes nothing here)
    down = RedisLimits(
        redis.Redis(
            port=1, socket_connect_timeout=0.05, socket_timeout=0.05, retry=Retry(NoBackoff(), 0)
        )
    )
    assert down.reserve_token("p", RateSpec(rate=1, burst=1), 1.0) == 0.0
    assert down.breaker_allows("p", POLICY) is True
    down.breaker_failure("p", POLICY)
    assert down.limited_for("p") == 0.0


def test_limits_reservations_queue_callers_in_turn_and_refuse_past_the_max_wait(limits):
    # given a bucket of 10/s with a burst of 2
    spec = RateSpec(rate=10, burst=2)
    # when five callers reserve at once
    waits = [limits.reserve_token("p", spec, 1.0) for _ in range(5)]
    # then the burst goes now and the others get successive turns, 0.1 s apart
    assert waits[:2] == [0.0, 0.0]
    turns = waits[2:]
    assert all(0.05 < b - a <= 0.1 for a, b in zip([0.0, *turns], turns, strict=False))
    # and a caller whose turn would come after the max wait reserves nothing
    assert limits.reserve_token("p", spec, 0.2) < 0
    assert 0.3 < limits.reserve_token("p", spec, 1.0) <= 0.4  # the refused one took no turn
