"""State shared by every worker: per-provider rate limits, circuit breakers and
"limited until" marks.

`RedisLimits` keeps it in Redis (atomic Lua scripts, Redis' own clock so workers on different
hosts agree). `LocalLimits` is the same interface in process memory with a lock: the real backend
of the embedded single-node mode (`REDIS_URL` empty: one worker process with a thread pool), not
a mock. `get_limits()` picks one from settings.

Breaker states: *closed* (calls flow; transient failures are counted in a window), *open*
(after `failures` failures within `window` seconds: every call is skipped for `cooldown`
seconds), *half-open* (after the cool-down: one probe call at a time; success closes the
breaker, failure re-opens it).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import redis
from django.conf import settings

from providers.base import RateSpec

KEY_PREFIX = "sluice:providers"

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _fail_open(default: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A Redis hiccup must not sink a chunk: answer as if no limit applied (the provider's own
    429s still protect it, and are mapped like any other) and log it."""

    def decorate(method: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return method(*args, **kwargs)
            except redis.RedisError as exc:
                logger.warning("Provider limits unavailable (%s): failing open", exc)
                return default

        return wrapper

    return decorate


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int
    window: float
    cooldown: float

    @classmethod
    def from_settings(cls) -> BreakerPolicy:
        return cls(
            failures=settings.SLUICE_BREAKER_FAILURES,
            window=settings.SLUICE_BREAKER_WINDOW_S,
            cooldown=settings.SLUICE_BREAKER_COOLDOWN_S,
        )


class Limits(Protocol):
    def reserve_token(self, provider: str, spec: RateSpec, max_wait: float) -> float:
        """Reserves the next token, even one not yet refilled, when it comes within `max_wait`
        seconds: returns the seconds to wait before using it (0.0: now), and the caller then
        calls without asking again. Returns a negative number, reserving nothing, when the
        queue of reservations is longer than `max_wait`. Callers are served in the order they
        asked, each at its turn, so hundreds of waiting calls cost one request each instead of
        polling the bucket, and the limit, not the number of callers, sets the pace."""

    def breaker_allows(self, provider: str, policy: BreakerPolicy) -> bool: ...

    def breaker_success(self, provider: str) -> None: ...

    def breaker_failure(self, provider: str, policy: BreakerPolicy) -> None: ...

    def breaker_state(self, provider: str) -> str:
        """`closed`, `open` or `half_open` (for the admin and tests)."""

    def limit_until(self, provider: str, seconds: float) -> None: ...

    def limited_for(self, provider: str) -> float:
        """Seconds left on a "limited until" mark (0.0 when none)."""

    def is_clear(self, provider: str) -> bool:
        """True when nothing restrains the provider: no "limited until" mark, and a closed
        breaker with no failure counted. One read, for callers that cache it briefly."""

    def reset(self, provider: str) -> None: ...


# --- Redis --------------------------------------------------------------------------------------

# A token bucket in which a token may be taken before it is refilled (the balance goes below
# zero: the reservations queued so far), as long as its turn comes within ARGV[3] seconds.
_RESERVE_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate end
if wait > max_wait then
  wait = -wait
else
  tokens = tokens - 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""

# KEYS: open, tripped, probe. ARGV: cooldown_ms. Returns 1 when the call may go ahead.
_BREAKER_ALLOWS = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 1 end
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
"""

# KEYS: failures, open, tripped, probe. ARGV: threshold, window_ms, cooldown_ms.
_BREAKER_FAILURE = """
if redis.call('EXISTS', KEYS[3]) == 1 and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[4])
  return 1
end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('SET', KEYS[3], '1')
  redis.call('DEL', KEYS[1], KEYS[4])
  return 1
end
return 0
"""


class RedisLimits:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._reserve = client.register_script(_RESERVE_SCRIPT)
        self._allows = client.register_script(_BREAKER_ALLOWS)
        self._failure = client.register_script(_BREAKER_FAILURE)

    @staticmethod
    def _keys(provider: str) -> dict[str, str]:
        base = f"{KEY_PREFIX}:{provider}"
        return {
            "bucket": f"{base}:bucket",
            "failures": f"{base}:breaker:failures",
            "open": f"{base}:breaker:open",
            "tripped": f"{base}:breaker:tripped",
            "probe": f"{base}:breaker:probe",
            "limited": f"{base}:limited",
        }

    @_fail_open(0.0)
    def reserve_token(self, provider: str, spec: RateSpec, max_wait: float) -> float:
        keys = self._keys(provider)
        return float(self._reserve(keys=[keys["bucket"]], args=[spec.rate, spec.burst, max_wait]))

    @_fail_open(True)
    def breaker_allows(self, provider: str, policy: BreakerPolicy) -> bool:
        k = self._keys(provider)
        # The probe slot expires after a cool-down too, so a probe whose worker died does not
        # leave the breaker half-open forever.
        return bool(
            self._allows(
                keys=[k["open"], k["tripped"], k["probe"]], args=[int(policy.cooldown * 1000)]
            )
        )

    @_fail_open(None)
    def breaker_success(self, provider: str) -> None:
        k = self._keys(provider)
        self.client.delete(k["failures"], k["tripped"], k["probe"])

    @_fail_open(None)
    def breaker_failure(self, provider: str, policy: BreakerPolicy) -> None:
        k = self._keys(provider)
        self._failure(
            keys=[k["failures"], k["open"], k["tripped"], k["probe"]],
            args=[policy.failures, int(policy.window * 1000), int(policy.cooldown * 1000)],
        )

    @_fail_open("closed")
    def breaker_state(self, provider: str) -> str:
        k = self._keys(provider)
        if self.client.exists(k["open"]):
            return "open"
        return "half_open" if self.client.exists(k["tripped"]) else "closed"

    @_fail_open(None)
    def limit_until(self, provider: str, seconds: float) -> None:
        if seconds > 0:
            self.client.set(self._keys(provider)["limited"], "1", px=int(seconds * 1000))

    @_fail_open(0.0)
    def limited_for(self, provider: str) -> float:
        ttl = self.client.pttl(self._keys(provider)["limited"])
        return ttl / 1000 if ttl and ttl > 0 else 0.0

    @_fail_open(True)
    def is_clear(self, provider: str) -> bool:
        k = self._keys(provider)
        watched = (k["limited"], k["open"], k["tripped"], k["probe"], k["failures"])
        return self.client.exists(*watched) == 0

    def reset(self, provider: str) -> None:
        self.client.delete(*self._keys(provider).values())


# --- In process ---------------------------------------------------------------------------------


@dataclass
class _Breaker:
    failures: int = 0
    window_ends: float = 0.0
    open_until: float = 0.0
    tripped: bool = False
    probe_until: float = 0.0


class LocalLimits:
    """One process, many threads: the embedded mode's real backend."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._breakers: dict[str, _Breaker] = {}
        self._limited: dict[str, float] = {}

    def reserve_token(self, provider: str, spec: RateSpec, max_wait: float) -> float:
        with self._lock:
            now = time.monotonic()
            tokens, ts = self._buckets.get(provider, (float(spec.burst), now))
            tokens = min(spec.burst, tokens + max(0.0, now - ts) * spec.rate)
            wait = (1 - tokens) / spec.rate if tokens < 1 else 0.0
            if wait > max_wait:
                wait = -wait
            else:
                tokens -= 1
            self._buckets[provider] = (tokens, now)
            return wait

    def breaker_allows(self, provider: str, policy: BreakerPolicy) -> bool:
        with self._lock:
            b = self._breakers.setdefault(provider, _Breaker())
            now = time.monotonic()
            if now < b.open_until:
                return False
            if not b.tripped:
                return True
            if now < b.probe_until:
                return False
            b.probe_until = now + policy.cooldown
            return True

    def breaker_success(self, provider: str) -> None:
        with self._lock:
            self._breakers[provider] = _Breaker()

    def breaker_failure(self, provider: str, policy: BreakerPolicy) -> None:
        with self._lock:
            b = self._breakers.setdefault(provider, _Breaker())
            now = time.monotonic()
            if b.tripped and now >= b.open_until:
                b.open_until, b.probe_until = now + policy.cooldown, 0.0
                return
            if now >= b.window_ends:
                b.failures, b.window_ends = 0, now + policy.window
            b.failures += 1
            if b.failures >= policy.failures:
                b.open_until, b.tripped, b.failures, b.probe_until = (
                    now + policy.cooldown,
                    True,
                    0,
                    0.0,
                )

    def breaker_state(self, provider: str) -> str:
        with self._lock:
            b = self._breakers.get(provider) or _Breaker()
            if time.monotonic() < b.open_until:
                return "open"
            return "half_open" if b.tripped else "closed"

    def limit_until(self, provider: str, seconds: float) -> None:
        with self._lock:
            self._limited[provider] = time.monotonic() + seconds

    def limited_for(self, provider: str) -> float:
        with self._lock:
            return max(0.0, self._limited.get(provider, 0.0) - time.monotonic())

    def is_clear(self, provider: str) -> bool:
        with self._lock:
            b = self._breakers.get(provider) or _Breaker()
            now = time.monotonic()
            limited = self._limited.get(provider, 0.0) > now
            counting = b.failures and now < b.window_ends
            return not (limited or counting or b.tripped or now < b.open_until)

    def reset(self, provider: str) -> None:
        with self._lock:
            self._buckets.pop(provider, None)
            self._breakers.pop(provider, None)
            self._limited.pop(provider, None)


_local = LocalLimits()
_redis_clients: dict[str, RedisLimits] = {}
_clients_lock = threading.Lock()


def get_limits() -> Limits:
    url = settings.REDIS_URL
    if not url:
        return _local
    with _clients_lock:
        if url not in _redis_clients:
            # Blocking pool: with many engine threads, a thread waits (briefly: every command is
            # sub-millisecond) for a connection instead of failing with "Too many connections".
            pool = redis.BlockingConnectionPool.from_url(
                url, max_connections=64, timeout=5, socket_timeout=5, health_check_interval=30
            )
            _redis_clients[url] = RedisLimits(redis.Redis(connection_pool=pool))
        return _redis_clients[url]
