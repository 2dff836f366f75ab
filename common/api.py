"""Small helpers shared by every API view."""

import time

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

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


# The official Cleanlist SDK (an OpenAPI-generated client) deserialises only the status its
# OpenAPI file declares for an operation (200 for the async enrichment starts, 201 for
# create_list) and hands the caller None for any other 2xx. Cleanlist's prose docs (and our
# SPEC) give 202 / 200 there. We answer the SDK with the status it can parse and everyone else
# with the documented one; docs/api.md records each case.
_SDK_USER_AGENT_PREFIX = "OpenAPI-Generator/"


def status_for_client(request: Request, documented: int, *, sdk: int) -> int:
    user_agent = request.headers.get("User-Agent", "")
    return sdk if user_agent.startswith(_SDK_USER_AGENT_PREFIX) else documented


def idempotent_response(request: Request, *, operation: str, work) -> Response:
    """Runs `work()` (→ status, body) under the request's `Idempotency-Key` header (Stripe
    semantics, see common.idempotency); a replay carries `idempotent_replayed: true`."""
    from common.idempotency import request_fingerprint, run_idempotently, validate_key

    key = validate_key(request.headers.get("Idempotency-Key"))
    payload = {"body": request.data, "query": request.query_params.dict()}
    result = run_idempotently(
        workspace=request.auth.workspace,
        key=key,
        fingerprint=request_fingerprint(operation=operation, payload=payload),
        work=work,
    )
    body = {**result.body, "idempotent_replayed": True} if result.replayed else result.body
    return Response(body, status=result.status_code)
