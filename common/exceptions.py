"""Application errors and the one handler that renders every API error in the documented shape
(docs/api.md).

Services raise the typed errors below (or subclasses in an app's `exceptions.py`); views never
build error bodies themselves. The body is always

    {"error": {"code", "message", "details", "retryable", "request_id", ...}}

and the same request id is in the `X-Request-ID` header and the server's log line.
"""

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from common.context import current_request_id

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    status_code = 400
    code = "bad_request"
    default_message = "The request could not be processed."
    retryable = False

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        self.headers = headers or {}
        self.extra = extra  # optional Cleanlist fields: cause, fix, retry_after_ms, docs_url
        super().__init__(self.message)


class ValidationFailed(ApplicationError):
    code = "validation_error"
    default_message = "The request is not valid."


class SpendCapExceeded(ApplicationError):
    code = "spend_cap_exceeded"
    default_message = "The cost of this call is above the quote or max_credits."


class EmptyLeadScope(ApplicationError):
    code = "empty_lead_scope"
    default_message = "The scope resolves to no leads."


class Unauthorized(ApplicationError):
    status_code = 401
    code = "unauthorized"
    default_message = "A valid API key is required: send `Authorization: Bearer clapi_…`."


class InsufficientCredits(ApplicationError):
    status_code = 402
    code = "insufficient_credits"
    default_message = "Not enough credits for this operation."

    def __init__(self, *, required: int, balance: int, message: str | None = None) -> None:
        self.required = required
        self.balance = balance
        super().__init__(
            message or f"This operation needs {required} credits; {balance} are available.",
            details={"required": required, "balance": balance},
        )


class InsufficientScope(ApplicationError):
    status_code = 403
    code = "insufficient_scope"
    default_message = "This API key lacks the scope this operation needs."


class Forbidden(ApplicationError):
    status_code = 403
    code = "forbidden"
    default_message = "This operation is not allowed."


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class MethodNotAllowed(ApplicationError):
    status_code = 405
    code = "method_not_allowed"
    default_message = "This method is not allowed on this resource."


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_message = "This Idempotency-Key was used with another request, or is still in flight."
    retryable = True


class QuoteExpired(Conflict):
    code = "quote_expired"
    default_message = "The quote has expired; request a new one from /credits/estimate."


class QuoteConsumed(Conflict):
    code = "quote_consumed"
    default_message = "The quote has already been used."


class QuoteMismatch(Conflict):
    code = "quote_mismatch"
    default_message = "The quote was issued for another operation or parameters."


class PayloadTooLarge(ApplicationError):
    status_code = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaType(ApplicationError):
    status_code = 415
    code = "unsupported_media_type"
    default_message = "Unsupported Content-Type."


class RateLimited(ApplicationError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many requests."
    retryable = True

    def __init__(self, *, retry_after_seconds: int, message: str | None = None) -> None:
        retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(
            message or f"Too many requests; retry in {retry_after_seconds} s.",
            headers={"Retry-After": str(retry_after_seconds)},
            retry_after_ms=retry_after_seconds * 1000,
        )


class InternalError(ApplicationError):
    status_code = 500
    code = "internal_error"
    default_message = "Something went wrong on our side. Quote the request_id when reporting it."
    retryable = True


class DispatchFailed(ApplicationError):
    status_code = 502
    code = "dispatch_failed"
    default_message = (
        "The work was recorded but could not be queued; it is marked failed and the "
        "reservation released."
    )
    retryable = True


def error_payload(error: ApplicationError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": error.code,
        "message": error.message,
        "details": error.details,
        "retryable": error.retryable,
        "request_id": current_request_id(),
    }
    body.update(error.extra)
    return {"error": body}


class ErrorResponse(Response):
    error_code: str  # read by the usage counter


class ErrorJsonResponse(JsonResponse):
    error_code: str  # read by the usage counter


def error_response(error: ApplicationError) -> ErrorResponse:
    response = ErrorResponse(error_payload(error), status=error.status_code, headers=error.headers)
    response.error_code = error.code
    return response


def error_json_response(error: ApplicationError) -> ErrorJsonResponse:
    """For plain Django views and middleware, outside DRF."""
    response = ErrorJsonResponse(error_payload(error), status=error.status_code)
    response.error_code = error.code
    for name, value in error.headers.items():
        response[name] = value
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


def details_text(details: Any) -> str:
    """An error's details as a person reads them: `required: 31636, balance: 9315`, or
    `columns: Unknown column(s): nope.` for a field's messages."""
    if isinstance(details, dict):
        structured = any(isinstance(value, dict | list | tuple) for value in details.values())
        return ("; " if structured else ", ").join(
            f"{str(key).replace('_', ' ')}: {details_text(value)}" for key, value in details.items()
        )
    if isinstance(details, list | tuple):
        return " ".join(details_text(value) for value in details)
    return str(details)


def error_text(error: ApplicationError) -> str:
    """The error as a terminal shows it (the management commands): its message, then its
    details in words, never a Python dict."""
    return error.message + (f" ({details_text(error.details)})" if error.details else "")
