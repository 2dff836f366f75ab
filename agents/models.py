from django.db import models

from accounts.models import Workspace
from common.models import TimestampedModel
from credits.prices import AgentType
from enrichment.models import Workflow, WorkflowItem
from leads.models import LeadList


class AgentRun(TimestampedModel):
    """What a smart-agent run does; its progress, claims, hold and settlement are its
    workflow's (kind `agent`), run by the enrichment machinery."""

    class LeadScope(models.TextChoices):
        SUBSET = "subset"
        ALL = "all"

    workflow = models.OneToOneField(
        Workflow, primary_key=True, on_delete=models.CASCADE, related_name="agent_run"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="agent_runs")
    lead_list = models.ForeignKey(
        LeadList, null=True, blank=True, on_delete=models.SET_NULL, related_name="agent_runs"
    )
    agent_type = models.CharField(max_length=32, choices=AgentType.choices)
    column_name = models.CharField(max_length=100)
    prompt = models.TextField(blank=True)
    lead_scope = models.CharField(max_length=10, choices=LeadScope.choices)
    max_rows = models.PositiveIntegerField(null=True, blank=True)
    overwrite = models.BooleanField(default=False)
    # The model that answered (empty for the deterministic types; `sandbox` is invented text).
    model_name = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="agent_run_recent"),
            models.Index(fields=["lead_list", "-created_at"], name="agent_run_list_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_type} → {self.column_name}"


class AgentOutput(models.Model):
    """One lead's value from a run (its error is the item's): what the run's results show,
    even where the list's column kept an earlier value (`overwrite: false`)."""

    item = models.OneToOneField(
        WorkflowItem, primary_key=True, on_delete=models.CASCADE, related_name="agent_output"
    )
    value = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return str(self.item_id)
