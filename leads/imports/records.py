"""From a mapped row to a lead record: canonical values, the person's identity
(`leads.canonical.person_identify`) and the checks that make a row an error instead; and the
merge of a row repeating a person seen earlier in the same upload."""

from dataclasses import dataclass
from operator import attrgetter

from django.db.models import CharField

from leads import canonical
from leads.canonical import IdentityProblem
from leads.imports.readers import RowError, SourceRow
from leads.merge import LEAD_FIELDS, fill_empty, fill_extra
from leads.models import Lead

VALUE_TOO_LONG = "value_too_long"
# One value of a column kept in `Lead.extra` (one that maps to no lead field).
MAX_EXTRA_VALUE_CHARS = 10_000
# How much of a refused value a row error quotes.
_QUOTED_CHARS = 100

# Cleanlist's keys for a row that repeats a person seen earlier in the same upload, by the kind
# of identity (the key's prefix).
_DUPLICATE_REASON = {"li": "duplicate_linkedin", "em": "duplicate_email", "nd": "duplicate_name"}

# Placeholder cells meaning "no value" in identifier columns (not in names: "Na" is a surname).
_PLACEHOLDERS = frozenset({"n/a", "na", "none", "null", "nil", "-", "--", "?", "unknown"})


def _max_length(name: str) -> int:
    field = Lead._meta.get_field(name)
    if not isinstance(field, CharField) or field.max_length is None:
        raise TypeError(f"Lead.{name} is not a CharField with a max_length.")
    return field.max_length


_MAX_LENGTHS = {name: _max_length(name) for name in (*LEAD_FIELDS, "identity_key")}
# The record's text values in `_MAX_LENGTHS` order, fetched in one call (per row, twice).
_TEXT_VALUES = attrgetter(*_MAX_LENGTHS)
_LIMITS = tuple(_MAX_LENGTHS.items())


def _quoted(value: str | None) -> str:
    if value is None or len(value) <= _QUOTED_CHARS:
        return repr(value)
    return f"{value[:_QUOTED_CHARS]!r}…"


def duplicate_reason(identity_key: str) -> str:
    return _DUPLICATE_REASON[identity_key[:2]]


@dataclass(slots=True)
class LeadRecord:
    row: int
    identity_key: str
    first_name: str
    last_name: str
    full_name: str
    title: str
    company_name: str
    domain: str
    industry: str
    location: str
    linkedin_url: str | None
    email: str | None
    phone: str | None
    extra: dict[str, str]

    def merge(self, other: "LeadRecord") -> None:
        """A later row of the same person in this upload fills what this record lacks."""
        fill_empty(self, {name: getattr(other, name) for name in LEAD_FIELDS})
        fill_extra(self.extra, other.extra)

    def size(self) -> int:
        """Characters of text the record holds: what bounds an import batch besides rows."""
        values = sum(len(value) for value in _TEXT_VALUES(self) if value)
        extra = sum(len(key) + len(value) for key, value in self.extra.items())
        return values + extra


def _identifier(raw: str | None) -> str | None:
    if not raw or raw.casefold() in _PLACEHOLDERS:
        return None
    return raw


def to_record(source: SourceRow) -> LeadRecord | RowError:
    """Canonical values and identity of one mapped row, or why it cannot be imported."""
    values, extra, row = source.fields, dict(source.extra), source.row
    raw_linkedin = _identifier(values.get("linkedin_url"))
    raw_email = _identifier(values.get("email"))
    raw_domain = _identifier(values.get("domain"))
    identity = canonical.person_identify(
        linkedin_url=raw_linkedin,
        email=raw_email,
        first_name=values.get("first_name"),
        last_name=values.get("last_name"),
        full_name=values.get("full_name"),
        company_name=values.get("company_name"),
        domain=raw_domain,
    )
    if identity.problems:
        problem = identity.problems[0]
        detail = {
            IdentityProblem.INVALID_LINKEDIN_URL: (
                f"Not a LinkedIn profile URL: {_quoted(raw_linkedin)}"
            ),
            IdentityProblem.INVALID_EMAIL: f"Not an email address: {_quoted(raw_email)}",
            IdentityProblem.NO_IDENTIFIER: (
                "Needs a LinkedIn profile URL, an email, or first name + last name + company "
                "domain or company name."
            ),
        }[problem]
        return RowError(row, str(problem), detail)
    assert identity.key is not None  # person_identify gives a key whenever it finds no problem
    if raw_domain and identity.domain is None:
        extra.setdefault("domain", raw_domain)  # kept, not lost, but not used for identity
    raw_phone = _identifier(values.get("phone"))
    phone = canonical.phone(raw_phone) if raw_phone else None
    if raw_phone and phone is None:
        extra.setdefault("phone", raw_phone)
    record = LeadRecord(
        row=row,
        identity_key=identity.key,
        first_name=identity.first_name,
        last_name=identity.last_name,
        full_name=identity.full_name,
        title=canonical.name(values.get("title")),
        company_name=identity.company_name,
        domain=identity.domain or "",
        industry=canonical.name(values.get("industry")),
        location=canonical.name(values.get("location")),
        linkedin_url=identity.linkedin_url,
        email=identity.email,
        phone=phone,
        extra=extra,
    )
    for (name, limit), value in zip(_LIMITS, _TEXT_VALUES(record), strict=True):
        if value and len(value) > limit:
            return RowError(row, VALUE_TOO_LONG, f"{name} is longer than {limit} characters.")
    for column, value in extra.items():
        if len(value) > MAX_EXTRA_VALUE_CHARS:
            return RowError(
                row,
                VALUE_TOO_LONG,
                f"Column {_quoted(column)} is longer than {MAX_EXTRA_VALUE_CHARS} characters.",
            )
    return record
