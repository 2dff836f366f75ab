from common.exceptions import ApplicationError, IdempotencyConflict, ValidationFailed


class ChargeExceedsHold(ValidationFailed):
    default_message = "A hold cannot charge more than it reserved."


class ReferenceConflict(IdempotencyConflict):
    """The same idempotency reference was used for a different movement."""

    default_message = "This reference was already used for a different credit movement."
    retryable = False


class LedgerInvariantBroken(ApplicationError):
    """A movement that the cached totals say is impossible; never expected, never swallowed."""

    status_code = 500
    code = "internal_error"
    default_message = "The credit ledger refused an inconsistent movement."
