"""The API's side of the errors in common.exceptions: DRF's and Django's own exceptions mapped
to them, and the one handler (settings.REST_FRAMEWORK's EXCEPTION_HANDLER) that renders every API
error in the documented shape.

Apart from common.exceptions because of what it imports: services and models raise those errors
in worker processes too, which have no use for DRF (some 4 MB of every worker process;
docs/operations.md, "Worker memory").
"""

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from common.exceptions import (
    ApplicationError,
    Forbidden,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    error_payload,
)

logger = logging.getLogger(__name__)


class ErrorResponse(Response):
    error_code: str  # read by the usage counter


def error_response(error: ApplicationError) -> ErrorResponse:
    response = ErrorResponse(error_payload(error), status=error.status_code, headers=error.headers)
    response.error_code = error.code
    return response


def _validation_details(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    return {"non_field_errors": _flatten(detail)}


def _flatten(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _flatten(item) for key, item in value.items()}
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return [str(item) for item in value]
        return [_flatten(item) for item in value]
    return [str(value)]


def _from_drf(exc: drf.APIException) -> ApplicationError:
    if isinstance(exc, drf.ValidationError):
        return ValidationFailed(details=_validation_details(exc.detail))
    if isinstance(exc, drf.ParseError):
        return ValidationFailed(f"Malformed request body: {exc.detail}")
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return Unauthorized(str(exc.detail) if isinstance(exc, drf.AuthenticationFailed) else None)
    if isinstance(exc, drf.PermissionDenied):
        return Forbidden(str(exc.detail))
    if isinstance(exc, drf.NotFound):
        return NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf.UnsupportedMediaType):
        return UnsupportedMediaType(str(exc.detail))
    if isinstance(exc, drf.Throttled):
        # DRF's Throttled sets `wait` (seconds, or None); its stub does not declare it.
        wait: float | None = exc.wait  # type: ignore[attr-defined]
        return RateLimited(retry_after_seconds=math.ceil(wait or 1))
    error = ApplicationError(str(exc.detail))
    error.status_code = exc.status_code
    error.code = exc.default_code if isinstance(exc.default_code, str) else "error"
    return error


def to_application_error(exc: Exception) -> ApplicationError | None:
    """Maps anything an API view can raise to an ApplicationError; None means unexpected."""
    if isinstance(exc, ApplicationError):
        return exc
    if isinstance(exc, Http404):
        return NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return Forbidden()
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, SuspiciousOperation):
        # Too many fields or files in the query string or a form body, a malformed multipart
        # boundary, …: Django answers these 400; inside DRF they would surface as 500.
        return ValidationFailed("The request is malformed (too many fields or files?).")
    if isinstance(exc, drf.APIException):
        return _from_drf(exc)
    return None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    error = to_application_error(exc)
    if error is None:
        logger.exception("Unhandled error in %s", context.get("view").__class__.__name__)
        error = InternalError()
    # Imported here: rest_framework.views loads the auth classes, which import services
    # that import this module.
    from rest_framework.views import set_rollback

    # Nothing half-written: an error never commits an enclosing atomic request.
    set_rollback()
    response = error_response(error)
    if isinstance(error, Unauthorized):
        response["WWW-Authenticate"] = 'Bearer realm="sluice"'
    return response
