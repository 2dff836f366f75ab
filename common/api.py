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


def idempotent_response(request: Request, *, operation: str, work) -> "Response":
    """Runs `work()` (→ status, body) under the request's `Idempotency-Key` header (Stripe
    semantics, see common.idempotency); a replay carries `idempotent_replayed: true`."""
    from rest_framework.response import Response

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
