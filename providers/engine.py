"""The waterfall engine.

The two entry points the rest of Sluice calls (keep them stable):

    run_batch(people: list[PersonInput], wanted: set[DataPoint], *, tag: str = "",
              workspace_id: str = "", waterfall: ResolvedWaterfall | None = None)
        -> list[WaterfallResult]          # same order as `people`; for Celery chunk tasks
    enrich_company(company: CompanyInput, *, tag: str = "", workspace_id: str = "",
                   waterfall: ResolvedWaterfall | None = None)
        -> CompanyResult | None           # synchronous, for the company endpoint

For each person and wanted data point (email, phone) the engine walks the provider list of the
`waterfall` (the workspace's configuration; the operator's settings when none is given) in
order: a provider that is not configured, lacks the inputs it needs, is stopped by
an operator mark, is "limited until" a Retry-After, or has an open circuit breaker is skipped
without a call; a cached answer is used without a call; otherwise it is called (rate limited,
bounded per provider, retried with exponential backoff and full jitter on 429/5xx/timeouts).
The first value found wins; a found email must survive verification: its `email_status` must
be one the waterfall accepts (by default valid/risky/unknown; the workspace's catch-all policy
and lowest accepted status narrow it) — an `invalid` email, or one the finder itself flags
invalid, is a miss and the waterfall goes on.

The result cache is per workspace: a lookup reads only answers its own workspace's lookups
stored, so nothing a workspace sees (a cached attempt, its missing latency, a quick company
answer) tells it what another workspace looked up. Callers acting for a workspace pass its id;
without one (the benchmark, tests) the engine uses the cache of calls made outside any
workspace.

A batch does one cache read (two: person lookups, then verifications of cached emails) before
any call, runs people concurrently in the process's thread pool when some provider of the batch
waits (network, latency, rate limits: `Provider.waits`) and in the caller's thread when none does
(there a pool is pure overhead), and writes new cache entries, call records and operator marks
in bulk at the end, as plain rows. Worker threads never touch the database.

Neither entry point may run inside a database transaction: both raise
`common.outgoing_http.NetworkInTransaction` before any provider is called (the sandbox too, so
tests catch it). The check is made here, in the caller's thread, because the pool's threads
have their own connections and cannot see the caller's transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from common.outgoing_http import ensure_no_transaction
from providers import registry
from providers.base import (
    CACHEABLE_KINDS,
    Attempt,
    CompanyInput,
    CompanyResult,
    DataPoint,
    EmailStatus,
    Outcome,
    OutcomeKind,
    PersonInput,
    Provider,
    WaterfallResult,
    identity_key,
)
from providers.configuration import ResolvedWaterfall, operator_default
from providers.limits import BreakerPolicy, Limits, get_limits
from providers.selectors import CachedAnswer, active_marks, cache_lookup
from providers.services import (
    CacheAnswer,
    CallRecord,
    cache_store_many,
    calls_record,
    provider_mark_set,
)

logger = logging.getLogger(__name__)

PERSON_DATA_POINTS = frozenset({DataPoint.EMAIL, DataPoint.PHONE})

# How long an engine trusts its last look at a provider's shared state (limits, breaker) when
# that look found nothing restraining it. Asking Redis three times per call (limited? breaker
# allows? success resets the breaker) was the largest cost of a chunk at low latency
# (bench/profile_chunk.py); now a clear provider costs one read per engine per this interval.
# Anything this engine itself records (a failure, a Retry-After) ends the trust at once; a
# breaker opened by another worker is noticed within this interval.
SHARED_STATE_TTL_S = 0.5

# The members read on every call, as module globals: reading one through its Enum class
# (OutcomeKind.FOUND) goes through the metaclass and costs several times a global's read.
_FOUND = OutcomeKind.FOUND
_EMAIL, _PHONE, _VERIFICATION = DataPoint.EMAIL, DataPoint.PHONE, DataPoint.EMAIL_VERIFICATION
_INVALID, _UNKNOWN = EmailStatus.INVALID, EmailStatus.UNKNOWN

# A cached answer's kind and verdict by their stored value (a dict lookup, not an Enum call).
_KINDS = {str(kind): kind for kind in OutcomeKind}
_STATUSES = {str(status): status for status in EmailStatus}


def _now() -> datetime:
    """timezone.now() (USE_TZ is on) without reading the setting again for every record."""
    return datetime.now(UTC)


# Where a finder's record takes the verdict on its email (_judge): the last two fields.
_JUDGED = CallRecord._fields.index("email_status")
if CallRecord._fields[_JUDGED:] != ("email_status", "accepted"):
    raise ImportError("_judged needs email_status and accepted to be CallRecord's last fields")


# A record is built from its fields in this order (a namedtuple's keyword __new__ parses 13
# keywords per record; two records a found person).
_RECORD_FIELDS = (
    "provider", "data_point", "outcome", "latency_ms", "cost", "cached", "provider_status", "tag",
    "created_at", "workspace_id", "step", "opens_lookup", "accepted",
)  # fmt: skip
if CallRecord._fields != (*_RECORD_FIELDS[:-1], "email_status", "accepted"):
    raise ImportError("_record builds CallRecord from its fields in _RECORD_FIELDS's order")
_new_record = tuple.__new__


def _judged(call: CallRecord, email_status: str, accepted: bool) -> CallRecord:
    """The record with the verdict on its email (a namedtuple's _replace, without its
    keyword machinery: one per found email)."""
    return _new_record(CallRecord, (*call[:_JUDGED], email_status, accepted))


# A cache hit's Attempt is built positionally (its keyword __init__ cost twice as much).
_ATTEMPT_FIELDS = (
    "provider", "data_point", "outcome", "ms", "cost", "cached", "provider_status", "value",
    "verdict", "cache_entry_id",
)  # fmt: skip
if tuple(f.name for f in dataclasses.fields(Attempt)) != _ATTEMPT_FIELDS:
    raise ImportError("_cached builds Attempt from its fields in _ATTEMPT_FIELDS's order")


class _Lookup:
    """One person's (or company's) lookups, as the thread running them sees them: their call
    records so far, which stay with the thread until the person is done, so a slice flushed
    meanwhile (iter_batch) never writes a finder's record before the verifier's verdict lands
    on it (_judge); the data point being looked up and its order; where the lookup's latest
    finder record is; the time a cache hit's record carries. Passed down the calls rather
    than kept in a thread-local (a thread-local attribute costs twice a plain one's, a dozen
    times a person)."""

    __slots__ = ("at", "data_point", "finder", "order", "records")

    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        self.data_point: DataPoint | None = None
        self.order: tuple[str, ...] = ()
        # Index in `records` of the lookup's latest finder record (-1: none yet): the record a
        # verdict lands on, since a found email is judged right after its finder answered.
        self.finder = -1
        # A cache hit happens at no measurable time: its record carries the time of the
        # person's start or of their latest call, one clock read a person rather than one a
        # record (records are counted by the second: calls_record).
        self.at = _now()


_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


def _semaphore(name: str, size: int) -> threading.BoundedSemaphore:
    """Per provider and process, shared by every engine in the process."""
    with _semaphores_lock:
        return _semaphores.setdefault((name, size), threading.BoundedSemaphore(size))


_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """The process's waterfall threads, shared by every batch of the process: a chunk whose
    last people are underway and the next chunk feed the same threads, so the pool stays full
    across a chunk boundary without more calls in flight than SLUICE_ENGINE_THREADS
    (docs/benchmarks.md, "Pipeline"). Keyed by process, as a forked child has no threads."""
    key = (os.getpid(), threads)
    with _semaphores_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ThreadPoolExecutor(threads, thread_name_prefix="waterfall")
        return pool


def cache_key(*, workspace_id: str, identity: str) -> str:
    """The result-cache key of an identity within a workspace (also what an erasure deletes):
    the first 128 bits of the hash, 32 hex digits, which the key's `uuid` column reads as is."""
    return identity_key(f"{workspace_id}\n{identity}" if workspace_id else identity)[:32]


def run_batch(
    people: list[PersonInput],
    wanted: set[DataPoint],
    *,
    tag: str = "",
    workspace_id: str = "",
    waterfall: ResolvedWaterfall | None = None,
) -> list[WaterfallResult]:
    """Runs the waterfall for every person (see the module docstring)."""
    engine = WaterfallEngine(tag=tag, workspace_id=workspace_id, waterfall=waterfall)
    return engine.run_batch(people, wanted)


def iter_batch(
    people: list[PersonInput],
    wanted: set[DataPoint],
    *,
    slice_seconds: float,
    tag: str = "",
    workspace_id: str = "",
    waterfall: ResolvedWaterfall | None = None,
    fed: threading.Event | None = None,
) -> Iterator[list[tuple[int, WaterfallResult]]]:
    """run_batch in slices: yields the people finished so far, as (index in `people`, result),
    about every `slice_seconds`, with their call records and cache entries already written, while
    the calls of the others go on in the pool. A caller that records each slice before asking
    for the next loses at most one slice if its process dies (issue 15). Do not hold a
    transaction open across a `next()`.

    `fed` is set once no more than a pool's worth of the batch's people wait for a thread: from
    then on the pool runs dry within a wave of calls unless more work comes, so a caller with
    more work should start feeding it (execution.chunks_run). Never set when the batch runs in
    the caller's thread."""
    engine = WaterfallEngine(tag=tag, workspace_id=workspace_id, waterfall=waterfall)
    return engine.iter_batch(people, wanted, slice_seconds=slice_seconds, fed=fed)


def enrich_company(
    company: CompanyInput,
    *,
    tag: str = "",
    workspace_id: str = "",
    waterfall: ResolvedWaterfall | None = None,
) -> CompanyResult | None:
    """Firmographics from the company waterfall, or None when no provider knows the company."""
    engine = WaterfallEngine(tag=tag, workspace_id=workspace_id, waterfall=waterfall)
    return engine.enrich_company(company)


class WaterfallEngine:
    def __init__(
        self,
        *,
        tag: str = "",
        workspace_id: str = "",
        limits: Limits | None = None,
        waterfall: ResolvedWaterfall | None = None,
    ) -> None:
        self.tag = tag[:100]
        self.workspace_id = str(workspace_id)
        self.limits = limits or get_limits()
        self.policy = BreakerPolicy.from_settings()
        self.ttl = settings.SLUICE_RESULT_CACHE_TTL_S
        self.max_retries = settings.SLUICE_PROVIDER_MAX_RETRIES
        self.backoff_base = settings.SLUICE_PROVIDER_BACKOFF_BASE_S
        self.backoff_cap = settings.SLUICE_PROVIDER_BACKOFF_CAP_S
        self.max_retry_after = settings.SLUICE_PROVIDER_MAX_RETRY_AFTER_S
        self.max_token_wait = settings.SLUICE_RATE_LIMIT_MAX_WAIT_S
        self.waterfall = waterfall or operator_default()
        self.waterfalls = {dp: list(self.waterfall.orders.get(dp, ())) for dp in DataPoint}
        self.providers: dict[str, Provider] = {}
        for names in self.waterfalls.values():
            for name in names:
                if name not in self.providers:
                    try:
                        self.providers[name] = registry.build_provider(name)
                    except ValueError as exc:
                        raise ImproperlyConfigured(str(exc)) from exc
        # Per provider, looked up once per engine rather than once per call.
        self._rate_specs = {name: registry.rate_spec(p) for name, p in self.providers.items()}
        # A provider's in-flight slots bound calls that wait (network, latency, a rate limit's
        # turn); a call that never waits runs start to end holding the GIL, so no slot is taken
        # for it (taking and giving back a semaphore cost more than such a call's own work).
        self._semaphores = {
            name: _semaphore(name, registry.concurrency(p))
            for name, p in self.providers.items()
            if p.waits or self._rate_specs[name]
        }
        # Whether the waterfall accepts an email of each status (asked per found email).
        self._accepts = {status: self.waterfall.accepts(status) for status in EmailStatus}
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str, str], CachedAnswer] = {}
        self._new_cache: dict[tuple[str, str, str], CacheAnswer] = {}
        self._calls: list[CallRecord] = []
        self._blocked: dict[str, str] = {}
        self._new_marks: dict[str, tuple[str, str]] = {}
        self._clear_until: dict[str, float] = {}
        # Why a provider cannot answer a data point at all, whoever asks ("" when it can):
        # asked once per engine, not per call.
        self._unusable: dict[tuple[str, DataPoint], str] = {}
        self._keys: dict[str, str] = {}  # identity -> cache key (see _cache_key)
        self._workspace = self.workspace_id or None  # as records carry it
        # The order of a data point that is the same for every lead (not `auto`): asked per
        # lead, and ResolvedWaterfall.order works it out each time.
        self._fixed_orders = {
            dp: self.waterfall.order(dp)
            for dp in DataPoint
            if dp not in self.waterfall.auto or len(self.waterfall.orders.get(dp, ())) < 2
        }

    # --- batch API ----------------------------------------------------------------------------

    def run_batch(
        self, people: list[PersonInput], wanted: Iterable[DataPoint]
    ) -> list[WaterfallResult]:
        results: list[WaterfallResult | None] = [None] * len(people)
        for finished in self.iter_batch(people, wanted, slice_seconds=math.inf):
            for index, result in finished:
                results[index] = result
        return results  # type: ignore[return-value]  # every index is filled

    def iter_batch(
        self,
        people: list[PersonInput],
        wanted: Iterable[DataPoint],
        *,
        slice_seconds: float,
        fed: threading.Event | None = None,
    ) -> Iterator[list[tuple[int, WaterfallResult]]]:
        """See the module-level iter_batch."""
        wanted = {DataPoint(dp) for dp in wanted}
        if not wanted <= PERSON_DATA_POINTS:
            raise ValueError(
                f"run_batch finds emails and phones, not {wanted - PERSON_DATA_POINTS}"
            )
        if not people:
            return
        ensure_no_transaction("The provider waterfall")
        self._prepare(
            [p.identity() for p in people],
            [dp for dp in (DataPoint.EMAIL, DataPoint.PHONE) if dp in wanted],
        )
        if self._threads(wanted, len(people)) == 1:
            yield from self._slices_inline(people, wanted, slice_seconds)
        else:
            yield from self._slices_pooled(people, wanted, slice_seconds, fed)

    def _slices_inline(
        self, people: list[PersonInput], wanted: set[DataPoint], slice_seconds: float
    ) -> Iterator[list[tuple[int, WaterfallResult]]]:
        done: list[tuple[int, WaterfallResult]] = []
        cut = time.monotonic() + slice_seconds
        for index, person in enumerate(people):
            done.append((index, self._run_person(person, wanted)))
            if time.monotonic() >= cut and index < len(people) - 1:
                self._flush()
                yield done
                done, cut = [], time.monotonic() + slice_seconds
        self._flush()
        yield done

    def _slices_pooled(
        self,
        people: list[PersonInput],
        wanted: set[DataPoint],
        slice_seconds: float,
        fed: threading.Event | None,
    ) -> Iterator[list[tuple[int, WaterfallResult]]]:
        threads = settings.SLUICE_ENGINE_THREADS
        pool = _pool(threads)
        waiting = [len(people)]  # people not started yet (behind other batches' too)

        def run(person: PersonInput) -> WaterfallResult:
            with self._lock:
                waiting[0] -= 1
                left = waiting[0]
            if fed is not None and left <= threads:
                fed.set()
            return self._run_person(person, wanted)

        index_of = {pool.submit(run, person): i for i, person in enumerate(people)}
        pending = set(index_of)
        try:
            timeout = None if math.isinf(slice_seconds) else slice_seconds
            while pending:
                # The pool keeps calling while the caller records the slice it was handed.
                finished, pending = futures_wait(pending, timeout=timeout)
                if not finished and pending:
                    continue
                self._flush()
                yield [(index_of[future], future.result()) for future in finished]
        finally:
            # A caller that stops early (an error while recording) leaves no call of its batch
            # waiting to start: the ones in flight end, the rest never begin.
            for future in pending:
                future.cancel()
            futures_wait(pending)

    def _threads(self, wanted: set[DataPoint], people: int) -> int:
        """Threads for a batch: one (the caller's) when no provider it may call waits, since
        calls that return at once gain nothing from threads and pay for them in locks and the
        GIL (bench/profile_chunk.py); else up to SLUICE_ENGINE_THREADS (the process's pool)."""
        names = {name for dp in wanted for name in self.waterfalls[dp]}
        if DataPoint.EMAIL in wanted:
            names.update(self.waterfalls[DataPoint.EMAIL_VERIFICATION])
        if not any(self.providers[n].waits or self._rate_specs[n] for n in names):
            return 1
        return max(1, min(settings.SLUICE_ENGINE_THREADS, people))

    def enrich_company(self, company: CompanyInput) -> CompanyResult | None:
        ensure_no_transaction("The company waterfall")
        self._prepare([company.identity()], [DataPoint.COMPANY])
        outcome = Outcome.not_found()
        found_by = None
        lookup = _Lookup()
        for name in self._open_lookup(lookup, DataPoint.COMPANY, company.identity()):
            outcome = self._consult(
                lookup, name, DataPoint.COMPANY, company, company.identity(), []
            )
            if outcome.kind == OutcomeKind.FOUND:
                found_by = name
                break
        with self._lock:
            self._calls.extend(lookup.records)
        self._flush()
        if found_by is None:
            return None
        value = outcome.value
        result = value if isinstance(value, CompanyResult) else CompanyResult.from_json(value)
        result.provider = found_by
        return result

    # --- one person ---------------------------------------------------------------------------

    def _run_person(self, person: PersonInput, wanted: set[DataPoint]) -> WaterfallResult:
        result = WaterfallResult(person=person)
        lookup = _Lookup()  # the person's records stay here until they are done (_Lookup)
        try:
            if _EMAIL in wanted:
                self._find_email(lookup, person, result)
            if _PHONE in wanted:
                self._find_phone(lookup, person, result)
        except Exception:
            # One person's surprise must not sink the chunk: the caller sees no value and the
            # attempts so far.
            logger.exception("Waterfall failed for a person")
        finally:
            with self._lock:
                self._calls.extend(lookup.records)
        return result

    def _find_email(self, lookup: _Lookup, person: PersonInput, result: WaterfallResult) -> None:
        identity = person.identity()
        for name in self._open_lookup(lookup, _EMAIL, identity):
            outcome = self._consult(lookup, name, _EMAIL, person, identity, result.attempts)
            if outcome.kind != _FOUND:
                continue
            if outcome.verdict == _INVALID:
                continue  # the finder's own verdict: not a hit
            status = self._verify(lookup, outcome.value, outcome.verdict, result)
            accepted = self._accepts[status]
            self._judge(lookup, status, accepted=accepted)
            if not accepted:
                continue
            result.email = outcome.value
            result.email_status = status
            result.email_confidence = outcome.confidence
            result.email_provider = name
            return

    def _find_phone(self, lookup: _Lookup, person: PersonInput, result: WaterfallResult) -> None:
        identity = person.identity()
        for name in self._open_lookup(lookup, _PHONE, identity):
            outcome = self._consult(lookup, name, _PHONE, person, identity, result.attempts)
            if outcome.kind == _FOUND:
                result.phone = outcome.value
                result.phone_confidence = outcome.confidence
                result.phone_provider = name
                return

    def _verify(
        self,
        lookup: _Lookup,
        email: str,
        finder_verdict: EmailStatus | None,
        result: WaterfallResult,
    ) -> EmailStatus:
        """The verifier's verdict; when it cannot tell (no verifier, unknown, failure), the
        finder's own verdict, else unknown."""
        verdict = None
        identity, attempts = f"email:{email.lower()}", result.attempts
        for name in self.waterfalls[_VERIFICATION]:
            outcome = self._consult(lookup, name, _VERIFICATION, email, identity, attempts)
            if outcome.kind == _FOUND and outcome.verdict:
                verdict = _STATUSES[outcome.verdict]
                break
        if verdict in (None, _UNKNOWN) and finder_verdict:
            return _STATUSES[finder_verdict]
        return verdict or _UNKNOWN

    # --- one provider -------------------------------------------------------------------------

    def _consult(
        self,
        lookup: _Lookup,
        name: str,
        data_point: DataPoint,
        subject: Any,
        identity: str,
        attempts: list[Attempt],
    ) -> Outcome:
        """Asks one provider (or its cached answer) about one subject, with retries. Returns the
        final outcome; every step taken is appended to `attempts`."""
        provider = self.providers[name]
        skip = self._skip_reason(provider, name, data_point, subject)
        if skip:
            return self._skipped(name, data_point, skip, attempts)
        key = None
        if identity:
            key = (name, str(data_point), self._keys.get(identity) or self._cache_key(identity))
        if key and self.ttl > 0:
            # Two dict reads, each atomic: a read racing _flush's swap of _new_cache misses
            # exactly as one made just after it would.
            entry = self._cache.get(key) or self._new_cache.get(key)
            if entry is not None:
                return self._cached(lookup, name, data_point, entry, attempts)
        clear = self._is_clear(name)
        if not clear and self.limits.limited_for(name) > 0:
            return self._skipped(name, data_point, "rate_limited_until", attempts)

        spec = self._rate_specs[name]
        for attempt in range(self.max_retries + 1):
            if not clear and not self.limits.breaker_allows(name, self.policy):
                outcome = Outcome.skipped("circuit_open")
                attempts.append(self._attempt(name, data_point, outcome))
                return outcome
            slot = self._semaphores.get(name)
            if slot is None:
                outcome = self._call(provider, data_point, subject)
            else:
                # The provider's slot first, then its turn under the rate limit: a process never
                # holds more turns than it has slots, so the queue of turns stays short.
                with slot:
                    if spec is not None and not self._wait_for_token(name, spec):
                        outcome = Outcome.skipped("rate_limit_wait")
                        attempts.append(self._attempt(name, data_point, outcome))
                        return outcome
                    outcome = self._call(provider, data_point, subject)
            attempts.append(self._attempt(name, data_point, outcome))
            kind = outcome.kind
            lookup.at = _now()  # the person's later cache hits come after this call
            self._record(
                lookup,
                name,
                data_point,
                str(kind),
                outcome.ms,
                outcome.cost,
                False,
                outcome.provider_status,
                lookup.at,
            )
            last = attempt == self.max_retries
            if kind in CACHEABLE_KINDS:
                if not clear:  # a clear breaker has nothing to reset
                    self.limits.breaker_success(name)
                if key:
                    self._store(key, outcome)
                return outcome
            clear = self._not_clear(name)
            if kind == OutcomeKind.TRANSIENT_ERROR:
                self.limits.breaker_failure(name, self.policy)
                if last:
                    return outcome
                time.sleep(self._backoff(attempt))
                continue
            if kind == OutcomeKind.RATE_LIMITED:
                wait = outcome.retry_after
                if wait is None:
                    wait = self._backoff(attempt)
                if wait > self.max_retry_after or last:
                    # Don't stall the chunk: skip to the next provider, and tell every worker
                    # to leave this one alone until the provider said to come back.
                    self.limits.limit_until(name, max(wait, self._backoff(attempt)))
                    return outcome
                time.sleep(wait)
                continue
            if kind in (OutcomeKind.OUT_OF_CREDITS, OutcomeKind.AUTH_FAILED):
                self._block(name, kind, outcome.provider_status)
            return outcome
        return outcome

    def _is_clear(self, name: str) -> bool:
        """Whether nothing restrains the provider (see SHARED_STATE_TTL_S)."""
        now = time.monotonic()
        if self._clear_until.get(name, 0.0) > now:
            return True
        if self.limits.is_clear(name):
            self._clear_until[name] = now + SHARED_STATE_TTL_S
            return True
        return False

    def _not_clear(self, name: str) -> bool:
        """After an answer that is not a success, ask the shared state again next time."""
        self._clear_until.pop(name, None)
        return False

    def _skip_reason(
        self, provider: Provider, name: str, data_point: DataPoint, subject: Any
    ) -> str:
        unusable = self._unusable.get((name, data_point))
        if unusable is None:
            unusable = self._unusable[(name, data_point)] = (
                "unsupported"
                if not provider.supports(data_point)
                else "not_configured"
                if not provider.configured
                else ""
            )
        if unusable:
            return unusable
        # One dict read (atomic): the lock is for writers, which update two dicts together.
        blocked = self._blocked.get(name)
        if blocked:
            return f"marked:{blocked}"
        if data_point != _VERIFICATION and not provider.has_inputs(data_point, subject):
            return "missing_inputs"
        return ""

    def _call(self, provider: Provider, data_point: DataPoint, subject: Any) -> Outcome:
        started = time.monotonic()
        try:
            outcome = provider.lookup(data_point, subject)
        except Exception:
            # An adapter bug is this provider's problem, not the chunk's.
            logger.exception("Provider %s raised", provider.name)
            outcome = Outcome.permanent("adapter_error")
        ms = int((time.monotonic() - started) * 1000)
        # Most sandbox answers take no measurable time: spare them the copy.
        return dataclasses.replace(outcome, ms=ms) if ms != outcome.ms else outcome

    def _wait_for_token(self, name: str, spec: Any) -> bool:
        """Reserves this call's turn under the provider's shared rate limit and waits for it;
        False when the turn is more than SLUICE_RATE_LIMIT_MAX_WAIT_S away. One request per
        call however many wait (see `Limits.reserve_token`)."""
        wait = self.limits.reserve_token(name, spec, self.max_token_wait)
        if wait < 0:
            return False
        if wait > 0:
            time.sleep(wait)
        return True

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))

    # --- bookkeeping --------------------------------------------------------------------------

    def _cache_key(self, identity: str) -> str:
        """The cache key of an identity, within this engine's workspace: another workspace's
        key for the same person differs, so its answers are never read here. Remembered for
        the batch: the cache read works out every person's key before their lookups ask."""
        key = self._keys.get(identity)
        if key is None:
            key = self._keys[identity] = cache_key(
                workspace_id=self.workspace_id, identity=identity
            )
        return key

    def _cache_keys(self, identities: Iterable[str]) -> set[str]:
        """The _cache_key of each identity (a batch's at once: no method call per person)."""
        known, workspace_id = self._keys, self.workspace_id
        keys = set()
        for identity in identities:
            if identity:
                key = known.get(identity)
                if key is None:
                    key = known[identity] = cache_key(workspace_id=workspace_id, identity=identity)
                keys.add(key)
        return keys

    def _prepare(self, identities: list[str], data_points: list[DataPoint]) -> None:
        self._blocked = {name: mark.kind for name, mark in active_marks().items()}
        if self.ttl <= 0:
            return
        keys = self._cache_keys(identities)
        finders = {n for dp in data_points for n in self.waterfalls[dp]}
        self._cache = cache_lookup(
            identity_keys=keys, providers=finders, data_points=[str(dp) for dp in data_points]
        )
        if DataPoint.EMAIL in data_points and self.waterfalls[DataPoint.EMAIL_VERIFICATION]:
            emails = self._cache_keys(
                f"email:{str(e.value).lower()}"
                for e in self._cache.values()
                if e.data_point == _EMAIL and e.kind == _FOUND
            )
            if emails:
                self._cache |= cache_lookup(
                    identity_keys=emails,
                    providers=self.waterfalls[DataPoint.EMAIL_VERIFICATION],
                    data_points=[str(DataPoint.EMAIL_VERIFICATION)],
                )

    def _store(self, key: tuple[str, str, str], outcome: Outcome) -> None:
        if self.ttl <= 0:
            return
        value = outcome.value
        if isinstance(value, CompanyResult):
            value = value.to_json()
        entry = CacheAnswer(
            provider=key[0],
            data_point=key[1],
            identity_key=key[2],
            kind=str(outcome.kind),
            value=value,
            confidence=outcome.confidence,
            verdict=str(outcome.verdict or ""),
            provider_status=outcome.provider_status[:200],
        )
        with self._lock:
            self._new_cache[key] = entry

    def _open_lookup(
        self, lookup: _Lookup, data_point: DataPoint, identity: str
    ) -> tuple[str, ...]:
        """Starts a lead's lookup for a data point; returns its order."""
        order = self._fixed_orders.get(data_point)
        if order is None:
            order = self.waterfall.order(data_point, identity)
        lookup.data_point, lookup.order, lookup.finder = data_point, order, -1
        return order

    def _judge(self, lookup: _Lookup, status: EmailStatus, *, accepted: bool) -> None:
        """Writes the verdict on the record of the finder whose email was just judged (the
        lookup's latest finder record: the verifier's records in between are not a
        finder's)."""
        if lookup.finder >= 0:
            records = lookup.records
            records[lookup.finder] = _judged(records[lookup.finder], str(status), accepted)

    def _record(
        self,
        lookup: _Lookup,
        name: str,
        data_point: DataPoint,
        kind: str,
        ms: int,
        cost: float,
        cached: bool,
        provider_status: str,
        at: datetime,
    ) -> None:
        """Appends a call's (or a cache hit's) record to the lookup's, with the marks of a
        finder's record for analytics (see ProviderCall): its step in the lead's order, whether
        it opens the lookup, whether its answer counted (an email's is judged later: _judge)."""
        records = lookup.records
        step, opens_lookup, accepted = None, False, False
        if lookup.data_point == data_point and name in lookup.order:
            step = lookup.order.index(name) + 1
            opens_lookup = lookup.finder < 0
            accepted = kind == _FOUND and data_point != _EMAIL
            lookup.finder = len(records)
        # CallRecord(provider=…, …, accepted=…) in _RECORD_FIELDS's order, email_status blank.
        fields = (
            name, str(data_point), kind, ms, cost, cached, provider_status[:200], self.tag, at,
            self._workspace, step, opens_lookup, "", accepted,
        )  # fmt: skip
        records.append(_new_record(CallRecord, fields))

    def _block(self, name: str, kind: OutcomeKind, reason: str) -> None:
        with self._lock:
            self._blocked[name] = str(kind)
            self._new_marks.setdefault(name, (str(kind), reason))
        if kind == OutcomeKind.OUT_OF_CREDITS:
            # Chunks already running elsewhere see the shared "limited until" at once; the mark
            # (written at the end of the batch) stops the chunks that start later.
            self.limits.limit_until(name, settings.SLUICE_PROVIDER_EXHAUSTED_COOLDOWN_S)
        logger.warning("Provider %s answered %s (%s): stopping calls", name, kind, reason)

    def _cached(
        self,
        lookup: _Lookup,
        name: str,
        data_point: DataPoint,
        entry: CachedAnswer | CacheAnswer,
        attempts: list[Attempt],
    ) -> Outcome:
        kind = _KINDS[entry.kind]
        verdict = _STATUSES[entry.verdict] if entry.verdict else None
        value, status = entry.value, entry.provider_status
        # Outcome(kind, value, confidence, verdict, provider_status): positional, one per hit.
        outcome = Outcome(kind, value, entry.confidence, verdict, status)
        # A hit takes no time and costs nothing; its kind is the stored text (str(kind)).
        self._record(lookup, name, data_point, entry.kind, 0, 0.0, True, status, lookup.at)
        # _attempt(…, cached=True) in _ATTEMPT_FIELDS's order, with the entry it was read from
        # (an answer stored by this batch has no row id yet).
        attempts.append(
            Attempt(
                name,
                data_point,
                kind,
                0,
                0.0,
                True,
                status,
                value if kind is _FOUND else None,
                verdict,
                entry.pk if entry.__class__ is CachedAnswer else None,
            )
        )
        return outcome

    def _skipped(
        self, name: str, data_point: DataPoint, reason: str, attempts: list[Attempt]
    ) -> Outcome:
        outcome = Outcome.skipped(reason)
        attempts.append(self._attempt(name, data_point, outcome))
        return outcome

    @staticmethod
    def _attempt(
        name: str, data_point: DataPoint, outcome: Outcome, *, cached: bool = False
    ) -> Attempt:
        return Attempt(
            provider=name,
            data_point=data_point,
            outcome=outcome.kind,
            ms=outcome.ms,
            cost=0.0 if cached else outcome.cost,
            cached=cached,
            provider_status=outcome.provider_status,
            value=outcome.value if outcome.kind == _FOUND else None,
            verdict=outcome.verdict,
        )

    def _flush(self) -> None:
        """Everything the batch learned, in one transaction, after the calls."""
        with self._lock:
            entries, self._new_cache = list(self._new_cache.values()), {}
            calls, self._calls = self._calls, []
            marks, self._new_marks = self._new_marks, {}
        with transaction.atomic():
            cache_store_many(entries=entries, ttl_seconds=self.ttl)
            calls_record(calls=calls)
        for name, (kind, reason) in marks.items():
            provider_mark_set(provider=name, kind=kind, reason=reason)
