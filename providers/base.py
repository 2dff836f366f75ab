"""The one small interface every provider implements, and the values that cross it.

A provider answers each lookup with an `Outcome`; it never raises for anything the provider
itself said (no result, slow down, out of credits, bad key, 5xx, timeouts, garbage bodies).
The engine (`providers.engine`) decides what an outcome means for the waterfall.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from leads import canonical


class DataPoint(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    COMPANY = "company"
    EMAIL_VERIFICATION = "email_verification"


class OutcomeKind(enum.StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    OUT_OF_CREDITS = "out_of_credits"
    AUTH_FAILED = "auth_failed"
    TRANSIENT_ERROR = "transient_error"
    PERMANENT_ERROR = "permanent_error"
    # The provider could not decide in time (an async provider's poll timed out). Not a miss:
    # never cached, not retried, not a breaker failure.
    UNKNOWN = "unknown"
    # The engine did not call the provider (missing inputs, open breaker, operator mark, …).
    SKIPPED = "skipped"


# Outcomes that are an answer about the person, so they may be cached.
CACHEABLE_KINDS = frozenset({OutcomeKind.FOUND, OutcomeKind.NOT_FOUND})
# Outcomes that count as a failed call in error-rate statistics.
ERROR_KINDS = frozenset(
    {
        OutcomeKind.RATE_LIMITED,
        OutcomeKind.OUT_OF_CREDITS,
        OutcomeKind.AUTH_FAILED,
        OutcomeKind.TRANSIENT_ERROR,
        OutcomeKind.PERMANENT_ERROR,
    }
)


# Attempts that tell "could not look" from "not found" (WaterfallResult.error).
_FAILURE_KINDS = ERROR_KINDS | {OutcomeKind.UNKNOWN}


# Prefix of `provider_status` when the provider says the person asked not to be contacted or
# processed (Hunter's 451, Dropcontact's Do_Not_Contact): a miss, and a candidate for
# suppression on our side too.
SUPPRESSION_CANDIDATE = "suppression_candidate"


class EmailStatus(enum.StrEnum):
    VALID = "valid"
    RISKY = "risky"
    INVALID = "invalid"
    UNKNOWN = "unknown"


@dataclass(frozen=True, init=False)
class Outcome:
    """One provider answer. `value` is the email / E.164 phone / `CompanyResult` when found;
    `verdict` is the provider's own judgement of a found or verified email, normalized to
    `EmailStatus` (a finder that marks its own email invalid makes the engine treat it as a
    miss); `provider_status` is the provider's raw status for logs and the items view; `cost`
    is in the provider's own credits."""

    kind: OutcomeKind
    value: Any = None
    confidence: int | None = None
    verdict: EmailStatus | None = None
    provider_status: str = ""
    cost: float = 0.0
    retry_after: float | None = None
    ms: int = 0

    def __init__(
        self,
        kind: OutcomeKind,
        value: Any = None,
        confidence: int | None = None,
        verdict: EmailStatus | None = None,
        provider_status: str = "",
        cost: float = 0.0,
        retry_after: float | None = None,
        ms: int = 0,
    ) -> None:
        # Straight into the frozen instance's dict: a dataclass's frozen __init__ sets each
        # field through object.__setattr__, and a lookup builds one or two outcomes a call.
        self.__dict__.update(
            kind=kind,
            value=value,
            confidence=confidence,
            verdict=verdict,
            provider_status=provider_status,
            cost=cost,
            retry_after=retry_after,
            ms=ms,
        )

    @classmethod
    def found(cls, value: Any, **kwargs: Any) -> Outcome:
        return cls(OutcomeKind.FOUND, value=value, **kwargs)

    @classmethod
    def not_found(cls, provider_status: str = "no_match", **kwargs: Any) -> Outcome:
        return cls(OutcomeKind.NOT_FOUND, provider_status=provider_status, **kwargs)

    @classmethod
    def rate_limited(cls, retry_after: float | None, provider_status: str = "429") -> Outcome:
        return cls(
            OutcomeKind.RATE_LIMITED, retry_after=retry_after, provider_status=provider_status
        )

    @classmethod
    def transient(cls, provider_status: str) -> Outcome:
        return cls(OutcomeKind.TRANSIENT_ERROR, provider_status=provider_status)

    @classmethod
    def permanent(cls, provider_status: str) -> Outcome:
        return cls(OutcomeKind.PERMANENT_ERROR, provider_status=provider_status)

    @classmethod
    def out_of_credits(cls, provider_status: str) -> Outcome:
        return cls(OutcomeKind.OUT_OF_CREDITS, provider_status=provider_status)

    @classmethod
    def auth_failed(cls, provider_status: str) -> Outcome:
        return cls(OutcomeKind.AUTH_FAILED, provider_status=provider_status)

    @classmethod
    def unknown(cls, provider_status: str) -> Outcome:
        return cls(OutcomeKind.UNKNOWN, provider_status=provider_status)

    @classmethod
    def skipped(cls, reason: str) -> Outcome:
        return cls(OutcomeKind.SKIPPED, provider_status=reason)


def _clean(value: str | None) -> str | None:
    """Blanks trimmed and collapsed to single spaces; None when nothing is left."""
    if value is None:
        return None
    # A printable string's only whitespace is the space: one without a space, or with single
    # spaces between words only (a full name, a company), is its own cleaned form.
    if value.__class__ is str and value.isprintable():
        if " " not in value:
            return value or None
        if "  " not in value and value[0] != " " and value[-1] != " ":
            return value
    value = " ".join(str(value).split())
    return value or None


@dataclass(frozen=True, init=False)
class PersonInput:
    """Who to look up. Values arrive canonical (the leads app owns canonicalization: a
    `linkedin.com/in/<handle>` URL, a lower-case email and domain, an E.164 phone); this class
    only trims blanks so an empty string means "absent"."""

    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None
    company_name: str | None = None
    domain: str | None = None
    linkedin_url: str | None = None
    email: str | None = None
    phone: str | None = None

    def __init__(
        self,
        first_name: str | None = None,
        last_name: str | None = None,
        full_name: str | None = None,
        company_name: str | None = None,
        domain: str | None = None,
        linkedin_url: str | None = None,
        email: str | None = None,
        phone: str | None = None,
    ) -> None:
        # Cleaned straight into the frozen instance's dict (a chunk builds one input per lead;
        # a frozen dataclass's own __init__ sets each field through object.__setattr__).
        first_name, last_name = _clean(first_name), _clean(last_name)
        full_name = _clean(full_name)
        if not full_name and first_name and last_name:
            full_name = f"{first_name} {last_name}"
        self.__dict__.update(
            first_name=first_name,
            last_name=last_name,
            full_name=full_name,
            company_name=_clean(company_name),
            domain=_clean(domain),
            linkedin_url=_clean(linkedin_url),
            email=_clean(email),
            phone=_clean(phone),
        )

    def has(self, *names: str) -> bool:
        return all(getattr(self, name) for name in names)

    @property
    def linkedin_handle(self) -> str | None:
        if not self.linkedin_url:
            return None
        match = re.search(r"/in/([^/?#]+)", self.linkedin_url)
        return match.group(1) if match else None

    def identity(self) -> str:
        """The identity the result cache (and the sandbox) is keyed on: the one definition of
        who a person is, `leads.canonical.person_identify` (its key alone: `person_key`), so a
        cached answer belongs to the same person as the workspace's lead. Empty when there is
        none. Worked out once per input (the engine and the providers ask several times per
        lookup)."""
        known = self.__dict__.get("_identity")
        if known is None:
            known = self._identify()
            # The input is frozen: the memo goes straight into the instance's dict.
            self.__dict__["_identity"] = known
        return known

    def _identify(self) -> str:
        return (
            canonical.person_key(
                linkedin_url=self.linkedin_url,
                email=self.email,
                first_name=self.first_name,
                last_name=self.last_name,
                full_name=self.full_name,
                company_name=self.company_name,
                domain=self.domain,
            )
            or ""
        )


@dataclass(frozen=True)
class CompanyInput:
    domain: str | None = None
    name: str | None = None
    ticker: str | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _clean(getattr(self, f.name)))

    def has(self, *names: str) -> bool:
        return all(getattr(self, name) for name in names)

    def identity(self) -> str:
        if self.domain:
            return f"domain:{self.domain.lower()}"
        if self.ticker:
            return f"ticker:{self.ticker.upper()}"
        if self.name:
            return f"name:{self.name.lower()}"
        return ""


def to_e164(raw: object) -> str | None:
    """A provider's phone as E.164 (`+33 1 23 45 67 89` / `0033…` → `+33123456789`). Unlike an
    imported phone, no default region applies: a national number is not usable, so None."""
    if not isinstance(raw, str):
        return None
    return canonical.phone(raw, default_region=_NO_REGION)


_NO_REGION = "ZZ"  # libphonenumber's "unknown region": only international numbers parse


def identity_key(identity: str) -> str:
    """Fixed-width cache key; the identity itself may be long and holds personal data."""
    return hashlib.sha256(identity.encode()).hexdigest()


@dataclass
class CompanyResult:
    """Firmographics, with the field names of the SDK's `CompanyRecord` model."""

    company_id: str | None = None
    name: str | None = None
    domain: str | None = None
    industry: str | None = None
    industries: list[str] | None = None
    employee_count: int | None = None
    employee_count_range: str | None = None
    revenue_range: str | None = None
    hq_location: str | None = None
    funding_stage: str | None = None
    total_funding_usd: int | None = None
    tech_stack: list[str] | None = None
    linkedin_url: str | None = None
    # Ours, not in CompanyRecord: which provider answered.
    provider: str | None = None

    RECORD_FIELDS: ClassVar[tuple[str, ...]] = (
        "company_id",
        "name",
        "domain",
        "industry",
        "industries",
        "employee_count",
        "employee_count_range",
        "revenue_range",
        "hq_location",
        "funding_stage",
        "total_funding_usd",
        "tech_stack",
        "linkedin_url",
    )

    def as_record(self) -> dict[str, Any]:
        """The `CompanyRecord` dict (only its fields)."""
        return {name: getattr(self, name) for name in self.RECORD_FIELDS}

    def to_json(self) -> dict[str, Any]:
        return {**self.as_record(), "provider": self.provider}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompanyResult:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# Inputs a provider needs, per data point: any one of the alternatives, each a tuple of
# PersonInput/CompanyInput fields that must all be present.
Requirements = tuple[tuple[str, ...], ...]

NAME_AND_COMPANY: Requirements = (
    ("full_name", "domain"),
    ("full_name", "company_name"),
)


@dataclass(frozen=True)
class RateSpec:
    """A token bucket: `rate` tokens per second, at most `burst` at once."""

    rate: float
    burst: int

    @classmethod
    def parse(cls, text: str) -> RateSpec:
        """`"500/min"`, `"15/s"`, optionally with a burst: `"500/min:15"`."""
        text = text.strip()
        amount, _, rest = text.partition("/")
        unit, _, burst = rest.partition(":")
        seconds = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600}
        try:
            rate = float(amount) / seconds[unit.strip().lower() or "s"]
        except (KeyError, ValueError) as exc:
            raise ValueError(f"Bad rate limit {text!r}: use e.g. '500/min' or '15/s:15'") from exc
        return cls(rate=rate, burst=int(burst) if burst else max(1, round(rate)))


class Provider:
    """Base class. Subclasses set the class attributes and override the lookups they offer.

    `name` is the instance name used in settings and records (a sandbox can be instantiated as
    `sandbox`, `sandbox_a`, …); `kind` is the registry name of the class."""

    kind: ClassVar[str] = ""
    finds: ClassVar[frozenset[DataPoint]] = frozenset()
    verifies: ClassVar[bool] = False
    requires: ClassVar[dict[DataPoint, Requirements]] = {}
    # Documented limits (overridable in settings); None = no limit of ours. Per class, except
    # that each sandbox instance sets its own.
    default_rate_limit: str | None = None
    # In-flight calls per worker process.
    default_concurrency: int = 10
    needs_key: ClassVar[bool] = True
    # Whether a call waits on something outside the process (the network, a sleep): the
    # engine runs a batch whose providers never wait in the caller's thread, without a pool.
    waits: bool = True

    def __init__(self, *, name: str | None = None, api_key: str = "", **options: Any) -> None:
        self.name = name or self.kind
        self.api_key = api_key
        self.options = options

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    @property
    def configured(self) -> bool:
        return bool(self.api_key) or not self.needs_key

    def supports(self, data_point: DataPoint) -> bool:
        if data_point == DataPoint.EMAIL_VERIFICATION:
            return self.verifies
        return data_point in self.finds

    def has_inputs(self, data_point: DataPoint, subject: PersonInput | CompanyInput) -> bool:
        alternatives = self.requires.get(data_point)
        if not alternatives:
            return True
        # subject.has(*names) for any alternative, without a generator per check.
        for names in alternatives:
            for name in names:
                if not getattr(subject, name):
                    break
            else:
                return True
        return False

    def find_email(self, person: PersonInput) -> Outcome:
        return Outcome.skipped("unsupported")

    def find_phone(self, person: PersonInput) -> Outcome:
        return Outcome.skipped("unsupported")

    def verify_email(self, email: str) -> Outcome:
        return Outcome.skipped("unsupported")

    def enrich_company(self, company: CompanyInput) -> Outcome:
        return Outcome.skipped("unsupported")

    def lookup(self, data_point: DataPoint, subject: Any) -> Outcome:
        method: Callable[[Any], Outcome] = getattr(self, _LOOKUPS[data_point])
        return method(subject)


# The Provider method that answers each data point (named, not bound per call).
_LOOKUPS = {
    DataPoint.EMAIL: "find_email",
    DataPoint.PHONE: "find_phone",
    DataPoint.EMAIL_VERIFICATION: "verify_email",
    DataPoint.COMPANY: "enrich_company",
}


@dataclass
class Attempt:
    """One step of a waterfall, for the items view: a call, a cache hit or a skip."""

    provider: str
    data_point: DataPoint
    outcome: OutcomeKind
    ms: int = 0
    cost: float = 0.0
    cached: bool = False
    provider_status: str = ""
    value: Any = None
    verdict: EmailStatus | None = None
    # The workspace's result-cache entry a cached answer was read from.
    cache_entry_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "data_point": str(self.data_point),
            "outcome": str(self.outcome),
            "ms": self.ms,
            "cost": self.cost,
            "cached": self.cached,
            "provider_status": self.provider_status,
            # A found or verified email's normalized verdict: what the run summary counts.
            "verdict": str(self.verdict) if self.verdict else None,
            "cache_entry_id": self.cache_entry_id,
        }


@dataclass
class WaterfallResult:
    """What the waterfall found for one person (same order as the input list)."""

    person: PersonInput
    email: str | None = None
    email_status: EmailStatus | None = None
    email_confidence: int | None = None
    email_provider: str | None = None
    phone: str | None = None
    phone_confidence: int | None = None
    phone_provider: str | None = None
    attempts: list[Attempt] = field(default_factory=list)

    def found(self, data_point: DataPoint) -> bool:
        return bool(self.email if data_point == DataPoint.EMAIL else self.phone)

    @property
    def provider(self) -> str | None:
        return self.email_provider or self.phone_provider

    @property
    def error(self) -> str | None:
        """Set when nothing was found and at least one provider failed (rather than missed),
        so a caller can tell "not found" from "could not look"."""
        if self.email or self.phone:
            return None
        failures = [a for a in self.attempts if a.outcome in _FAILURE_KINDS]
        if not failures or any(a.outcome == OutcomeKind.NOT_FOUND for a in self.attempts):
            return None
        return f"{failures[-1].provider}: {failures[-1].outcome}"
