from celery import shared_task

from credits.services import holds_expire as holds_expire_service
from credits.services import quotes_purge as quotes_purge_service


@shared_task(name="credits.tasks.holds_expire")
def holds_expire() -> int:
    """Beat: releases holds past their expires_at. Safe to run twice or concurrently: each
    hold is released under its row lock, and only while still open."""
    return holds_expire_service()


@shared_task(name="credits.tasks.quotes_purge")
def quotes_purge() -> int:
    return quotes_purge_service()
