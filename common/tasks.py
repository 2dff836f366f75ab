from django.conf import settings

from common.idempotency import purge_expired
from common.task_decorator import sluice_task


@sluice_task(name="common.purge_idempotency_records", queue=settings.SLUICE_HOUSEKEEPING_QUEUE)
def purge_idempotency_records() -> int:
    """Beat: deletes Idempotency-Key records past their retention (common.idempotency). Safe to
    run twice: a second run finds nothing to delete."""
    return purge_expired()
