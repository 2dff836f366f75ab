"""Which imported column feeds which lead field, and the cell conventions shared by import and
export.

An upload's headers are mapped onto the canonical fields below: an explicit `column_mapping`
(canonical field → header, Cleanlist's form) wins, every other header is matched through the
alias table (case, spaces, dashes and underscores ignored: "First Name", "first_name" and
"FirstName" are the same header). Headers that match nothing are kept in `Lead.extra`.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from common.exceptions import ValidationFailed

FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "linkedin_url",
    "company_name",
    "domain",
    "title",
    "phone",
    "location",
    "industry",
)

# Canonical field → header spellings seen in CRM, spreadsheet and data-vendor exports.
_ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name", "first name", "firstname", "first", "given name", "forename"),
    "last_name": ("last_name", "last name", "lastname", "last", "surname", "family name"),
    "full_name": ("full_name", "full name", "name", "contact name", "person name", "contact"),
    "email": (
        "email",
        "e-mail",
        "email address",
        "e-mail address",
        "work email",
        "business email",
        "email_address",
        "mail",
    ),
    "linkedin_url": (
        "linkedin",
        "linkedin url",
        "linkedin profile",
        "linkedin profile url",
        "person linkedin url",
        "linkedin_url",
        "li url",
        "profile url",
    ),
    "company_name": (
        "company",
        "company name",
        "company_name",
        "organization",
        "organisation",
        "organization name",
        "account",
        "account name",
        "employer",
    ),
    "domain": (
        "domain",
        "website",
        "company website",
        "company domain",
        "website url",
        "url",
        "web",
        "company url",
    ),
    "title": ("title", "job title", "job_title", "position", "role", "headline", "job"),
    "phone": (
        "phone",
        "phone number",
        "mobile",
        "mobile phone",
        "mobile number",
        "cell",
        "telephone",
        "tel",
        "direct phone",
        "work phone",
    ),
    "location": ("location", "city", "person location", "region", "address", "country"),
    "industry": ("industry", "company industry", "sector", "vertical"),
}

_HEADER_NOISE = re.compile(r"[\s_\-.:/]+")


def normalize_header(header: str) -> str:
    """`" First-Name "` → `"firstname"`: the form aliases are compared in."""
    return _HEADER_NOISE.sub("", header.strip().lstrip("\ufeff").casefold())


ALIASES: dict[str, str] = {
    normalize_header(alias): field for field, aliases in _ALIASES.items() for alias in aliases
}


class MissingColumn(ValidationFailed):
    """Cleanlist's code for a `column_mapping` that names a header the file does not have."""

    code = "missing_column"
    default_message = "column_mapping names a column that is not in the file's header."


def validate_column_mapping(mapping: Mapping[str, str | None] | None) -> dict[str, str | None]:
    """Rejects unknown canonical fields up front (400 with the field names)."""
    mapping = dict(mapping or {})
    unknown = sorted(field for field in mapping if field not in FIELDS)
    if unknown:
        raise ValidationFailed(
            details={
                "column_mapping": [
                    f"Unknown field(s): {', '.join(unknown)}. Known: {', '.join(FIELDS)}."
                ]
            }
        )
    return mapping


@dataclass(frozen=True)
class ColumnPlan:
    """Header → field for one header row (CSV) or one key set (JSON)."""

    fields: dict[str, str]  # header → canonical field
    extra: tuple[str, ...]  # headers kept verbatim in Lead.extra

    def apply(self, values: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        fields: dict[str, str] = {}
        for header, field in self.fields.items():
            value = values.get(header)
            if value:
                fields[field] = value
        extra = {header: values[header] for header in self.extra if values.get(header)}
        return fields, extra


def build_plan(
    headers: Sequence[str],
    column_mapping: Mapping[str, str | None] | None = None,
    *,
    strict: bool = True,
) -> ColumnPlan:
    """`strict` (CSV): a mapped header missing from `headers` is a 400 `missing_column`.
    JSON records have no header row, so there a missing key just means an empty value."""
    mapping = validate_column_mapping(column_mapping)
    present = set(headers)
    if strict:
        missing = {f: h for f, h in mapping.items() if h is not None and h not in present}
        if missing:
            raise MissingColumn(
                "column_mapping names column(s) the file's header does not have: "
                + ", ".join(sorted(set(missing.values()))),
                details={
                    "column_mapping": {
                        f: [f"No column {h!r} in the header."] for f, h in missing.items()
                    },
                    "missing_columns": sorted(set(missing.values())),
                    "headers": list(headers),
                },
            )
    explicit = {header: field for field, header in mapping.items() if header is not None}
    taken = set(mapping)  # a field mapped to None is deliberately left empty
    fields: dict[str, str] = {}
    extra: list[str] = []
    for header in headers:
        if header in explicit:
            fields[header] = explicit[header]
            continue
        field = ALIASES.get(normalize_header(header))
        if field is not None and field not in taken:
            fields[header] = field
            taken.add(field)
        elif header.strip():
            extra.append(header)
    return ColumnPlan(fields=fields, extra=tuple(extra))


def unique_headers(headers: Iterable[str]) -> list[str]:
    """Blank or repeated headers get a suffix so no column silently shadows another."""
    seen: dict[str, int] = {}
    result = []
    for index, header in enumerate(headers, start=1):
        header = header.strip().lstrip("\ufeff") or f"column_{index}"
        count = seen.get(header, 0)
        seen[header] = count + 1
        result.append(header if count == 0 else f"{header}_{count + 1}")
    return result


# --- Cells -------------------------------------------------------------------------------------

# A spreadsheet evaluates a cell starting with one of these as a formula (CSV injection).
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe_cell(value: str) -> str:
    """Neutralises a cell a spreadsheet would run as a formula by prefixing `'` (OWASP). Every
    cell of every CSV we write goes through here."""
    if value and value.startswith(_FORMULA_TRIGGERS):
        return "'" + value
    return value


def clean_cell(value: str) -> str:
    """An imported cell as we store it: trimmed, without NULs (PostgreSQL text cannot hold
    them), and with our own formula neutralisation undone so an export re-imports as it was."""
    value = value.replace("\x00", "").strip()
    if len(value) > 1 and value[0] == "'" and value[1:].startswith(_FORMULA_TRIGGERS):
        value = value[1:]
    return value
