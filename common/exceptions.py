"""Application errors and their body, in the documented shape (docs/api.md); the handler that
renders them for the API is in common.api_errors.

Services raise the typed errors below (or subclasses in an app's `exceptions.py`); views never
build error bodies themselves. The body is always

    {"error": {"code", "message", "details", "retryable", "request_id", ...}}

and the same request id is in the `X-Request-ID` header and the server's log line.
"""

from typing import Any

from django.http import JsonResponse

from common.context import current_request_id


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


class ErrorJsonResponse(JsonResponse):
    error_code: str  # read by the usage counter


def error_json_response(error: ApplicationError) -> ErrorJsonResponse:
    """For plain Django views and middleware, outside DRF."""
    response = ErrorJsonResponse(error_payload(error), status=error.status_code)
    response.error_code = error.code
    for name, value in error.headers.items():
        response[name] = value
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
