import uuid

from django.db import models
from django.db.models import Q

from common.models import TimestampedModel


class Workspace(TimestampedModel):
    """A tenant: owns leads, lists, quotes, workflows, credits and API keys."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200, unique=True)
    tier = models.CharField(max_length=40, default="self_hosted")

    def __str__(self) -> str:
        return self.name


class ApiKey(TimestampedModel):
    """`clapi_<public id><secret>`: the prefix (`clapi_` + public id) is stored in clear for
    lookup and display; the full key only as a SHA-256 hash (keys are 256-bit random, so a fast
    hash is enough; there is nothing to brute-force)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True)
    prefix = models.CharField(max_length=32, unique=True)
    last4 = models.CharField(max_length=4)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="api_key_revoked_is_inactive",
                condition=Q(revoked_at__isnull=True) | Q(is_active=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}…{self.last4}"

    # DRF treats request.user as the principal; an API key is one.
    @property
    def is_authenticated(self) -> bool:
        return True


class ApiUsage(models.Model):
    """Request counts per key, day, route and status, bumped with one upsert per request."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    method = models.CharField(max_length=8)
    route = models.CharField(max_length=200)
    status_code = models.PositiveSmallIntegerField()
    error_code = models.CharField(max_length=64, blank=True, default="")
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "day", "method", "route", "status_code", "error_code"],
                name="api_usage_bucket_unique",
            ),
        ]
        indexes = [models.Index(fields=["workspace", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.method} {self.route} {self.status_code}: {self.calls}"
