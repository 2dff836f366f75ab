"""The merge rule for what we learn about a lead we already have: fill what is empty, never
overwrite and never blank. One rule for every path that meets a known person again: a repeat
within an import, an import row matching a workspace lead (ORM and SQL writers), and the
person API resolving an existing lead.

`fill_empty` applies it to Python objects; `fill_empty_sql` renders the same rule, for the same
fields, as the `SET` list and `WHERE` condition of an `INSERT … ON CONFLICT DO UPDATE`.
"""

from collections.abc import Iterable, Mapping
from typing import Any

# Lead fields a merge fills: blank-string fields when '', nullable fields when NULL.
LEAD_BLANK_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "title",
    "company_name",
    "domain",
    "industry",
    "location",
)
LEAD_NULLABLE_FIELDS: tuple[str, ...] = ("linkedin_url", "email", "phone")
LEAD_FIELDS: tuple[str, ...] = (*LEAD_BLANK_FIELDS, *LEAD_NULLABLE_FIELDS)

# Company fields an import fills (companies are matched by domain).
COMPANY_BLANK_FIELDS: tuple[str, ...] = ("name", "industry")


def fill_empty(target: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """Sets each attribute of `target` that is empty ('' or None) and has a value in `values`;
    never touches one that holds something. Returns what it set."""
    filled = {name: value for name, value in values.items() if value and not getattr(target, name)}
    for name, value in filled.items():
        setattr(target, name, value)
    return filled


def fill_extra(target: dict[str, Any], values: Mapping[str, Any]) -> bool:
    """The same rule for `Lead.extra`: keys `target` lacks are added, existing keys are kept
    as they are. Returns whether anything was added."""
    added = False
    for key, value in values.items():
        if key not in target:
            target[key] = value
            added = True
    return added


def fill_empty_sql(
    *,
    table: str,
    blank_fields: Iterable[str] = (),
    nullable_fields: Iterable[str] = (),
    json_fields: Iterable[str] = (),
    incoming: str = "EXCLUDED",
) -> tuple[list[str], list[str]]:
    """`fill_empty` (and `fill_extra` for jsonb columns) for `INSERT INTO <table> … ON CONFLICT
    DO UPDATE SET <assignments> WHERE <any of fills>`: `EXCLUDED` holds the incoming row.
    The `WHERE` keeps a row with nothing to fill from being rewritten. `incoming` names the
    incoming row elsewhere (a fill test before the insert, against a staged row's alias)."""
    assignments, fills = [], []
    for name in blank_fields:
        assignments.append(
            f"{name} = CASE WHEN {table}.{name} = '' THEN {incoming}.{name} ELSE {table}.{name} END"
        )
        fills.append(f"({table}.{name} = '' AND {incoming}.{name} <> '')")
    for name in nullable_fields:
        assignments.append(f"{name} = COALESCE({table}.{name}, {incoming}.{name})")
        fills.append(f"({table}.{name} IS NULL AND {incoming}.{name} IS NOT NULL)")
    for name in json_fields:
        # Existing keys win on the right of `||`; only new keys count as a fill.
        assignments.append(f"{name} = {incoming}.{name} || {table}.{name}")
        fills.append(
            f"EXISTS (SELECT 1 FROM jsonb_object_keys({incoming}.{name}) k "  # noqa: S608 (our names)
            f"WHERE NOT {table}.{name} ? k)"
        )
    return assignments, fills
