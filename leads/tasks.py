from common.task_decorator import sluice_task
from leads.services import cohort_purge_expired


@sluice_task(name="leads.purge_expired_cohorts")
def purge_expired_cohorts() -> int:
    """Beat: deletes expired cohorts. Safe to run twice: a second run finds nothing to delete."""
    return cohort_purge_expired()
