"""The sandbox provider: no network, deterministic, configurable. For demos, benchmarks, tests.

Every answer is a function of (instance name, data point, the person's canonical identity):
the same person always gets the same answer, and two instances (`sandbox_a`, `sandbox_b`) find
different people. Injected faults are a function of (instance, identity, attempt number), so a
retry can succeed where the first call failed, reproducibly. Found emails look like
`first.last@domain` (accents transliterated: `frederic.kohler@…`), phones are E.164 (`+1…`),
the verifier answers valid/risky/invalid/unknown.

Configuration per instance (`SLUICE_SANDBOX_INSTANCES[name]`, from env
`SLUICE_SANDBOX[_<SUFFIX>]_<KNOB>`): see `DEFAULTS`.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import unicodedata
from typing import Any, ClassVar

from providers.base import (
    CompanyInput,
    CompanyResult,
    DataPoint,
    EmailStatus,
    Outcome,
    PersonInput,
    Provider,
    Requirements,
)

DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "email_hit_rate": 0.8,
    "phone_hit_rate": 0.5,
    "company_hit_rate": 0.9,
    # Share of found emails the sandbox finder itself flags invalid (a miss for the engine).
    "finder_invalid_rate": 0.0,
    # Verifier answer mix: valid, risky, invalid, unknown (weights).
    "verify_mix": (0.75, 0.1, 0.1, 0.05),
    "fault_429_rate": 0.0,
    "fault_5xx_rate": 0.0,
    "fault_timeout_rate": 0.0,
    "fault_malformed_rate": 0.0,
    "retry_after_s": 1.0,
    "rate_limit": None,
    "concurrency": 1000,
    # What a call costs in the provider's credits (a find, a miss, a verification): instances with
    # different prices and hit rates make the `auto` order's benchmark.
    "cost": 1.0,
    "miss_cost": 0.0,
    "verify_cost": 1.0,
}

_VERDICTS = (EmailStatus.VALID, EmailStatus.RISKY, EmailStatus.INVALID, EmailStatus.UNKNOWN)
_FAULT_RATES = ("fault_429_rate", "fault_5xx_rate", "fault_timeout_rate", "fault_malformed_rate")

_INDUSTRIES = ("software", "financial services", "healthcare", "retail", "manufacturing")
_RANGES = ((1, 10, "1-10"), (11, 50, "11-50"), (51, 200, "51-200"), (201, 1000, "201-1000"))


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) derived from the parts: our deterministic coin."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# Letters NFKD does not take apart into a base letter and marks (the dotless i among them).
_UNDECOMPOSED = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "\u0131": "i",
                               "æ": "ae", "œ": "oe", "þ": "th"})  # fmt: skip


def _slug(text: str) -> str:
    """ASCII letters and digits of a name, as a mail server's local part or a domain holds
    them: accents transliterated like the real providers do (Frédéric Köhler ->
    frederic.kohler), not dropped."""
    if text.isascii():  # nothing to transliterate (casefold is lower for ASCII)
        return _NOT_SLUG.sub("", text.lower())
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_UNDECOMPOSED))
    return _NOT_SLUG.sub("", decomposed.encode("ascii", "ignore").decode())


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def _verdict_edges(mix: Any) -> list[tuple[EmailStatus, float]]:
    """The verifier's statuses with the upper edge of each one's share of [0, 1)."""
    weights = [float(w) for w in mix]
    edge, edges = 0.0, []
    for status, weight in zip(_VERDICTS, weights, strict=True):
        edge += weight / (sum(weights) or 1)
        edges.append((status, edge))
    return edges


def _name_parts(person: PersonInput) -> tuple[str, str] | None:
    if person.first_name and person.last_name:
        return person.first_name, person.last_name
    if person.full_name and " " in person.full_name:
        first, _, last = person.full_name.partition(" ")
        return first, last.split()[-1]
    return None


class SandboxProvider(Provider):
    """Not an `HttpProvider`: it never touches the network."""

    kind = "sandbox"
    finds = frozenset({DataPoint.EMAIL, DataPoint.PHONE, DataPoint.COMPANY})
    verifies = True
    requires: ClassVar[dict[DataPoint, Requirements]] = {
        DataPoint.EMAIL: (
            ("first_name", "last_name", "domain"),
            ("full_name", "domain"),
            ("first_name", "last_name", "company_name"),
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
    needs_key = False

    def __init__(self, *, name: str = "sandbox", config: dict[str, Any] | None = None) -> None:
        super().__init__(name=name)
        self.config = {**DEFAULTS, **(config or {})}
        self.default_rate_limit = self.config["rate_limit"]
        self.default_concurrency = int(self.config["concurrency"])
        self._faulty = any(float(self.config[key]) for key in _FAULT_RATES)
        # The knobs every call reads, converted once.
        self._latency_s = float(self.config["latency_ms"]) / 1000
        self._hit_rates = {
            str(dp): float(self.config[f"{dp}_hit_rate"])
            for dp in (DataPoint.EMAIL, DataPoint.PHONE, DataPoint.COMPANY)
        }
        self._finder_invalid_rate = float(self.config["finder_invalid_rate"])
        self._miss_cost = float(self.config["miss_cost"])
        self._verify_cost = float(self.config["verify_cost"])
        self._cost = float(self.config["cost"])
        try:
            self._verdict_edges: list[tuple[EmailStatus, float]] | None = _verdict_edges(
                self.config["verify_mix"]
            )
        except (TypeError, ValueError):
            # A malformed mix fails each verification (an adapter error), as it always did.
            self._verdict_edges = None
        # Calls wait only when told to: a latency, a rate limit, or faults (retried after a
        # backoff sleep).
        self.waits = bool(self.config["latency_ms"] or self.default_rate_limit or self._faulty)
        # Attempt numbers per (data point, identity), for reproducible faults; kept only when
        # faults are injected, or a worker would hold one entry per person it ever looked up.
        self._attempts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def _attempt(self, data_point: str, identity: str) -> int:
        with self._lock:
            n = self._attempts.get((data_point, identity), 0)
            self._attempts[(data_point, identity)] = n + 1
            return n

    def _latency(self) -> None:
        if self._latency_s:
            time.sleep(self._latency_s)

    def _fault(self, data_point: str, identity: str) -> Outcome | None:
        """A deterministic injected fault for this (identity, attempt), or None."""
        if not self._faulty:
            return None
        attempt = self._attempt(data_point, identity)
        u = _unit(self.name, "fault", data_point, identity, attempt)
        c = self.config
        edge = 0.0
        for rate_key, outcome in (
            ("fault_429_rate", Outcome.rate_limited(float(c["retry_after_s"]))),
            ("fault_5xx_rate", Outcome.transient("503")),
            ("fault_timeout_rate", Outcome.transient("timeout")),
            ("fault_malformed_rate", Outcome.transient("malformed_body")),
        ):
            edge += float(c[rate_key])
            if u < edge:
                return outcome
        return None

    def _hit(self, data_point: str, identity: str) -> bool:
        return _unit(self.name, "hit", data_point, identity) < self._hit_rates[data_point]

    def _confidence(self, *parts: object) -> int:
        return 50 + int(_unit(self.name, "confidence", *parts) * 50)

    def find_email(self, person: PersonInput) -> Outcome:
        identity = person.identity()
        self._latency()
        if fault := self._fault("email", identity):
            return fault
        parts = _name_parts(person)
        domain = person.domain or (
            f"{_slug(person.company_name)}.com" if person.company_name else None
        )
        if not parts or not domain or not self._hit("email", identity):
            return Outcome.not_found(cost=self._miss_cost)
        email = f"{_slug(parts[0])}.{_slug(parts[1])}@{domain.lower()}"
        invalid_rate = self._finder_invalid_rate
        if invalid_rate and _unit(self.name, "finder_invalid", identity) < invalid_rate:
            return Outcome.not_found(provider_status="invalid_by_provider:invalid")
        return Outcome.found(
            email, confidence=self._confidence(identity), provider_status="found", cost=self._cost
        )

    def find_phone(self, person: PersonInput) -> Outcome:
        identity = person.identity()
        self._latency()
        if fault := self._fault("phone", identity):
            return fault
        if not identity or not self._hit("phone", identity):
            return Outcome.not_found()
        n = int(_unit("phone-number", identity) * 10**9)
        area = 201 + n % 700
        phone = f"+1{area}{n // 1000 % 10_000_000:07d}"
        return Outcome.found(
            phone,
            confidence=self._confidence("phone", identity),
            provider_status="found",
            cost=self._cost,
        )

    def verify_email(self, email: str) -> Outcome:
        self._latency()
        if fault := self._fault("verify", email):
            return fault
        u = _unit(self.name, "verify", email.lower())
        verdict = EmailStatus.UNKNOWN
        edges = self._verdict_edges or _verdict_edges(self.config["verify_mix"])
        for status, edge in edges:
            if u < edge:
                verdict = status
                break
        return Outcome.found(
            email, verdict=verdict, provider_status=str(verdict), cost=self._verify_cost
        )

    def enrich_company(self, company: CompanyInput) -> Outcome:
        identity = company.identity()
        self._latency()
        if fault := self._fault("company", identity):
            return fault
        if not identity or not self._hit("company", identity):
            return Outcome.not_found()
        stem = (company.domain or "").split(".")[0] or _slug(company.name or company.ticker or "")
        domain = company.domain or f"{stem}.com"
        low, high, label = _RANGES[int(_unit("size", identity) * len(_RANGES))]
        employees = low + int(_unit("employees", identity) * (high - low))
        industry = _INDUSTRIES[int(_unit("industry", identity) * len(_INDUSTRIES))]
        result = CompanyResult(
            company_id=f"sbx_{hashlib.sha256(identity.encode()).hexdigest()[:16]}",
            name=company.name or stem.title(),
            domain=domain.lower(),
            industry=industry,
            industries=[industry],
            employee_count=employees,
            employee_count_range=label,
            hq_location="San Francisco, California, United States",
            total_funding_usd=int(_unit("funding", identity) * 50) * 1_000_000,
            funding_stage="series_a",
            tech_stack=["python", "postgresql"],
            linkedin_url=f"linkedin.com/company/{stem}",
        )
        return Outcome.found(
            result,
            confidence=self._confidence("company", identity),
            provider_status="found",
            cost=self._cost,
        )
