from django.conf import settings

from common.task_decorator import sluice_task
from credits.services import holds_expire, quotes_purge


@sluice_task(name="credits.expire_holds", queue=settings.SLUICE_HOUSEKEEPING_QUEUE)
def expire_holds() -> int:
    """Beat: releases holds past their expires_at. Safe to run twice or concurrently: each
    hold is released under its row lock, and only while still open."""
    return holds_expire()


@sluice_task(name="credits.purge_quotes", queue=settings.SLUICE_HOUSEKEEPING_QUEUE)
def purge_quotes() -> int:
    """Beat: deletes unused quotes that expired more than a day ago."""
    return quotes_purge()
