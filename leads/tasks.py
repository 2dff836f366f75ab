from django.conf import settings

from common.task_decorator import sluice_task
from leads.exports import exports_purge_expired
from leads.services import cohort_purge_expired


@sluice_task(name="leads.purge_expired_cohorts", queue=settings.SLUICE_HOUSEKEEPING_QUEUE)
def purge_expired_cohorts() -> int:
    """Beat: deletes expired cohorts. Safe to run twice: a second run finds nothing to delete."""
    return cohort_purge_expired()


@sluice_task(name="leads.purge_expired_exports", queue=settings.SLUICE_HOUSEKEEPING_QUEUE)
def purge_expired_exports() -> int:
    """Beat: deletes export files whose download links expired. Safe to run twice."""
    return exports_purge_expired()
