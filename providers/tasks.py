from celery import shared_task

from providers.services import cache_purge_expired


@shared_task(name="providers.purge_expired_cache", ignore_result=True)
def purge_expired_cache() -> int:
    return cache_purge_expired()
