"""Small helpers shared by every API view."""

import time

from django.conf import settings
from rest_framework.request import Request

API_PREFIXES = {"v1": "/api/v1/public", "v2": "/api/v2"}


def timestamp_ms() -> int:
    return int(time.time() * 1000)


def api_prefix(request: Request) -> str:
    """The prefix the request came in under, so links we return stay on the same surface."""
    match = getattr(request, "resolver_match", None)
    namespace = match.namespaces[0] if match and match.namespaces else "v2"
    return API_PREFIXES.get(namespace, API_PREFIXES["v2"])


def absolute_url(request: Request, path: str) -> str:
    """`path` is relative to the API prefix, e.g. `enrichment/status/enrich-…`."""
    full_path = f"{api_prefix(request)}/{path.lstrip('/')}"
    if settings.SLUICE_PUBLIC_BASE_URL:
        return settings.SLUICE_PUBLIC_BASE_URL.rstrip("/") + full_path
    return request.build_absolute_uri(full_path)
