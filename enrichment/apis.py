from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import models
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import scopes
from accounts.authentication import ApiRequest
from common.api import absolute_url, idempotent_response, status_for_client, timestamp_ms
from common.exceptions import NotFound
from common.serializers import BlankAsNullCharField
from credits import prices
from credits.models import Tool
from credits.prices import EnrichmentType
from enrichment import selectors
from enrichment.models import ItemStatus, WebhookEndpoint, Workflow
from enrichment.results import CompanyCohortEnriched, Preview, Started
from enrichment.serializers import WorkflowJobSerializer, WorkflowStatusSerializer
from enrichment.services import company as company_services
from enrichment.services import start, webhooks
from enrichment.services.lifecycle import workflow_cancel
from leads.list_apis import CompanySerializer
from leads.models import Lead

_MONEY_ERRORS = {
    400: ["spend_cap_exceeded", "empty_lead_scope"],
    402: ["insufficient_credits"],
    404: ["not_found"],
    409: ["idempotency_conflict", "quote_expired", "quote_consumed", "quote_mismatch"],
    502: ["dispatch_failed"],
}
_MODE_PARAMETER = OpenApiParameter(
    "mode", str, enum=["persisted", "preview"], description="`preview` plans and prices, free."
)
Work = Callable[[], tuple[int, dict[str, Any]]]


class EnrichmentTypeField(serializers.CharField):
    """partial | phone_only (or phone-only) | full, normalised in one place (credits.prices)."""

    def to_internal_value(self, data: Any) -> str:
        return prices.normalize_enrichment_type(super().to_internal_value(data))


class PreviewSerializer(serializers.Serializer):
    """`?mode=preview`: what the start would do and cost; nothing is written."""

    mode = serializers.CharField(default="preview")
    tool = serializers.CharField()
    enrichment_type = serializers.CharField(source="plan.enrichment_type")
    total = serializers.IntegerField(source="plan.total")
    already_enriched = serializers.IntegerField(source="plan.already_enriched")
    to_enrich = serializers.IntegerField(source="plan.to_enrich")
    estimated_cost = serializers.IntegerField(source="plan.estimated_cost")
    credits_reserved = serializers.IntegerField(source="plan.credits_reserved")
    available_credits = serializers.IntegerField(source="plan.available_credits")
    sufficient = serializers.BooleanField(source="plan.sufficient")
    timestamp_ms = serializers.IntegerField()


def _is_preview(request: Request) -> bool:
    mode = request.query_params.get("mode", "persisted")
    if mode not in ("persisted", "preview"):
        raise serializers.ValidationError({"mode": ["Expected persisted or preview."]})
    return mode == "preview"


def _preview_response(preview: Preview, tool: str) -> tuple[int, dict[str, Any]]:
    body = {"mode": "preview", "tool": tool, "plan": preview.plan, "timestamp_ms": timestamp_ms()}
    return 200, PreviewSerializer(body).data


def _start_response(request: ApiRequest, *, operation: str, work: Work, preview: bool) -> Response:
    """A preview creates nothing, so it needs no idempotency; a real start runs under the
    request's Idempotency-Key."""
    if preview:
        status, body = work()
        return Response(body, status=status)
    return idempotent_response(request, operation=operation, work=work)


def _poll_url(request: Request, workflow: Workflow) -> str:
    return absolute_url(request, f"enrichment/status/{workflow.pk}")


def _lead_column_field(name: str) -> serializers.CharField:
    """An optional person field no longer than the Lead column it lands in."""
    column = Lead._meta.get_field(name)
    assert isinstance(column, models.CharField)
    return serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=column.max_length
    )


class PersonEnrichmentStartApi(APIView):
    required_scope = scopes.ENRICH_WRITE
    error_codes = _MONEY_ERRORS

    class InputSerializer(serializers.Serializer):
        lead_list_id = serializers.CharField()
        # Bounded like the Lead columns they land in.
        email = _lead_column_field("email")
        linkedin_url = _lead_column_field("linkedin_url")
        person_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
        first_name = _lead_column_field("first_name")
        last_name = _lead_column_field("last_name")
        company_name = _lead_column_field("company_name")
        domain = _lead_column_field("domain")
        phone = serializers.CharField(required=False, allow_blank=True, allow_null=True)
        enrichment_type = EnrichmentTypeField(required=False, allow_null=True)
        include_phone = serializers.BooleanField(required=False, allow_null=True)
        quote_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
        # refresh_stale: only what the lead lacks or holds past its time to live (docs/privacy.md).
        output = serializers.ChoiceField(
            choices=[Workflow.Output.OVERWRITE, Workflow.Output.REFRESH_STALE],
            default=Workflow.Output.OVERWRITE,
        )

    class OutputSerializer(serializers.Serializer):
        workflow_id = serializers.CharField()
        status = serializers.CharField()
        credits_reserved = serializers.IntegerField()
        lead_list_id = serializers.CharField()
        poll_url = serializers.CharField()
        reused = serializers.BooleanField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="enrich_person",
        request=InputSerializer,
        responses={202: OutputSerializer},
        parameters=[_MODE_PARAMETER],
    )
    def post(self, request: ApiRequest) -> Response:
        data = _validated(self.InputSerializer, request)
        preview = _is_preview(request)
        enrichment_type = prices.resolve_enrichment_type(
            enrichment_type=data.get("enrichment_type"), include_phone=data.get("include_phone")
        )

        def work() -> tuple[int, dict[str, Any]]:
            started = start.person_enrichment_start(
                workspace=request.auth.workspace,
                lead_list_id=data["lead_list_id"],
                person=data,
                enrichment_type=enrichment_type,
                quote_id=data.get("quote_id") or None,
                preview=preview,
                output=data["output"],
            )
            if isinstance(started, Preview):
                return _preview_response(started, Tool.ENRICH_PERSON)
            workflow = started.workflow
            body = {
                "workflow_id": workflow.pk,
                "status": workflow.status,
                # A reused run reserved nothing for this call.
                "credits_reserved": 0 if started.reused else workflow.credits_reserved,
                "lead_list_id": str(workflow.lead_list_id or data["lead_list_id"]),
                "poll_url": _poll_url(request, workflow),
                "reused": started.reused,
                "timestamp_ms": timestamp_ms(),
            }
            return status_for_client(request, 202, sdk=200), self.OutputSerializer(body).data

        return _start_response(request, operation="enrich_person", work=work, preview=preview)


class CompanyEnrichmentApi(APIView):
    required_scope = scopes.ENRICH_WRITE
    error_codes = {
        402: ["insufficient_credits"],
        404: ["not_found"],
        409: ["idempotency_conflict"],
    }

    class InputSerializer(serializers.Serializer):
        # The bounds of the Company columns these land in.
        domain = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, max_length=253
        )
        company_name = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, max_length=300
        )
        company_ticker = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, max_length=20
        )
        company_id = serializers.CharField(
            required=False, allow_blank=True, allow_null=True, max_length=64
        )
        quote_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)

        def validate(self, attrs):
            keys = ("domain", "company_name", "company_ticker", "company_id")
            if not any(attrs.get(key) for key in keys):
                raise serializers.ValidationError(
                    {"non_field_errors": [f"Give one of {', '.join(keys)}."]}
                )
            return attrs

    class OutputSerializer(serializers.Serializer):
        company = CompanySerializer()
        credits_charged = serializers.IntegerField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="enrich_company", request=InputSerializer, responses=OutputSerializer
    )
    def post(self, request: ApiRequest) -> Response:
        data = _validated(self.InputSerializer, request)

        def work() -> tuple[int, dict[str, Any]]:
            company = company_services.company_enrich(workspace=request.auth.workspace, query=data)
            body = {
                "company": company,
                "credits_charged": prices.company_cost(),
                "timestamp_ms": timestamp_ms(),
            }
            return 200, self.OutputSerializer(body).data

        return idempotent_response(request, operation="enrich_company", work=work)


class TaskResultSerializer(serializers.Serializer):
    """One entity of a by-task start: queued for a person run, settled for a company."""

    entity_id = serializers.CharField()
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    company = CompanySerializer(allow_null=True)


class TaskEnrichmentStartApi(APIView):
    required_scope = scopes.ENRICH_WRITE
    error_codes = _MONEY_ERRORS

    class InputSerializer(serializers.Serializer):
        task_id = serializers.CharField()
        data_points = serializers.ListField(
            child=serializers.ChoiceField(
                choices=[
                    "Email",
                    "Phone",
                    "LinkedIn",
                    "Industry",
                    "Employees",
                    "Revenue",
                    "Funding",
                    "TechStack",
                    "Domain",
                ]
            ),
            min_length=1,
        )
        entity_ids = serializers.ListField(
            child=serializers.CharField(), required=False, allow_null=True, max_length=2000
        )
        lead_list_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
        quote_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
        max_credits = serializers.IntegerField(required=False, allow_null=True, min_value=1)

    class StartedSerializer(serializers.Serializer):
        """A person cohort: a queued run, one queued row per lead."""

        task_id = serializers.CharField()
        entity_kind = serializers.CharField()
        workflow_id = serializers.CharField()
        status = serializers.CharField()
        total_entities = serializers.IntegerField()
        credits_reserved = serializers.IntegerField()
        lead_list_id = serializers.CharField()
        poll_url = serializers.CharField()
        results = TaskResultSerializer(many=True)
        timestamp_ms = serializers.IntegerField()

    class CompanyCohortSerializer(serializers.Serializer):
        """A company cohort, answered inline: every lookup settled, no workflow."""

        task_id = serializers.CharField()
        entity_kind = serializers.CharField()
        workflow_id = serializers.CharField(allow_null=True)
        status = serializers.CharField()
        total_entities = serializers.IntegerField()
        credits_reserved = serializers.IntegerField()
        credits_charged = serializers.IntegerField()
        results = TaskResultSerializer(many=True)
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="enrich_by_task",
        request=InputSerializer,
        responses={
            202: StartedSerializer,
            200: PolymorphicProxySerializer(
                component_name="EnrichByTaskAnswer",
                serializers=[StartedSerializer, CompanyCohortSerializer, PreviewSerializer],
                resource_type_field_name=None,
            ),
        },
        parameters=[_MODE_PARAMETER],
    )
    def post(self, request: ApiRequest) -> Response:
        data = _validated(self.InputSerializer, request)
        preview = _is_preview(request)

        def work() -> tuple[int, dict[str, Any]]:
            answer = start.task_enrichment_start(
                workspace=request.auth.workspace,
                task_id=data["task_id"],
                data_points=data["data_points"],
                entity_ids=data.get("entity_ids"),
                lead_list_id=data.get("lead_list_id") or None,
                quote_id=data.get("quote_id") or None,
                max_credits=data.get("max_credits"),
                preview=preview,
            )
            if isinstance(answer, Preview):
                return _preview_response(answer, Tool.ENRICH_TASK)
            if isinstance(answer, CompanyCohortEnriched):
                return 200, self._company_cohort_body(data["task_id"], answer)
            return status_for_client(request, 202, sdk=200), self._started_body(
                request, data["task_id"], answer
            )

        return _start_response(request, operation="enrich_by_task", work=work, preview=preview)

    def _company_cohort_body(self, task_id: str, answer: CompanyCohortEnriched) -> dict[str, Any]:
        body = {
            "task_id": task_id,
            "entity_kind": "company",
            "workflow_id": None,
            "status": "completed",
            "total_entities": answer.plan.total,
            "credits_reserved": 0,
            "credits_charged": answer.credits_charged,
            "results": [
                {
                    "entity_id": lookup.company_id,
                    "status": "enriched" if lookup.company else "failed",
                    "error": None if lookup.company else "not found",
                    "company": lookup.company,
                }
                for lookup in answer.lookups
            ],
            "timestamp_ms": timestamp_ms(),
        }
        return self.CompanyCohortSerializer(body).data

    def _started_body(self, request: ApiRequest, task_id: str, started: Started) -> dict[str, Any]:
        workflow = started.workflow
        body = {
            "task_id": task_id,
            "entity_kind": "person",
            "workflow_id": workflow.pk,
            "status": workflow.status,
            "total_entities": workflow.total,
            "credits_reserved": workflow.credits_reserved,
            "lead_list_id": str(workflow.lead_list_id),
            "poll_url": _poll_url(request, workflow),
            "results": [
                {"entity_id": entity_id, "status": "queued", "error": None, "company": None}
                for entity_id in workflow.entity_ids or []
            ],
            "timestamp_ms": timestamp_ms(),
        }
        return self.StartedSerializer(body).data


class BulkEnrichmentStartApi(APIView):
    required_scope = scopes.ENRICH_WRITE
    error_codes = _MONEY_ERRORS

    class InputSerializer(serializers.Serializer):
        list_id = serializers.CharField()
        scope = EnrichmentTypeField(required=False, default=EnrichmentType.PARTIAL)
        quote_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
        max_credits = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        output = serializers.ChoiceField(
            choices=Workflow.Output.values, default=Workflow.Output.SKIP_EXISTING
        )

    class OutputSerializer(serializers.Serializer):
        workflow_id = serializers.CharField()
        status = serializers.CharField()
        total_leads = serializers.IntegerField()
        estimated_cost = serializers.IntegerField()
        credits_reserved = serializers.IntegerField()
        poll_url = serializers.CharField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="enrich_list",
        request=InputSerializer,
        responses={202: OutputSerializer},
        parameters=[_MODE_PARAMETER],
    )
    def post(self, request: ApiRequest) -> Response:
        data = _validated(self.InputSerializer, request)
        preview = _is_preview(request)

        def work() -> tuple[int, dict[str, Any]]:
            started = start.bulk_enrichment_start(
                workspace=request.auth.workspace,
                list_id=data["list_id"],
                enrichment_type=data["scope"],
                output=data["output"],
                quote_id=data.get("quote_id") or None,
                max_credits=data.get("max_credits"),
                preview=preview,
            )
            if isinstance(started, Preview):
                return _preview_response(started, Tool.ENRICH_LIST)
            workflow = started.workflow
            body = {
                "workflow_id": workflow.pk,
                "status": workflow.status,
                "total_leads": started.plan.to_enrich,
                "estimated_cost": started.plan.estimated_cost,
                "credits_reserved": workflow.credits_reserved,
                "poll_url": _poll_url(request, workflow),
                "timestamp_ms": timestamp_ms(),
            }
            return status_for_client(request, 202, sdk=200), self.OutputSerializer(body).data

        return _start_response(request, operation="enrich_list", work=work, preview=preview)


class EnrichmentStatusApi(APIView):
    required_scope = scopes.ENRICH_READ

    @extend_schema(operation_id="enrichment_status", responses=WorkflowStatusSerializer)
    def get(self, request: ApiRequest, workflow_id: str) -> Response:
        workflow = selectors.workflow_status_get(
            workspace=request.auth.workspace, workflow_id=workflow_id
        )
        headers = {}
        if not workflow.is_terminal:
            headers["Retry-After"] = str(settings.SLUICE_STATUS_RETRY_AFTER_SECONDS)
        return Response(WorkflowStatusSerializer(workflow).data, headers=headers)


class AttemptSerializer(serializers.Serializer):
    """One provider call of the waterfall for an item."""

    provider = serializers.CharField()
    data_point = serializers.CharField()
    outcome = serializers.CharField()
    ms = serializers.IntegerField()
    cost = serializers.FloatField()
    cached = serializers.BooleanField()
    provider_status = serializers.CharField(allow_blank=True)


class WorkflowItemSerializer(serializers.Serializer):
    """One lead of a run, with the waterfall's calls for it."""

    lead_id = serializers.CharField()
    status = serializers.CharField()
    email = BlankAsNullCharField()
    email_status = BlankAsNullCharField()
    email_confidence = serializers.IntegerField(allow_null=True)
    phone = BlankAsNullCharField()
    provider = BlankAsNullCharField()
    attempts = AttemptSerializer(many=True)
    error = BlankAsNullCharField()
    credits_charged = serializers.IntegerField()
    finished_at = serializers.DateTimeField(allow_null=True)


class EnrichmentItemsApi(APIView):
    required_scope = scopes.ENRICH_READ

    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=ItemStatus.values, required=False)
        limit = serializers.IntegerField(min_value=1, max_value=500, default=100)
        cursor = serializers.CharField(required=False)

    class OutputSerializer(serializers.Serializer):
        workflow_id = serializers.CharField()
        items = WorkflowItemSerializer(many=True)
        cursor = serializers.CharField(allow_null=True)
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="enrichment_items",
        parameters=[InputSerializer],
        responses=OutputSerializer,
    )
    def get(self, request: ApiRequest, workflow_id: str) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        workflow = selectors.workflow_get(workspace=request.auth.workspace, workflow_id=workflow_id)
        items, cursor = selectors.items_page(
            workflow=workflow,
            status=params.validated_data.get("status"),
            cursor=params.validated_data.get("cursor"),
            limit=params.validated_data["limit"],
        )
        body = {
            "workflow_id": workflow.pk,
            "items": items,
            "cursor": cursor,
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.OutputSerializer(body).data)


class EnrichmentStatusOrCancelApi(APIView):
    """`/enrichment/status/cancel` reads both as the status of a workflow named "cancel" and as
    the cancellation of one named "status"; no workflow has either name, so both are a 404 (not
    the 405 the status route would answer a POST with)."""

    required_scope = {"GET": scopes.ENRICH_READ, "POST": scopes.ENRICH_WRITE}

    @extend_schema(exclude=True)
    def get(self, request: ApiRequest) -> Response:
        raise NotFound("No enrichment workflow cancel.")

    @extend_schema(exclude=True)
    def post(self, request: ApiRequest) -> Response:
        raise NotFound("No enrichment workflow status.")


class EnrichmentCancelApi(APIView):
    required_scope = scopes.ENRICH_WRITE

    @extend_schema(
        operation_id="enrichment_cancel", request=None, responses=WorkflowStatusSerializer
    )
    def post(self, request: ApiRequest, workflow_id: str) -> Response:
        workflow = selectors.workflow_get(workspace=request.auth.workspace, workflow_id=workflow_id)
        workflow = workflow_cancel(workflow=workflow)
        return Response(WorkflowStatusSerializer(workflow).data)


class EnrichmentJobsApi(APIView):
    required_scope = scopes.ENRICH_READ
    MAX_JOBS = 200

    class OutputSerializer(serializers.Serializer):
        jobs = WorkflowJobSerializer(many=True)
        total = serializers.IntegerField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(operation_id="enrichment_jobs", responses=OutputSerializer)
    def get(self, request: ApiRequest) -> Response:
        jobs = list(selectors.jobs_active(workspace=request.auth.workspace)[: self.MAX_JOBS])
        body = {"jobs": jobs, "total": len(jobs), "timestamp_ms": timestamp_ms()}
        return Response(self.OutputSerializer(body).data)


class EnrichmentRecordSerializer(serializers.Serializer):
    id = serializers.CharField()
    entity_id = serializers.CharField()
    entity_type = serializers.CharField()
    field = serializers.CharField()
    status = serializers.CharField()
    error = serializers.CharField(allow_null=True)
    data_found = serializers.BooleanField(allow_null=True)
    workflow_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(allow_null=True)


class EnrichmentBatchQueryApi(APIView):
    required_scope = scopes.ENRICH_READ

    class TaskSerializer(serializers.Serializer):
        entity_id = serializers.UUIDField(format="hex_verbose")
        field = serializers.ChoiceField(choices=["emails", "phones", "email", "phone", "company"])
        entity_type = serializers.ChoiceField(choices=["person", "company"], default="person")

    class InputSerializer(serializers.Serializer):
        tasks = serializers.ListField(min_length=1, max_length=200)

        def validate_tasks(self, value: Any) -> list[dict[str, str]]:
            serializer = EnrichmentBatchQueryApi.TaskSerializer(data=value, many=True)
            serializer.is_valid(raise_exception=True)
            aliases = {"email": "emails", "phone": "phones"}
            return [
                {
                    "entity_id": str(task["entity_id"]),
                    "field": aliases.get(task["field"], task["field"]),
                    "entity_type": task["entity_type"],
                }
                for task in serializer.validated_data
            ]

    class OutputSerializer(serializers.Serializer):
        enrichments = EnrichmentRecordSerializer(many=True)
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="enrichment_batch_query",
        request=InputSerializer,
        responses=OutputSerializer,
    )
    def post(self, request: ApiRequest) -> Response:
        data = _validated(self.InputSerializer, request)
        records = selectors.enrichments_query(workspace=request.auth.workspace, tasks=data["tasks"])
        body = {"enrichments": records, "timestamp_ms": timestamp_ms()}
        return Response(self.OutputSerializer(body).data)


class WebhookSerializer(serializers.Serializer):
    webhook_id = serializers.CharField(source="pk")
    url = serializers.CharField()
    events = serializers.SerializerMethodField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def get_events(self, endpoint: WebhookEndpoint) -> list[str]:
        return [webhooks.EVENT_COMPLETED]


class WebhookListCreateApi(APIView):
    required_scope = {"GET": scopes.ADMIN_API_KEYS, "POST": scopes.ADMIN_API_KEYS}

    class InputSerializer(serializers.Serializer):
        url = serializers.URLField(max_length=2000)

        def validate_url(self, value: str) -> str:
            if not value.startswith(("http://", "https://")):
                raise serializers.ValidationError("Only http(s) URLs.")
            return value

    class ListSerializer(serializers.Serializer):
        webhooks = WebhookSerializer(many=True)

    class CreatedSerializer(WebhookSerializer):
        # The signing secret is shown once, like an API key.
        secret = serializers.CharField()

    @extend_schema(operation_id="list_webhooks", responses=ListSerializer)
    def get(self, request: ApiRequest) -> Response:
        endpoints = selectors.webhooks_active(workspace=request.auth.workspace)
        return Response(self.ListSerializer({"webhooks": endpoints}).data)

    @extend_schema(
        operation_id="create_webhook",
        request=InputSerializer,
        responses={201: CreatedSerializer},
    )
    def post(self, request: ApiRequest) -> Response:
        data = _validated(self.InputSerializer, request)
        endpoint = webhooks.webhook_create(workspace=request.auth.workspace, url=data["url"])
        return Response(self.CreatedSerializer(endpoint).data, status=201)


class WebhookDeleteApi(APIView):
    required_scope = scopes.ADMIN_API_KEYS

    @extend_schema(operation_id="delete_webhook", responses={204: None})
    def delete(self, request: ApiRequest, webhook_id: str) -> Response:
        webhooks.webhook_delete(workspace=request.auth.workspace, webhook_id=webhook_id)
        return Response(status=204)


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> Any:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
