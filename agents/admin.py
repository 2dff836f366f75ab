from django.contrib import admin

from agents.llm import SANDBOX_MARK
from agents.models import AgentOutput, AgentRun


@admin.register(AgentRun)
class AgentRunAdmin(admin.ModelAdmin):
    """Runs with their workflow's live counters; the workflow page shows items, hold and
    settlement like any enrichment run's."""

    list_display = (
        "workflow",
        "workspace",
        "agent_type",
        "column_name",
        "status",
        "progress",
        "charged",
        "language_model",
        "created_at",
    )
    list_filter = ("agent_type", "workflow__status")
    search_fields = ("workflow__id", "column_name")
    raw_id_fields = ("workflow", "workspace", "lead_list")
    readonly_fields = (
        "workflow", "workspace", "lead_list", "agent_type", "column_name", "prompt", "lead_scope",
        "max_rows", "overwrite", "model_name", "created_at", "updated_at",
    )  # fmt: skip

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("workflow", "workspace")

    @admin.display(description="status")
    def status(self, obj: AgentRun) -> str:
        return obj.workflow.status

    @admin.display(description="processed")
    def progress(self, obj: AgentRun) -> str:
        return f"{obj.workflow.processed}/{obj.workflow.total}"

    @admin.display(description="credits charged")
    def charged(self, obj: AgentRun) -> int:
        return obj.workflow.credits_charged

    @admin.display(description="model")
    def language_model(self, obj: AgentRun) -> str:
        if obj.model_name == "sandbox":
            return f"sandbox {SANDBOX_MARK} (invented text)"
        return obj.model_name or "—"


@admin.register(AgentOutput)
class AgentOutputAdmin(admin.ModelAdmin):
    list_display = ("item", "value")
    raw_id_fields = ("item",)
    readonly_fields = ("item", "value")
