"""The Enrich Leads API (docs/compatibility.md): its catalog, one start over a lead scope, and a
run's status, items and cancel, over the services the Cleanlist API uses."""

from typing import Any

from django.conf import settings
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import Direction, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts import scopes
from accounts.authentication import ApiRequest
from accounts.schema import ScopedAutoSchema
from common.api import idempotent_response
from common.context import current_request_id
from common.exceptions import ApplicationError, DispatchFailed, InsufficientCredits
from compat.enrichleads import catalog
from compat.views import DialectApiView
from enrichment import selectors
from enrichment.models import ItemStatus, Workflow, WorkflowStatus
from enrichment.results import Preview, Started
from enrichment.services import start
from enrichment.services.lifecycle import workflow_cancel
from leads.list_apis import PeopleSearchApi

# Sluice's workflow statuses as this API names them; the terminal ones are the same words.
_STATUS: dict[str, str] = {WorkflowStatus.PENDING: "queued"}
_SCOPE_TYPES = ("explicit_leads", "list", "filtered_list")
_NOT_FILTERS = ("limit", "cursor", "list_id")


def run_status(status: str) -> str:
    return _STATUS.get(status, status)


class ErrorSerializer(serializers.Serializer):
    """This API's error body: Sluice's error code in upper case; a 402 adds `required` and
    `balance`, a 502 the run it failed."""

    class Meta:
        ref_name = "EnrichLeadsError"

    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()
    requestId = serializers.CharField()  # noqa: N815
    # Declared fields move off the class (serializer metaclass): no shadowing of Field.required.
    required = serializers.IntegerField(required=False)  # type: ignore[assignment]
    balance = serializers.IntegerField(required=False)
    enrichmentRunId = serializers.CharField(required=False)  # noqa: N815
    runId = serializers.CharField(required=False)  # noqa: N815
    status = serializers.CharField(required=False)


class EnrichLeadsAutoSchema(ScopedAutoSchema):
    """Documents each operation's errors in this API's body and code names."""

    def _get_response_bodies(self, direction: Direction = "response") -> dict[str, Any]:
        # The success bodies as drf-spectacular documents them; the errors are ours.
        responses = AutoSchema._get_response_bodies(self, direction)
        for status, codes in sorted(self._error_statuses().items()):
            if str(status) in responses:
                continue
            response = self._get_response_for_code(
                ErrorSerializer, str(status), direction=direction
            )
            response["description"] = "Error codes: " + ", ".join(f"`{c.upper()}`" for c in codes)
            responses[str(status)] = response
        return responses


class EnrichLeadsApiView(DialectApiView):
    schema = EnrichLeadsAutoSchema()
    error_serializer = ErrorSerializer

    def render_error(self, error: ApplicationError) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": error.code.upper(),
            "message": error.message,
            "details": error.details,
            "requestId": current_request_id(),
        }
        if isinstance(error, InsufficientCredits):
            body.update(required=error.required, balance=error.balance)
        if isinstance(error, DispatchFailed) and "workflow_id" in error.details:
            run_id = error.details["workflow_id"]
            body.update(enrichmentRunId=run_id, runId=run_id, status="failed")
        return body


class _StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare: a misplaced field must not be silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


# --- Catalog ----------------------------------------------------------------------------------


class InputPropertySerializer(serializers.Serializer):
    type = serializers.CharField()
    description = serializers.CharField()


class InputSchemaSerializer(serializers.Serializer):
    """The JSON Schema of a start's `input`."""

    type = serializers.CharField()
    properties = serializers.DictField(child=InputPropertySerializer())
    # The JSON Schema keyword. The metaclass moves declared fields off the class, so this does
    # not shadow Field.required at run time; the stubs cannot know that.
    required = serializers.ListField(child=serializers.CharField())  # type: ignore[assignment]
    additionalProperties = serializers.BooleanField(source="additional_properties")  # noqa: N815


class EnrichmentSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    subject = serializers.ChoiceField(choices=[catalog.PERSON, catalog.COMPANY])
    creditAction = serializers.CharField(source="credit_action")  # noqa: N815
    creditsPerLead = serializers.IntegerField(  # noqa: N815
        source="credits_per_lead", help_text="The most one lead costs; only found data is charged."
    )
    inputSchema = InputSchemaSerializer(source="input_schema")  # noqa: N815


class EnrichmentsApi(EnrichLeadsApiView):
    """The enrichments a run can use: subject, price and the schema of their `input`."""

    required_scope = scopes.LISTS_READ

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "EnrichLeadsCatalog"

        enrichments = EnrichmentSerializer(many=True)

    @extend_schema(operation_id="get_enrichments", responses=OutputSerializer)
    def get(self, request: ApiRequest) -> Response:
        return Response(self.OutputSerializer({"enrichments": catalog.CATALOG}).data)


# --- Start ------------------------------------------------------------------------------------


class ScopeSerializer(_StrictSerializer):
    type = serializers.ChoiceField(choices=_SCOPE_TYPES)
    leadIds = serializers.ListField(  # noqa: N815
        child=serializers.CharField(max_length=64), required=False, max_length=10_000
    )
    listId = serializers.CharField(required=False, allow_null=True)  # noqa: N815
    filter = serializers.DictField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        needs = {
            "explicit_leads": ("leadIds",),
            "list": ("listId",),
            "filtered_list": ("listId", "filter"),
        }[attrs["type"]]
        missing = [name for name in needs if attrs.get(name) is None]
        if missing:
            raise serializers.ValidationError(
                {name: [f"Required for a {attrs['type']} scope."] for name in missing}
            )
        if "filter" in attrs:
            attrs["filter"] = _people_filters(attrs["filter"])
        return attrs


def _people_filters(data: dict[str, Any]) -> dict[str, Any]:
    """The people-search filter grammar (POST /api/v2/search/people), its filters only."""
    grammar = PeopleSearchApi.InputSerializer(data=data)
    unknown = sorted(set(data) - set(grammar.fields) | set(data) & set(_NOT_FILTERS))
    if unknown:
        raise serializers.ValidationError(
            {"filter": {name: ["Unknown filter."] for name in unknown}}
        )
    if not grammar.is_valid():
        raise serializers.ValidationError({"filter": grammar.errors})
    return grammar.filters()


class StartInputSerializer(serializers.Serializer):
    enrichmentId = serializers.CharField(min_length=1)  # noqa: N815
    scope = ScopeSerializer()
    input = serializers.DictField(required=False, default=dict)
    output = serializers.CharField(required=False, default=Workflow.Output.OVERWRITE)
    mode = serializers.ChoiceField(choices=["persisted", "preview"], default="persisted")
    idempotencyKey = serializers.CharField(  # noqa: N815
        required=False, allow_null=True, min_length=1, max_length=255
    )

    def validate_enrichmentId(self, value: str) -> catalog.Enrichment:  # noqa: N802
        enrichment = catalog.enrichment_find(value)
        if enrichment is None:
            known = ", ".join(entry.id for entry in catalog.CATALOG)
            raise serializers.ValidationError(f"Unknown enrichment; expected one of {known}.")
        return enrichment

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        schema = attrs["enrichmentId"].input_schema
        unknown = sorted(set(attrs["input"]) - set(schema.properties))
        if unknown and not schema.additional_properties:
            raise serializers.ValidationError(
                {"input": {name: ["Not in the enrichment's inputSchema."] for name in unknown}}
            )
        return attrs


class RunStartedSerializer(serializers.Serializer):
    enrichmentRunId = serializers.CharField(source="workflow.pk")  # noqa: N815
    runId = serializers.CharField(source="workflow.pk")  # noqa: N815
    enrichmentId = serializers.CharField(source="enrichment.id")  # noqa: N815
    mode = serializers.CharField(default="persisted")
    status = serializers.SerializerMethodField()
    reusedExistingRun = serializers.BooleanField(source="reused")  # noqa: N815
    leadCount = serializers.IntegerField(source="plan.to_enrich")  # noqa: N815
    scopeLeadCount = serializers.IntegerField(source="plan.total")  # noqa: N815
    skippedLeadCount = serializers.IntegerField(source="plan.already_enriched")  # noqa: N815
    creditAction = serializers.CharField(source="enrichment.credit_action")  # noqa: N815
    creditsReserved = serializers.IntegerField(source="workflow.credits_reserved")  # noqa: N815
    listId = serializers.CharField(source="workflow.lead_list_id", allow_null=True)  # noqa: N815
    createdAt = serializers.DateTimeField(source="workflow.created_at")  # noqa: N815

    def get_status(self, started: Any) -> str:
        return run_status(started["workflow"].status)


class PreviewSerializer(serializers.Serializer):
    """`mode: "preview"`: the resolved scope and its price; nothing was written or charged."""

    enrichmentRunId = serializers.CharField(allow_null=True, default=None)  # noqa: N815
    runId = serializers.CharField(allow_null=True, default=None)  # noqa: N815
    enrichmentId = serializers.CharField(source="enrichment.id")  # noqa: N815
    mode = serializers.CharField(default="preview")
    leadCount = serializers.IntegerField(source="plan.to_enrich")  # noqa: N815
    scopeLeadCount = serializers.IntegerField(source="plan.total")  # noqa: N815
    skippedLeadCount = serializers.IntegerField(source="plan.already_enriched")  # noqa: N815
    creditAction = serializers.CharField(source="enrichment.credit_action")  # noqa: N815
    creditsRequired = serializers.IntegerField(source="plan.credits_reserved")  # noqa: N815
    balance = serializers.IntegerField(source="plan.available_credits")
    sufficient = serializers.BooleanField(source="plan.sufficient")


class EnrichmentStartApi(EnrichLeadsApiView):
    """Starts an enrichment over a lead scope (or, with `mode: "preview"`, prices it and writes
    nothing). The answer comes at once; the run goes on in the background."""

    required_scope = scopes.ENRICH_WRITE
    error_codes = {
        400: ["empty_lead_scope", "subject_mismatch", "output_target_unsupported"],
        402: ["insufficient_credits"],
        404: ["not_found"],
        409: ["idempotency_conflict"],
        502: ["dispatch_failed"],
    }

    @extend_schema(
        operation_id="enrich_leads",
        request=StartInputSerializer,
        responses={202: RunStartedSerializer, 200: PreviewSerializer},
    )
    def post(self, request: ApiRequest) -> Response:
        body = StartInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        enrichment: catalog.Enrichment = data["enrichmentId"]
        enrichment_type = catalog.runnable_type(enrichment)
        data["output"] = catalog.output_mode(data["output"])
        preview = data["mode"] == "preview"

        def work() -> tuple[int, dict[str, Any]]:
            answer = _start(request, data, enrichment_type, preview=preview)
            if isinstance(answer, Preview):
                return 200, PreviewSerializer({"enrichment": enrichment, "plan": answer.plan}).data
            started = {
                "enrichment": enrichment,
                "workflow": answer.workflow,
                "plan": answer.plan,
                "reused": answer.reused,
            }
            return 202, RunStartedSerializer(started).data

        if preview:
            status, payload = work()
            return Response(payload, status=status)
        response = idempotent_response(
            request, operation="enrichleads_start", work=work, body_key=data.get("idempotencyKey")
        )
        if response.data.get("idempotent_replayed"):
            replay = {
                key: value for key, value in response.data.items() if key != "idempotent_replayed"
            }
            response.data = {**replay, "reusedExistingRun": True}
        return response


def _start(
    request: ApiRequest, data: dict[str, Any], enrichment_type: str, *, preview: bool
) -> Preview | Started:
    scope = data["scope"]
    workspace = request.auth.workspace
    if scope["type"] == "explicit_leads":
        return start.leads_enrichment_start(
            workspace=workspace,
            lead_ids=scope["leadIds"],
            enrichment_type=enrichment_type,
            output=data["output"],
            lead_list_id=scope.get("listId") or None,
            preview=preview,
        )
    if scope["type"] == "list":
        # This API has no quotes: the start is priced and held as it is made.
        return start.bulk_enrichment_start(
            workspace=workspace,
            list_id=scope["listId"],
            enrichment_type=enrichment_type,
            output=data["output"],
            quote_id=None,
            preview=preview,
            quote_required=False,
        )
    return start.filtered_list_enrichment_start(
        workspace=workspace,
        list_id=scope["listId"],
        filters=scope["filter"],
        enrichment_type=enrichment_type,
        output=data["output"],
        preview=preview,
    )


# --- A run ------------------------------------------------------------------------------------


class RunCountersSerializer(serializers.Serializer):
    processed = serializers.IntegerField()
    enriched = serializers.IntegerField(source="completed")
    notFound = serializers.IntegerField(source="not_found")  # noqa: N815
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    skippedExisting = serializers.IntegerField(source="skipped_existing")  # noqa: N815
    emailsFound = serializers.IntegerField(source="found_emails")  # noqa: N815
    phonesFound = serializers.IntegerField(source="found_phones")  # noqa: N815


class RunCreditsSerializer(serializers.Serializer):
    """Settled amounts exist once the run ended; before that they read 0."""

    reserved = serializers.IntegerField(source="credits_reserved")
    charged = serializers.SerializerMethodField()
    refunded = serializers.SerializerMethodField()
    creditAction = serializers.SerializerMethodField()  # noqa: N815

    def get_charged(self, workflow: Workflow) -> int:
        return workflow.credits_charged if workflow.is_terminal else 0

    def get_refunded(self, workflow: Workflow) -> int:
        return workflow.credits_refunded if workflow.is_terminal else 0

    def get_creditAction(self, workflow: Workflow) -> str:  # noqa: N802
        return catalog.enrichment_for_type(workflow.enrichment_type).credit_action


class RunSerializer(serializers.Serializer):
    enrichmentRunId = serializers.CharField(source="pk")  # noqa: N815
    runId = serializers.CharField(source="pk")  # noqa: N815
    enrichmentId = serializers.SerializerMethodField()  # noqa: N815
    status = serializers.SerializerMethodField()
    leadCount = serializers.IntegerField(source="total")  # noqa: N815
    progress = serializers.IntegerField()
    counters = RunCountersSerializer(source="*")
    credits = RunCreditsSerializer(source="*")
    listId = serializers.CharField(source="lead_list_id", allow_null=True)  # noqa: N815
    output = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)  # noqa: N815
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)  # noqa: N815

    def get_enrichmentId(self, workflow: Workflow) -> str:  # noqa: N802
        return catalog.enrichment_for_type(workflow.enrichment_type).id

    def get_status(self, workflow: Workflow) -> str:
        return run_status(workflow.status)

    def to_representation(self, instance: Workflow) -> dict[str, Any]:
        body = super().to_representation(instance)
        body["error"] = body["error"] or None
        return body


class EnrichmentRunApi(EnrichLeadsApiView):
    """A run's status, counters and credits; poll until completed, failed or cancelled."""

    required_scope = scopes.ENRICH_READ

    @extend_schema(operation_id="get_enrichment", responses=RunSerializer)
    def get(self, request: ApiRequest, run_id: str) -> Response:
        workflow = selectors.workflow_status_get(
            workspace=request.auth.workspace, workflow_id=run_id
        )
        headers = {}
        if not workflow.is_terminal:
            headers["Retry-After"] = str(settings.SLUICE_STATUS_RETRY_AFTER_SECONDS)
        return Response(RunSerializer(workflow).data, headers=headers)


class EnrichedLeadSerializer(serializers.Serializer):
    leadId = serializers.CharField(source="lead_id")  # noqa: N815
    status = serializers.CharField()
    email = serializers.CharField(allow_null=True)
    emailStatus = serializers.CharField(source="email_status", allow_null=True)  # noqa: N815
    emailConfidence = serializers.IntegerField(  # noqa: N815
        source="email_confidence", allow_null=True
    )
    phone = serializers.CharField(allow_null=True)
    provider = serializers.CharField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    creditsCharged = serializers.IntegerField(source="credits_charged")  # noqa: N815
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)  # noqa: N815

    def to_representation(self, instance: Any) -> dict[str, Any]:
        body = super().to_representation(instance)
        # Empty columns read as null, as the vendor's clients expect of a missing value.
        return {key: (None if value == "" else value) for key, value in body.items()}


class EnrichmentItemsApi(EnrichLeadsApiView):
    """A run's leads and what was found for each, oldest first, a page at a time."""

    required_scope = scopes.ENRICH_READ

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "EnrichLeadsItemsQuery"

        status = serializers.ChoiceField(choices=ItemStatus.values, required=False)
        limit = serializers.IntegerField(min_value=1, max_value=500, default=100)
        cursor = serializers.CharField(required=False)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "EnrichLeadsItems"

        enrichmentRunId = serializers.CharField()  # noqa: N815
        items = EnrichedLeadSerializer(many=True)
        nextCursor = serializers.CharField(allow_null=True)  # noqa: N815
        hasMore = serializers.BooleanField()  # noqa: N815

    @extend_schema(
        operation_id="get_enriched_leads",
        parameters=[
            OpenApiParameter("status", str, enum=ItemStatus.values),
            OpenApiParameter("limit", int),
            OpenApiParameter("cursor", str),
        ],
        responses=OutputSerializer,
    )
    def get(self, request: ApiRequest, run_id: str) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        workflow = selectors.workflow_get(workspace=request.auth.workspace, workflow_id=run_id)
        items, cursor = selectors.items_page(
            workflow=workflow,
            status=params.validated_data.get("status"),
            cursor=params.validated_data.get("cursor"),
            limit=params.validated_data["limit"],
        )
        body = {
            "enrichmentRunId": workflow.pk,
            "items": items,
            "nextCursor": cursor,
            "hasMore": cursor is not None,
        }
        return Response(self.OutputSerializer(body).data)


class EnrichmentCancelApi(EnrichLeadsApiView):
    """Stops a run: queued leads are cancelled, running ones finish, unused credits return."""

    required_scope = scopes.ENRICH_WRITE

    @extend_schema(operation_id="cancel_enrichment", request=None, responses=RunSerializer)
    def post(self, request: ApiRequest, run_id: str) -> Response:
        workflow = selectors.workflow_get(workspace=request.auth.workspace, workflow_id=run_id)
        workflow = workflow_cancel(workflow=workflow)
        workflow.refresh_from_db()
        return Response(RunSerializer(workflow).data)
