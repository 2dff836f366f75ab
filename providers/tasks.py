from django.conf import settings

from common.task_decorator import sluice_task
from providers.rollups import call_rollup_advance
from providers.services import cache_purge_expired
from providers.waterfalls import auto_orders_refresh_all


@sluice_task(name="providers.purge_expired_cache", queue=settings.SLUICE_HOUSEKEEPING_QUEUE)
def purge_expired_cache() -> int:
    """Beat: deletes expired result-cache entries."""
    return cache_purge_expired()


@sluice_task(name="providers.refresh_auto_orders")
def refresh_auto_orders() -> int:
    """Beat: re-ranks the `auto` waterfalls from recent call records."""
    return auto_orders_refresh_all()


@sluice_task(name="providers.roll_up_calls")
def roll_up_calls() -> int:
    """Beat: counts the call records of closed hours for the analytics."""
    return call_rollup_advance()
