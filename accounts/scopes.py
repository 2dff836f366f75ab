"""API key scopes (Cleanlist's names) and how a view declares the one it needs.

A view sets `required_scope` to one scope, or to a dict from HTTP method to scope when one URL
serves several operations (`GET /lead-lists` reads, `POST /lead-lists` writes). Two special
values: `ANY_SCOPE` (any valid key, e.g. `/whoami`) and `PUBLIC` (no key, e.g. `/schema`).
A view that declares nothing for a method is a programming error, refused loudly.
"""

from django.core.exceptions import ImproperlyConfigured

PEOPLE_READ = "people:read"
COMPANIES_READ = "companies:read"
LISTS_READ = "lists:read"
LISTS_WRITE = "lists:write"
ENRICH_READ = "enrich:read"
ENRICH_WRITE = "enrich:write"
CREDITS_READ = "credits:read"
EXPORT_READ = "export:read"
ADMIN_API_KEYS = "admin:api_keys"
# The suppression list, erasure receipts and provenance (read); suppressing and erasing (write).
PRIVACY_READ = "privacy:read"
PRIVACY_WRITE = "privacy:write"

ALL_SCOPES: tuple[str, ...] = (
    PEOPLE_READ,
    COMPANIES_READ,
    LISTS_READ,
    LISTS_WRITE,
    ENRICH_READ,
    ENRICH_WRITE,
    CREDITS_READ,
    EXPORT_READ,
    ADMIN_API_KEYS,
    PRIVACY_READ,
    PRIVACY_WRITE,
)

ANY_SCOPE = "<any valid key>"
PUBLIC = "<public>"

_IGNORED_METHODS = {"OPTIONS", "HEAD"}


def required_scope_for(view: object, method: str) -> str:
    declared = getattr(view, "required_scope", None)
    if isinstance(declared, dict):
        lookup_method = "GET" if method == "HEAD" else method
        declared = declared.get(lookup_method)
    if declared is None and method in _IGNORED_METHODS:
        return ANY_SCOPE
    if declared is None:
        raise ImproperlyConfigured(
            f"{view.__class__.__name__} declares no required_scope for {method}."
        )
    if declared not in ALL_SCOPES and declared not in (ANY_SCOPE, PUBLIC):
        raise ImproperlyConfigured(f"{view.__class__.__name__}: unknown scope {declared!r}.")
    return declared


def parse_scopes(raw: str) -> list[str]:
    """`"lists:read,enrich:write"` or `"all"` → a validated, de-duplicated list."""
    if raw.strip().lower() == "all":
        return list(ALL_SCOPES)
    scopes = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise ValueError(f"Unknown scopes: {', '.join(unknown)}. Known: {', '.join(ALL_SCOPES)}.")
    if not scopes:
        raise ValueError("At least one scope is required.")
    return list(dict.fromkeys(scopes))
