"""How long an enriched data point stays fresh (settings `SLUICE_TTL_*_DAYS`, docs/privacy.md).

A value found by a provider is stale once its `*_found_at` is older than its field's time to
live; an imported value (no `*_found_at`) is the user's own and never counts as stale."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

EMAIL, PHONE, COMPANY = "email", "phone", "company"
_SETTINGS = {
    EMAIL: "SLUICE_TTL_EMAIL_DAYS",
    PHONE: "SLUICE_TTL_PHONE_DAYS",
    COMPANY: "SLUICE_TTL_COMPANY_DAYS",
}


def ttl(field: str) -> timedelta:
    return timedelta(days=getattr(settings, _SETTINGS[field]))


def is_stale(field: str, found_at: datetime | None, *, now: datetime | None = None) -> bool:
    return found_at is not None and found_at < (now or timezone.now()) - ttl(field)


def stale_q(field: str, *, prefix: str = "", now: datetime | None = None) -> Q:
    """Leads whose `field` a provider found longer ago than its time to live."""
    return Q(**{f"{prefix}{field}_found_at__lt": (now or timezone.now()) - ttl(field)})
