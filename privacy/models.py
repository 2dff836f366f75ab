import uuid

from django.db import models

from accounts.models import Workspace


class ErasureReceipt(models.Model):
    """What one erasure request removed, kept so it can be shown later. It names the person only
    by a keyed hash (`subject_digest`, leads.suppression.digest), never by value."""

    class Origin(models.TextChoices):
        API = "api"
        ADMIN = "admin"
        COMMAND = "command"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Null: an operator-wide erasure (every workspace), from the admin or the command.
    workspace = models.ForeignKey(
        Workspace, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    origin = models.CharField(max_length=10, choices=Origin.choices)
    # The identifier the request named: its kind (email, linkedin_url, phone, lead_id) and a
    # keyed hash of its value, so a repeated request finds this receipt.
    subject_kind = models.CharField(max_length=16)
    subject_digest = models.CharField(max_length=64, db_index=True)
    # Rows removed or scrubbed, per kind of record (docs/privacy.md).
    removed = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"erasure {self.id} ({self.created_at:%Y-%m-%d})"

    @property
    def total_removed(self) -> int:
        return sum(self.removed.values())
