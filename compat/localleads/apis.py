"""LocalLeads' enrichment API (`/api/v1/enrichment`): its routes, bodies, envelope and status
names over the services the Cleanlist API calls. Every choice where the two differ is listed in
docs/compatibility.md (LocalLeads)."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.response import Response

from accounts import scopes
from accounts.authentication import ApiRequest
from accounts.permissions import ScopePermission
from common.api import idempotent_response
from common.exceptions import ApplicationError, ValidationFailed, error_text
from compat.views import DialectApiView
from credits import selectors as credit_selectors
from credits.prices import EnrichmentType
from enrichment import selectors
from enrichment.models import Workflow, WorkflowStatus
from enrichment.results import Preview, Started
from enrichment.services.start import leads_enrichment_start
from leads.models import Cohort, Lead
from leads.selectors import cohort_get, cohort_select_ids, lead_get

# LocalLeads has four job states; a cancelled run is over without its results, which its
# clients (poll until COMPLETED or FAILED) can only read as FAILED.
JOB_STATUS: dict[str, str] = {
    WorkflowStatus.PENDING: "PENDING",
    WorkflowStatus.RUNNING: "PROCESSING",
    WorkflowStatus.COMPLETED: "COMPLETED",
    WorkflowStatus.FAILED: "FAILED",
    WorkflowStatus.CANCELLED: "FAILED",
}
MAX_LEAD_IDS = 2000  # as many as Cleanlist's by-task `entity_ids`
MAX_JOBS = 200  # as the Cleanlist jobs list
_MONEY_ERRORS = {
    400: ["EMPTY_LEAD_SCOPE"],
    402: ["INSUFFICIENT_CREDITS"],
    404: ["NOT_FOUND"],
}


class LocalLeadsErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class LocalLeadsErrorSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    error = LocalLeadsErrorBodySerializer()


# One address found for a lead. Built with type(): a declared field named `source` would shadow
# `Field.source` for the type checker (at run time the metaclass moves it off the class).
EmailSerializer = type(
    "LocalLeadsEmail",
    (serializers.Serializer,),
    {
        "email": serializers.CharField(),
        "confidence": serializers.FloatField(allow_null=True),
        "source": serializers.CharField(allow_null=True),
    },
)


class LocalLeadsApiView(DialectApiView):
    error_serializer = LocalLeadsErrorSerializer

    def render_error(self, error: ApplicationError) -> dict[str, Any]:
        # Sluice's code in LocalLeads' upper-case style; details, if any, in the message.
        return {
            "success": False,
            "error": {"code": error.code.upper(), "message": error_text(error)},
        }


def enveloped(
    data_serializer: type[serializers.Serializer], many: bool = False
) -> type[serializers.Serializer]:
    """The success body `{"success": true, "data": ...}` around a view's `Data`; built with
    type() since a declared field named `data` would shadow `Serializer.data` for the type
    checker."""
    name = data_serializer.__qualname__.replace("Api.Data", "Output")
    fields = {"success": serializers.BooleanField(), "data": data_serializer(many=many)}
    return type(name, (serializers.Serializer,), fields)


def _envelope(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


class ScopeInputSerializer(serializers.Serializer):
    """The leads a preview or start is about: a search's or list page's handle, or lead ids."""

    queryId = serializers.CharField(required=False, max_length=64)  # noqa: N815 - vendor's name
    leadIds = serializers.ListField(  # noqa: N815 - vendor's name
        child=serializers.CharField(max_length=64),
        required=False,
        min_length=1,
        max_length=MAX_LEAD_IDS,
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("queryId" in attrs) == ("leadIds" in attrs):
            raise serializers.ValidationError("Provide exactly one of queryId and leadIds.")
        return attrs


def _lead_ids(request: ApiRequest, data: dict[str, Any]) -> list[str]:
    if "leadIds" in data:
        return list(data["leadIds"])
    cohort = cohort_get(workspace=request.auth.workspace, task_id=data["queryId"])
    if cohort.entity_kind != Cohort.EntityKind.PERSON:
        raise ValidationFailed(
            "queryId names a company search; enrichment finds people's emails.",
            details={"queryId": [data["queryId"]]},
        )
    return cohort_select_ids(cohort=cohort, entity_ids=None)


def _validated(serializer_class: type[serializers.Serializer], request: ApiRequest) -> Any:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class LocalLeadsPreviewApi(LocalLeadsApiView):
    """What enriching the leads would cost; nothing is written or reserved."""

    required_scope = scopes.ENRICH_WRITE
    error_codes = _MONEY_ERRORS

    class InputSerializer(ScopeInputSerializer):
        pass

    class Data(serializers.Serializer):
        totalLeads = serializers.IntegerField(source="total")  # noqa: N815
        alreadyEnriched = serializers.IntegerField(source="already_enriched")  # noqa: N815
        toEnrich = serializers.IntegerField(source="to_enrich")  # noqa: N815
        estimatedCredits = serializers.IntegerField(source="estimated_cost")  # noqa: N815
        availableCredits = serializers.IntegerField(source="available_credits")  # noqa: N815

    OutputSerializer = enveloped(Data)

    @extend_schema(operation_id="preview", request=InputSerializer, responses=OutputSerializer)
    def post(self, request: ApiRequest) -> Response:
        data = _validated(self.InputSerializer, request)
        preview = leads_enrichment_start(
            workspace=request.auth.workspace,
            lead_ids=_lead_ids(request, data),
            enrichment_type=EnrichmentType.PARTIAL,
            output=Workflow.Output.SKIP_EXISTING,
            preview=True,
        )
        assert isinstance(preview, Preview)
        return Response(self.OutputSerializer(_envelope(preview.plan)).data)


class LocalLeadsStartApi(LocalLeadsApiView):
    """Queues the enrichment and reserves its credits at once."""

    required_scope = scopes.ENRICH_WRITE
    error_codes = {**_MONEY_ERRORS, 409: ["IDEMPOTENCY_CONFLICT"], 502: ["DISPATCH_FAILED"]}

    class InputSerializer(ScopeInputSerializer):
        maxCredits = serializers.IntegerField(required=False, allow_null=True, min_value=1)  # noqa: N815

    class Data(serializers.Serializer):
        jobId = serializers.CharField(source="workflow.pk")  # noqa: N815
        leadsQueued = serializers.IntegerField(source="workflow.total")  # noqa: N815
        creditsReserved = serializers.IntegerField(source="workflow.credits_reserved")  # noqa: N815

    OutputSerializer = enveloped(Data)

    @extend_schema(operation_id="start", request=InputSerializer, responses=OutputSerializer)
    def post(self, request: ApiRequest) -> Response:
        data = _validated(self.InputSerializer, request)
        workspace = request.auth.workspace

        def work() -> tuple[int, dict[str, Any]]:
            max_credits = data.get("maxCredits")
            if max_credits is None:
                # LocalLeads' default cap is the whole available balance. With nothing
                # available there is no cap to give: the start's own check answers 402.
                max_credits = credit_selectors.balance_get(workspace=workspace).available or None
            started = leads_enrichment_start(
                workspace=workspace,
                lead_ids=_lead_ids(request, data),
                enrichment_type=EnrichmentType.PARTIAL,
                output=Workflow.Output.SKIP_EXISTING,
                max_credits=max_credits,
            )
            assert isinstance(started, Started)
            return 200, self.OutputSerializer(_envelope(started)).data

        return idempotent_response(request, operation="localleads_start", work=work)


class LocalLeadsStatusApi(LocalLeadsApiView):
    required_scope = scopes.ENRICH_READ

    class Data(serializers.Serializer):
        jobId = serializers.CharField(source="pk")  # noqa: N815
        status = serializers.SerializerMethodField()
        progress = serializers.IntegerField()
        processedLeads = serializers.IntegerField(source="processed")  # noqa: N815
        totalLeads = serializers.IntegerField(source="total")  # noqa: N815
        foundEmails = serializers.IntegerField(source="found_emails")  # noqa: N815

        @extend_schema_field(serializers.ChoiceField(choices=sorted(set(JOB_STATUS.values()))))
        def get_status(self, workflow: Workflow) -> str:
            return JOB_STATUS[workflow.status]

    OutputSerializer = enveloped(Data)

    @extend_schema(operation_id="status", responses=OutputSerializer)
    def get(self, request: ApiRequest, job_id: str) -> Response:
        workflow = selectors.workflow_status_get(
            workspace=request.auth.workspace, workflow_id=job_id
        )
        return Response(self.OutputSerializer(_envelope(workflow)).data)


class LocalLeadsLeadApi(LocalLeadsApiView):
    required_scope = scopes.ENRICH_READ

    class Data(serializers.Serializer):
        leadId = serializers.CharField(source="pk")  # noqa: N815
        emails = serializers.SerializerMethodField()
        enrichedAt = serializers.DateTimeField(source="enriched_at", allow_null=True)  # noqa: N815

        @extend_schema_field(EmailSerializer(many=True))
        def get_emails(self, lead: Lead) -> list[dict[str, Any]]:
            if not lead.email:
                return []
            confidence = lead.email_confidence
            email = {
                "email": lead.email,
                # Sluice scores 0-100; LocalLeads 0-1.
                "confidence": None if confidence is None else confidence / 100,
                "source": lead.provider or None,
            }
            return [EmailSerializer(email).data]

    OutputSerializer = enveloped(Data)

    @extend_schema(operation_id="lead", responses=OutputSerializer)
    def get(self, request: ApiRequest, lead_id: str) -> Response:
        lead = lead_get(workspace=request.auth.workspace, lead_id=lead_id)
        return Response(self.OutputSerializer(_envelope(lead)).data)


class LocalLeadsJobsApi(LocalLeadsApiView):
    """The workspace's enrichment runs still pending or running, newest first."""

    required_scope = scopes.ENRICH_READ

    class Data(serializers.Serializer):
        jobId = serializers.CharField(source="pk")  # noqa: N815
        progress = serializers.IntegerField()
        leadCount = serializers.IntegerField(source="total")  # noqa: N815
        type = serializers.SerializerMethodField()

        @extend_schema_field(serializers.ChoiceField(choices=["enrichment"]))
        def get_type(self, workflow: Workflow) -> str:
            return "enrichment"

    OutputSerializer = enveloped(Data, many=True)

    @extend_schema(operation_id="jobs", responses=OutputSerializer)
    def get(self, request: ApiRequest) -> Response:
        jobs = list(selectors.jobs_active(workspace=request.auth.workspace)[:MAX_JOBS])
        return Response(self.OutputSerializer(_envelope(jobs)).data)


class LocalLeadsSchemaApi(SpectacularAPIView):
    required_scope = scopes.PUBLIC
    authentication_classes = []
    permission_classes = [ScopePermission]
    throttle_classes = []
