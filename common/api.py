"""Small helpers shared by every API view."""

import time
from collections.abc import Callable
from typing import Any, Protocol

from django.conf import settings
from django.db.models import Model
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.exceptions import ValidationFailed

API_PREFIXES = {"v1": "/api/v1/public", "v2": "/api/v2"}


class WorkspaceCredential(Protocol):
    """What authenticated a request, as far as these helpers need it: the workspace it acts
    for. accounts' ApiKey is one (common imports no app, so it cannot name it)."""

    @property
    def workspace(self) -> Model: ...


class WorkspaceRequest(Request):
    """A request authenticated for a workspace; accounts.authentication.ApiRequest narrows
    `auth` to the ApiKey. A type for annotations only; DRF builds a plain Request."""

    auth: WorkspaceCredential


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
# create_list) and hands the caller None for any other 2xx. Cleanlist's prose docs (and ours)
# give 202 / 200 there. We answer the SDK with the status it can parse and everyone else with
# the documented one; docs/api.md records each case.
_SDK_USER_AGENT_PREFIX = "OpenAPI-Generator/"


def status_for_client(request: Request, documented: int, *, sdk: int) -> int:
    user_agent = request.headers.get("User-Agent", "")
    return sdk if user_agent.startswith(_SDK_USER_AGENT_PREFIX) else documented


def idempotency_key_of(request: Request, body_key: str | None = None) -> str | None:
    """The request's idempotency key: the `Idempotency-Key` header, or Cleanlist's
    `idempotency_key` body field; both given and different is a 400."""
    from common.idempotency import validate_key

    header_key = validate_key(request.headers.get("Idempotency-Key"))
    body_key = validate_key(body_key)
    if header_key and body_key and header_key != body_key:
        raise ValidationFailed(
            details={"idempotency_key": ["Differs from the Idempotency-Key header."]}
        )
    return header_key or body_key


def idempotent_response(
    request: WorkspaceRequest,
    *,
    operation: str,
    work: Callable[[], tuple[int, dict[str, Any]]],
    payload: Any = None,
    body_key: str | None = None,
) -> Response:
    """Runs `work()` (→ status, body) at most once per idempotency key (Stripe semantics, see
    common.idempotency); a replay carries `idempotent_replayed: true`. The fingerprint covers
    `payload` (default: the body and query string)."""
    from common.idempotency import request_fingerprint, run_idempotently

    if payload is None:
        payload = {"body": request.data, "query": request.query_params.dict()}
    result = run_idempotently(
        workspace=request.auth.workspace,
        key=idempotency_key_of(request, body_key),
        fingerprint=request_fingerprint(operation=operation, payload=payload),
        work=work,
    )
    body = {**result.body, "idempotent_replayed": True} if result.replayed else result.body
    return Response(body, status=result.status_code)


def reject_unknown_fields(data: Any, serializer_class: type[serializers.Serializer]) -> None:
    """For bodies where a typo must not be silently ignored (a PATCH that changes nothing, a
    search that filters on nothing, a configuration PUT that would reset what it misspells)."""
    if not isinstance(data, dict):
        return  # the serializer reports the wrong type
    unknown = sorted(set(data) - set(serializer_class().fields))
    if unknown:
        raise ValidationFailed(details={field: ["Unknown field."] for field in unknown})
