from common.task_decorator import sluice_task
from providers.services import cache_purge_expired


@sluice_task(name="providers.purge_expired_cache")
def purge_expired_cache() -> int:
    """Beat: deletes expired result-cache entries."""
    return cache_purge_expired()
