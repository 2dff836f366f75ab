"""OpenAPI generation: every operation documents its scope and the error codes it can answer."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import Direction
from rest_framework.serializers import Serializer

from accounts.scopes import ANY_SCOPE, PUBLIC, required_scope_for
from common.schema import ErrorResponseSerializer

_AUTHENTICATED_ERRORS = {
    400: ["validation_error"],
    401: ["unauthorized"],
    403: ["insufficient_scope"],
    429: ["rate_limited"],
    500: ["internal_error"],
}


class ScopedAutoSchema(AutoSchema):
    """Views may add `error_codes = {409: ["quote_expired", …]}` for their own errors."""

    def _scope(self) -> str:
        return required_scope_for(self.view, self.method)

    # drf-spectacular's AutoSchema drops the (path, method) arguments of DRF's ViewInspector
    # here and ignores the mismatch in its own code too.
    def get_description(self) -> str:  # type: ignore[override]
        description = super().get_description() or ""
        scope = self._scope()
        if scope == PUBLIC:
            note = "No authentication."
        elif scope == ANY_SCOPE:
            note = "**Scope:** any valid API key."
        else:
            note = f"**Scope:** `{scope}`."
        return f"{description}\n\n{note}".strip()

    def get_serializer_name(self, serializer: Serializer, direction: Direction) -> str:
        # Views nest `InputSerializer` / `OutputSerializer` (STYLE.md); named by the bare class
        # name, every view's `Output` would be one component and all but one schema wrong.
        qualname = serializer.__class__.__qualname__
        if "." in qualname:
            return qualname.replace("Api.", "").replace(".", "")
        return super().get_serializer_name(serializer, direction)

    def get_auth(self) -> list[dict[str, Any]]:
        return [] if self._scope() == PUBLIC else super().get_auth()

    def _error_statuses(self) -> dict[int, list[str]]:
        if self._scope() == PUBLIC:
            return {}
        statuses = {status: list(codes) for status, codes in _AUTHENTICATED_ERRORS.items()}
        if "{" in self.path:
            statuses[404] = ["not_found"]
        for status, codes in getattr(self.view, "error_codes", {}).items():
            statuses.setdefault(status, []).extend(codes)
        return statuses

    def _get_response_bodies(self, direction: Direction = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status, codes in sorted(self._error_statuses().items()):
            if str(status) in responses:
                continue
            response = self._get_response_for_code(
                ErrorResponseSerializer, str(status), direction=direction
            )
            response["description"] = "Error codes: " + ", ".join(f"`{c}`" for c in codes)
            responses[str(status)] = response
        return responses
