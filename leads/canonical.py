"""Canonical forms of the things that identify a person or a company.

One module, so the importer, the API, the dedup constraint and the provider cache key all agree
on who is who: `person_identify` is the only place that turns a person's raw fields into an
identity. The value functions return None for input they cannot make sense of, never raise.
"""

import enum
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import phonenumbers
from django.conf import settings
from django.core.validators import validate_email

LINKEDIN_PROFILE_BASE = "https://www.linkedin.com/in/"

_LINKEDIN_HOST = re.compile(r"^(?:[a-z]{2,3}\.|www\.|m\.|mobile\.)?linkedin\.com$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_PUB_ID_SEGMENT = re.compile(r"^[0-9a-z]{1,3}$")
_DOMAIN = re.compile(r"^(?=.{3,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_WHITESPACE = re.compile(r"\s+")
# The form most profile URLs come in (ASCII, `/in/<slug>`, nothing after it but a slash):
# `linkedin_url` answers it without parsing the URL, with the result the parse would give.
_PLAIN_PROFILE_URL = re.compile(
    r"(?:https?://)?(?:[a-z]{2,3}\.|www\.|m\.|mobile\.)?linkedin\.com/in/([a-z0-9_-]+)/?",
    re.IGNORECASE | re.ASCII,
)


def _split_url(raw: str):
    value = raw.strip()
    if not _SCHEME.match(value):
        value = "https://" + value.lstrip("/")
    try:
        return urlsplit(value)
    except ValueError:
        return None


def linkedin_url(raw: str | None) -> str | None:
    """A person's profile URL as `https://www.linkedin.com/in/<slug>`.

    Accepts no scheme, `www.`/`m.`/country subdomains, trailing slashes, query strings and
    fragments, URL-encoded (or accented) slugs, trailing locale segments (`/in/x/de`), and the
    legacy `/pub/<name>/<a>/<b>/<c>` form, which LinkedIn redirects to `/in/<name>-<c><b><a>`.
    Company pages, feeds and anything that is not a profile give None.
    """
    if not raw or not isinstance(raw, str):
        return None
    plain = _PLAIN_PROFILE_URL.fullmatch(raw.strip())
    if plain is not None:
        return LINKEDIN_PROFILE_BASE + plain[1].lower()
    return _linkedin_url_parsed(raw)


def _linkedin_url_parsed(raw: str) -> str | None:
    """`linkedin_url` of any form, by parsing the URL."""
    parts = _split_url(raw)
    if parts is None or not _LINKEDIN_HOST.match((parts.hostname or "").lower()):
        return None
    segments = [unquote(segment) for segment in parts.path.split("/") if segment]
    if len(segments) < 2:
        return None
    kind, slug = segments[0].lower(), segments[1]
    if kind == "pub":
        ids = segments[2:5]
        if len(ids) != 3 or not all(_PUB_ID_SEGMENT.match(i.lower()) for i in ids):
            return None
        slug = f"{slug}-{''.join(reversed(ids)).lower()}"
    elif kind != "in":
        return None
    slug = unicodedata.normalize("NFC", slug.strip()).lower()
    if not slug or any(ch in slug for ch in " /?#"):
        return None
    return LINKEDIN_PROFILE_BASE + slug


def linkedin_slug(canonical_url: str) -> str:
    return canonical_url.removeprefix(LINKEDIN_PROFILE_BASE)


def email(raw: str | None) -> str | None:
    """Lower-cased, trimmed, without `mailto:` or angle brackets; None if not an address."""
    if not raw or not isinstance(raw, str):
        return None
    if len(raw) <= 320 and _PLAIN_EMAIL.fullmatch(raw):
        return raw  # already canonical (what a lead holds), and valid
    return _email_worked_out(raw)


def _email_worked_out(raw: str) -> str | None:
    """`email` of any text, step by step."""
    value = raw.strip().strip("<>").strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:") :].split("?", 1)[0]
    value = unquote(value).strip().lower()
    return value if _valid_email(value) else None


# Django's own pattern for an address's user part, compiled (the same object: `re` keeps it):
# read through the validator's lazy proxy, each match cost three Python-level attribute lookups.
_EMAIL_USER = re.compile(validate_email.user_regex.pattern, validate_email.user_regex.flags)


# The form of most addresses, canonical ones among them (what leads hold, so what a chunk's
# people carry): lower-case ASCII dot-atoms of letters, digits, `_`, `+` and `-`, and a plain
# domain. Such a string is its own canonical form (nothing to trim, unquote or lower) and is
# valid (a dot-atom Django's user pattern accepts, a domain `_DOMAIN` accepts, one `@`), so
# `email` answers it without the steps, at a fifth of their cost.
_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@" + _DOMAIN.pattern.removeprefix("^").removesuffix("$")
)


def _valid_email(value: str) -> bool:
    """Django's `validate_email`, step by step, with the domain's check remembered: a chunk's
    emails share few domains, and the domain pattern was most of the canonical email's cost
    (docs/benchmarks.md)."""
    if not value or "@" not in value or len(value) > 320:
        return False
    user_part, domain_part = value.rsplit("@", 1)
    return bool(_EMAIL_USER.match(user_part)) and _valid_email_domain(domain_part)


def _valid_email_domain(domain_part: str) -> bool:
    # A plain ASCII domain (the canonical form of every company domain) is one Django accepts;
    # only the others are worked out, and remembered.
    return bool(_DOMAIN.fullmatch(domain_part)) or _valid_email_domain_worked_out(domain_part)


@lru_cache(maxsize=1 << 16)
def _valid_email_domain_worked_out(domain_part: str) -> bool:
    return domain_part in validate_email.domain_allowlist or bool(
        validate_email.validate_domain_part(domain_part)
    )


def domain(raw: str | None) -> str | None:
    """The registrable-looking host of a URL, a bare domain or an email address, without
    `www.`: `https://WWW.Acme.com/about` → `acme.com`, `jane@acme.com` → `acme.com`."""
    if not raw or not isinstance(raw, str):
        return None
    value = raw.strip().lower()
    if "@" in value and "/" not in value:
        value = value.rsplit("@", 1)[1]
    parts = _split_url(value)
    host = (parts.hostname or "") if parts else ""
    host = host.rstrip(".").removeprefix("www.")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return host if _DOMAIN.match(host) else None


def phone(raw: str | None, *, default_region: str | None = None) -> str | None:
    """E.164 (`+14155550123`) via Google's libphonenumber rules. A number without a country
    code is read in `default_region` (setting SLUICE_DEFAULT_PHONE_REGION); None if it cannot
    be a valid number."""
    if not raw or not isinstance(raw, str):
        return None
    region = default_region or settings.SLUICE_DEFAULT_PHONE_REGION or None
    value = raw.strip()
    if value.startswith("00"):
        value = "+" + value[2:]  # the international prefix of most of the world outside NANP
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def name(raw: str | None) -> str:
    """Display form: trimmed, single spaces, NFC."""
    if not raw or not isinstance(raw, str):
        return ""
    if raw.isascii() and raw.isprintable() and "  " not in raw:
        return raw.strip()  # already NFC, and its only whitespace is single spaces
    return _name_normalized(raw)


def _name_normalized(raw: str) -> str:
    """`name` of any text."""
    return unicodedata.normalize("NFC", _WHITESPACE.sub(" ", raw).strip())


def _name_key(raw: str) -> str:
    """Matching form of a name: case- and accent-insensitive."""
    decomposed = unicodedata.normalize("NFKD", name(raw).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def person_identity(
    *,
    linkedin: str | None = None,
    email_address: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    company_domain: str | None = None,
) -> str | None:
    """The key format of `person_identify` (which callers use: it takes raw fields). Inputs
    must already be canonical; `company_domain` is the company key (`_company_key`: a domain,
    else the case-folded company name). None: not enough to identify anyone."""
    if linkedin:
        return "li:" + linkedin_slug(linkedin)
    if email_address:
        return "em:" + email_address
    if first_name and last_name and company_domain:
        return f"nd:{_name_key(first_name)} {_name_key(last_name)}@{company_domain}"
    return None


def _company_key(*, domain: str | None, company_name: str) -> str | None:
    """The company part of a name-based identity: the canonical domain, else the company name
    case-folded (`Acme GmbH` → `acme gmbh`). Cleanlist identifies a person by first + last
    name with a company name or a domain."""
    return domain or (company_name.casefold() if company_name else None)


class IdentityProblem(enum.StrEnum):
    """Why raw fields do not identify a person (the values are the importer's row-error
    reasons)."""

    INVALID_LINKEDIN_URL = "invalid_linkedin_url"
    INVALID_EMAIL = "invalid_email"
    NO_IDENTIFIER = "missing_identity"


@dataclass(frozen=True, slots=True)
class PersonIdentity:
    """Who a person is, from raw fields: the identity key (None when there are `problems`)
    and the canonical values it was built from."""

    key: str | None
    problems: tuple[IdentityProblem, ...]
    linkedin_url: str | None
    email: str | None
    first_name: str
    last_name: str
    full_name: str
    company_name: str
    domain: str | None


# person_identify's keyword arguments are named after the fields and shadow these functions.
_canonical_linkedin_url = linkedin_url
_canonical_email = email

# Company domains repeat across an import's rows; canonicalising each distinct one once is the
# single biggest saving of the per-row work.
_cached_domain = lru_cache(maxsize=1 << 16)(domain)


def _company_domain(raw: str) -> str | None:
    """`domain(raw)`. A domain already in canonical form (what leads hold, so what a chunk's
    people carry) is its own answer and stays out of the cache, which would otherwise keep
    every company a worker process ever meets."""
    if _DOMAIN.fullmatch(raw) and not raw.startswith("www."):
        return raw
    return _cached_domain(raw)


def person_key(
    *,
    linkedin_url: str | None = None,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    full_name: str | None = None,
    company_name: str | None = None,
    domain: str | None = None,
) -> str | None:
    """`person_identify(…).key` alone (what the provider cache is keyed on), without working
    out canonical values the key does not use: a LinkedIn URL or an email, when given, decides
    the key (or its absence, when not valid) whatever the names say, so only a person with
    neither has their names and company read."""
    linkedin = _canonical_linkedin_url(linkedin_url) if linkedin_url else None
    if linkedin_url and linkedin is None:
        return None  # IdentityProblem.INVALID_LINKEDIN_URL
    address = _canonical_email(email) if email else None
    if email and address is None:
        return None  # IdentityProblem.INVALID_EMAIL
    if linkedin or address:
        return person_identity(linkedin=linkedin, email_address=address)
    return person_identify(
        first_name=first_name,
        last_name=last_name,
        full_name=full_name,
        company_name=company_name,
        domain=domain,
    ).key


def person_identify(
    *,
    linkedin_url: str | None = None,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    full_name: str | None = None,
    company_name: str | None = None,
    domain: str | None = None,
) -> PersonIdentity:
    """The one definition of who a person is, for the importer, the person API and the
    provider cache. Strongest identifier first: the LinkedIn profile, then the email, then
    first + last name (accent- and case-insensitive) with the company (`_company_key`). A full
    name alone is split at its first space. A LinkedIn URL or an email that is given but not
    valid is a problem (both are reported, LinkedIn first), never silently skipped; a domain
    that is not one counts as absent."""
    linkedin = _canonical_linkedin_url(linkedin_url) if linkedin_url else None
    address = _canonical_email(email) if email else None
    problems = []
    if linkedin_url and linkedin is None:
        problems.append(IdentityProblem.INVALID_LINKEDIN_URL)
    if email and address is None:
        problems.append(IdentityProblem.INVALID_EMAIL)
    first, last, full = name(first_name), name(last_name), name(full_name)
    if full and not (first or last):
        first, _, last = full.partition(" ")
    company = name(company_name)
    company_domain = _company_domain(domain) if domain else None
    key = None
    if not problems:
        key = person_identity(
            linkedin=linkedin,
            email_address=address,
            first_name=first,
            last_name=last,
            company_domain=_company_key(domain=company_domain, company_name=company),
        )
        if key is None:
            problems.append(IdentityProblem.NO_IDENTIFIER)
    return PersonIdentity(
        key=key,
        problems=tuple(problems),
        linkedin_url=linkedin,
        email=address,
        first_name=first,
        last_name=last,
        full_name=full or f"{first} {last}".strip(),
        company_name=company,
        domain=company_domain,
    )
