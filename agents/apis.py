"""The official SDK's smart-agent group: run, list, results (`credits_estimate` with tool
`run_smart_agent` is served by credits/apis.py, its rows counted by this app)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import scopes
from accounts.authentication import ApiRequest
from agents import selectors, services
from agents.models import AgentRun
from common.api import timestamp_ms
from credits.prices import AgentType
from enrichment.models import ItemStatus, WorkflowItem

_RUN_ERRORS = {
    400: [
        "validation_error",
        "approval_required",
        "model_not_configured",
        "spend_cap_exceeded",
        "empty_lead_scope",
    ],
    402: ["insufficient_credits"],
    404: ["not_found"],
    409: ["quote_expired", "quote_consumed", "quote_mismatch"],
    502: ["dispatch_failed"],
}


def _counts(run: AgentRun) -> dict[str, int]:
    """The SDK's counters: a lead whose column kept its earlier value succeeded (it has a
    value, no error); a lead with nothing to work from, a failed or a cancelled one failed."""
    workflow = run.workflow
    succeeded = workflow.completed + workflow.skipped
    return {
        "total": workflow.total,
        "processed": workflow.processed,
        "succeeded": succeeded,
        "failed": workflow.processed - succeeded,
    }


class SmartAgentRunSerializer(serializers.Serializer):
    """The SDK's `SmartAgentRun`."""

    class Meta:
        ref_name = "SmartAgentRun"

    task_id = serializers.CharField(source="pk")
    list_id = serializers.SerializerMethodField()
    column_name = serializers.CharField()
    agent_type = serializers.CharField()
    status = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    processed = serializers.SerializerMethodField()
    failed = serializers.SerializerMethodField()
    succeeded = serializers.SerializerMethodField()
    credits_charged = serializers.IntegerField(source="workflow.credits_charged")
    created_at = serializers.SerializerMethodField()

    def get_list_id(self, run: AgentRun) -> str:
        return str(run.lead_list_id or "")

    def get_status(self, run: AgentRun) -> str:
        return selectors.SDK_STATUS[run.workflow.status]

    def get_total(self, run: AgentRun) -> int:
        return _counts(run)["total"]

    def get_processed(self, run: AgentRun) -> int:
        return _counts(run)["processed"]

    def get_failed(self, run: AgentRun) -> int:
        return _counts(run)["failed"]

    def get_succeeded(self, run: AgentRun) -> int:
        return _counts(run)["succeeded"]

    def get_created_at(self, run: AgentRun) -> str:
        return run.created_at.isoformat().replace("+00:00", "Z")


class SmartAgentResultRowSerializer(serializers.Serializer):
    """The SDK's `SmartAgentResultRow`: one lead's value or its error."""

    class Meta:
        ref_name = "SmartAgentResultRow"

    lead_id = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    error = serializers.CharField(allow_null=True)

    def to_representation(self, item: WorkflowItem) -> dict:
        output = getattr(item, "agent_output", None)
        kept_or_done = item.status in (ItemStatus.COMPLETED, ItemStatus.SKIPPED)
        return {
            "lead_id": str(item.lead_id),
            "value": output.value if output is not None else None,
            "error": None if kept_or_done else (item.error or item.status),
        }


class SmartAgentRunApi(APIView):
    """Starts an agent over a list's leads; the quote from POST /credits/estimate (tool
    `run_smart_agent`, with the same list, agent type, column name and row count) pays."""

    required_scope = scopes.ENRICH_WRITE
    error_codes = _RUN_ERRORS

    class InputSerializer(serializers.Serializer):
        list_id = serializers.CharField(max_length=64)
        agent_type = serializers.ChoiceField(choices=AgentType.values, default=AgentType.CUSTOM_AI)
        prompt = serializers.CharField(
            required=False, allow_null=True, allow_blank=True, max_length=4000
        )
        column_name = serializers.CharField(min_length=1, max_length=100, trim_whitespace=False)
        lead_scope = serializers.ChoiceField(
            choices=AgentRun.LeadScope.values, default=AgentRun.LeadScope.SUBSET
        )
        max_rows = serializers.IntegerField(min_value=1, max_value=10000, default=100)
        quote_id = serializers.CharField(max_length=200)
        overwrite = serializers.BooleanField(default=False)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RunSmartAgentResponse"

        smart_agent_task_id = serializers.CharField()
        smart_agent_task_ids = serializers.DictField(child=serializers.CharField())
        task_id = serializers.CharField()
        status = serializers.CharField()
        list_id = serializers.CharField()
        column_name = serializers.CharField()
        agent_type = serializers.CharField()
        total = serializers.IntegerField()
        estimated_cost = serializers.IntegerField()
        credits_reserved = serializers.IntegerField()
        message = serializers.CharField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="run_smart_agent", request=InputSerializer, responses=OutputSerializer
    )
    def post(self, request: ApiRequest) -> Response:
        params = self.InputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        run = services.smart_agent_start(
            workspace=request.auth.workspace,
            api_key=request.auth,
            list_id=data["list_id"],
            agent_type=data["agent_type"],
            prompt=data.get("prompt"),
            column_name=data["column_name"],
            lead_scope=data["lead_scope"],
            max_rows=data["max_rows"],
            quote_id=data["quote_id"],
            overwrite=data["overwrite"],
        )
        workflow = run.workflow
        body = {
            "smart_agent_task_id": run.pk,
            "smart_agent_task_ids": {run.agent_type: run.pk},
            "task_id": run.pk,
            "status": "pending",
            "list_id": str(run.lead_list_id),
            "column_name": run.column_name,
            "agent_type": run.agent_type,
            "total": workflow.total,
            "estimated_cost": workflow.credits_reserved,
            "credits_reserved": workflow.credits_reserved,
            "message": (
                f"{run.agent_type} queued over {workflow.total} leads into column "
                f"{run.column_name!r}; poll GET /smart-agents/{run.pk}."
            ),
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.OutputSerializer(body).data)


class SmartAgentListApi(APIView):
    """Recent runs with live counters, most recent first."""

    required_scope = scopes.ENRICH_READ
    error_codes = {404: ["not_found"]}

    class InputSerializer(serializers.Serializer):
        list_id = serializers.CharField(required=False, max_length=64)
        limit = serializers.IntegerField(min_value=1, max_value=100, default=20)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ListSmartAgentsResponse"

        runs = SmartAgentRunSerializer(many=True)
        total = serializers.IntegerField(help_text="Runs in `runs` (bounded by `limit`).")
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="list_smart_agents", parameters=[InputSerializer], responses=OutputSerializer
    )
    def get(self, request: ApiRequest) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        runs = selectors.agent_runs_list(
            workspace=request.auth.workspace,
            list_id=params.validated_data.get("list_id"),
            limit=params.validated_data["limit"],
        )
        body = {"runs": runs, "total": len(runs), "timestamp_ms": timestamp_ms()}
        return Response(self.OutputSerializer(body).data)


class SmartAgentResultsApi(APIView):
    """A run's status, counters and per-lead results (growing while it runs)."""

    required_scope = scopes.ENRICH_READ
    error_codes = {404: ["not_found"]}

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SmartAgentResultsResponse"

        smart_agent_task_id = serializers.CharField()
        status = serializers.CharField(help_text="pending, processing, completed or failed.")
        progress = serializers.IntegerField()
        total = serializers.IntegerField()
        succeeded = serializers.IntegerField()
        failed = serializers.IntegerField()
        agent_type = serializers.CharField()
        column_name = serializers.CharField()
        credits_reserved = serializers.IntegerField()
        credits_charged = serializers.IntegerField()
        credits_refunded = serializers.IntegerField()
        results = SmartAgentResultRowSerializer(many=True)
        timestamp_ms = serializers.IntegerField()

    @extend_schema(operation_id="get_smart_agent_results", responses=OutputSerializer)
    def get(self, request: ApiRequest, smart_agent_task_id: str) -> Response:
        run = selectors.agent_run_get(workspace=request.auth.workspace, run_id=smart_agent_task_id)
        workflow = run.workflow
        counts = _counts(run)
        body = {
            "smart_agent_task_id": run.pk,
            "status": selectors.SDK_STATUS[workflow.status],
            "progress": workflow.progress,
            "total": counts["total"],
            "succeeded": counts["succeeded"],
            "failed": counts["failed"],
            "agent_type": run.agent_type,
            "column_name": run.column_name,
            "credits_reserved": workflow.credits_reserved,
            "credits_charged": workflow.credits_charged,
            "credits_refunded": workflow.credits_refunded,
            "results": selectors.agent_run_results(run=run),
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.OutputSerializer(body).data)
