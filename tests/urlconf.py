"""Walks the URL conf for the API views, so scope tests cover every endpoint, including ones
added later, without a hand-kept list."""

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
_PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Endpoint:
    route: str
    view_class: type
    method: str

    def sample_path(self) -> str:
        def fill(match: re.Match) -> str:
            if match["converter"] in ("uuid", None) and match["name"].endswith("_id"):
                return str(uuid.uuid4())
            return str(uuid.uuid4()) if match["converter"] == "uuid" else "sample-1"

        return "/" + _PARAM.sub(fill, self.route)


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, object]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def api_endpoints(prefix: str = "api/v2/") -> list[Endpoint]:
    endpoints = []
    for route, callback in _walk(get_resolver().url_patterns):
        view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if not route.startswith(prefix) or view_class is None:
            continue
        for method in HTTP_METHODS:
            if hasattr(view_class, method):
                endpoints.append(Endpoint(route, view_class, method.upper()))
    return endpoints
