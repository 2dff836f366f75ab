"""Sliding-window request counters shared by every web process: the store behind the API's
rate limits (accounts/throttling.py).

A window is the log of the requests counted in the last `period` seconds. `take` checks several
windows and counts the request in all of them in one atomic step, or in none when any is full,
so concurrent requests can never both see the last free slot. `RedisWindows` runs that step as
one Lua script on Redis' clock (a sorted set per window); `LocalWindows` does the same in
process memory under a lock: the real store of the embedded mode (no `REDIS_URL`: one
process), not a mock. `get_windows()` picks one from settings.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis
from django.conf import settings

KEY_PREFIX = "sluice:ratelimit"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most `allowed` requests counted under `key` in any `period` seconds."""

    key: str
    allowed: int
    period: int


@dataclass(frozen=True)
class WindowState:
    limit: Limit
    used: int  # requests counted in the window, this one included when it was let through
    frees_at: float  # Unix time at which the oldest counted request leaves the window

    @property
    def remaining(self) -> int:
        return max(0, self.limit.allowed - self.used)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    windows: tuple[WindowState, ...]
    entry: str  # this request's entry in every window, for `give_back`
    now: float

    def binding(self) -> WindowState:
        """The window whose numbers the client should go by: the one that refused, or else the
        one with the fewest requests left (the later reset on a tie)."""
        candidates = [w for w in self.windows if w.remaining == 0] or list(self.windows)
        return max(candidates, key=lambda w: (-w.remaining, w.frees_at))

    def retry_after(self) -> int:
        """Whole seconds until every full window has a free slot (at least 1)."""
        full = [w.frees_at for w in self.windows if w.used >= w.limit.allowed]
        return max(1, math.ceil(max(full, default=self.now) - self.now))


class Windows(Protocol):
    def take(self, limits: Sequence[Limit]) -> Decision | None:
        """Counts one request in every window when all have room; None when the store cannot
        answer (callers let the request through)."""

    def give_back(self, limits: Sequence[Limit], entry: str) -> None:
        """Removes a counted request again (it turned out not to be one of those limited)."""


def _decision(
    allowed: bool, limits: Sequence[Limit], counts: list[tuple[int, float]], entry: str, now: float
) -> Decision:
    windows = tuple(
        WindowState(limit=limit, used=used, frees_at=oldest + limit.period)
        for limit, (used, oldest) in zip(limits, counts, strict=True)
    )
    return Decision(allowed=allowed, windows=windows, entry=entry, now=now)


# --- Redis --------------------------------------------------------------------------------------

# KEYS: one sorted set per window (member: a request's entry, score: its time in ms).
# ARGV: the entry, then `allowed, period_ms` per key. Returns the verdict, Redis' time, and per
# window the count and the time of its oldest entry (this request's when it is the first).
_TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local allowed = 1
local counts = {}
local oldest = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local period = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  counts[i] = redis.call('ZCARD', key)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  oldest[i] = first[2] and tonumber(first[2]) or now
  if counts[i] >= limit then allowed = 0 end
end
if allowed == 1 then
  for i, key in ipairs(KEYS) do
    redis.call('ZADD', key, now, ARGV[1])
    redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
    counts[i] = counts[i] + 1
  end
end
local result = {allowed, now}
for i = 1, #KEYS do
  table.insert(result, counts[i])
  table.insert(result, oldest[i])
end
return result
"""


class RedisWindows:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._take = client.register_script(_TAKE_SCRIPT)

    @staticmethod
    def _key(limit: Limit) -> str:
        return f"{KEY_PREFIX}:{limit.key}"

    def take(self, limits: Sequence[Limit]) -> Decision | None:
        entry = uuid.uuid4().hex
        args: list[str | int] = [entry]
        for limit in limits:
            args += [limit.allowed, limit.period * 1000]
        try:
            reply = self._take(keys=[self._key(limit) for limit in limits], args=args)
        except redis.RedisError as exc:
            logger.warning("Rate limits unavailable (%s): request let through", exc)
            return None
        allowed, now_ms, *rest = (int(value) for value in reply)
        counts = [(rest[i], rest[i + 1] / 1000) for i in range(0, len(rest), 2)]
        return _decision(bool(allowed), limits, counts, entry, now_ms / 1000)

    def give_back(self, limits: Sequence[Limit], entry: str) -> None:
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for limit in limits:
                    pipe.zrem(self._key(limit), entry)
                pipe.execute()
        except redis.RedisError as exc:
            logger.warning("Rate limits unavailable (%s): entry not given back", exc)


# --- In process ---------------------------------------------------------------------------------


class LocalWindows:
    """One process, many threads: the embedded mode's real store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logs: dict[str, deque[tuple[float, str]]] = {}

    def take(self, limits: Sequence[Limit]) -> Decision:
        entry = uuid.uuid4().hex
        with self._lock:
            now = time.time()
            logs = []
            for limit in limits:
                log = self._logs.setdefault(limit.key, deque())
                while log and log[0][0] <= now - limit.period:
                    log.popleft()
                logs.append(log)
            allowed = all(len(log) < limit.allowed for log, limit in zip(logs, limits, strict=True))
            if allowed:
                for log in logs:
                    log.append((now, entry))
            counts = [(len(log), log[0][0] if log else now) for log in logs]
            for limit, log in zip(limits, logs, strict=True):
                if not log:
                    del self._logs[limit.key]  # nothing counted: keep no empty log around
        return _decision(allowed, limits, counts, entry, now)

    def give_back(self, limits: Sequence[Limit], entry: str) -> None:
        with self._lock:
            for limit in limits:
                log = self._logs.get(limit.key)
                if log is not None:
                    self._logs[limit.key] = deque(item for item in log if item[1] != entry)


_local = LocalWindows()
_redis_windows: dict[str, RedisWindows] = {}
_windows_lock = threading.Lock()


def get_windows() -> Windows:
    url = settings.REDIS_URL
    if not url:
        return _local
    with _windows_lock:
        if url not in _redis_windows:
            # Short timeouts: a limit store that does not answer lets requests through quickly
            # instead of holding every request of every worker.
            pool = redis.BlockingConnectionPool.from_url(
                url,
                max_connections=32,
                timeout=1,
                socket_connect_timeout=1,
                socket_timeout=1,
                health_check_interval=30,
            )
            _redis_windows[url] = RedisWindows(redis.Redis(connection_pool=pool))
        return _redis_windows[url]
