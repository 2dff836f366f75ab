# ruff: noqa: N815 (the attribute names are the vendor's camelCase JSON keys)
"""Lance's enrichment operations (`/api/v1/operations/enrichment`) over Sluice's person runs:
one field (emails | phones) of one lead per enrichment (docs/compatibility.md, "Lance")."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import serializers
from rest_framework.response import Response

from accounts import scopes
from accounts.authentication import ApiRequest
from accounts.permissions import ScopePermission
from common.api import idempotent_response
from common.exceptions import ApplicationError, ValidationFailed
from compat.views import DialectApiView
from enrichment import selectors
from enrichment.services import start
from leads.selectors import parse_uuid

# Sluice's error codes by HTTP status, in Lance's names.
_CODES: dict[int, str] = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    402: "INSUFFICIENT_CREDITS",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}
_FIELD_PARAMETER = OpenApiParameter(
    "field", str, location=OpenApiParameter.QUERY, required=True, enum=["emails", "phones"]
)


class LanceErrorSerializer(serializers.Serializer):
    class Body(serializers.Serializer):
        code = serializers.CharField()
        message = serializers.CharField()
        details = serializers.JSONField(required=False)

    error = Body()


class EnrichmentSerializer(serializers.Serializer):
    """Lance's enrichment object; `workflowId` (an addition) is the Sluice run behind it, for
    the Cleanlist status endpoint."""

    id = serializers.CharField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    entityId = serializers.CharField(source="entity_id")
    entityType = serializers.CharField(default="person")
    field = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["pending", "finished", "failed", "timeout", "cancelled"]
    )
    error = serializers.CharField(allow_null=True)
    dataFound = serializers.BooleanField(source="data_found", allow_null=True)
    createdBy = serializers.CharField(source="created_by", allow_null=True)
    orgId = serializers.CharField(source="org_id")
    globalEnrichmentId = serializers.CharField(source="global_enrichment_id", allow_null=True)
    creditTransactionId = serializers.CharField(source="credit_transaction_id", allow_null=True)
    workflowId = serializers.CharField(source="workflow_id")


class LanceApiView(DialectApiView):
    error_serializer = LanceErrorSerializer

    def render_error(self, error: ApplicationError) -> dict[str, Any]:
        code = _CODES.get(error.status_code, "INTERNAL_ERROR")
        body: dict[str, Any] = {"code": code, "message": error.message}
        if error.details:
            body["details"] = error.details
        return LanceErrorSerializer({"error": body}).data


def _field(request: ApiRequest) -> str:
    field = request.query_params.get("field")
    if field not in selectors.PERSON_FIELDS:
        raise ValidationFailed(
            "The field query parameter must be emails or phones.",
            details={"field": ["Expected emails or phones."]},
        )
    return field


class PersonEnrichmentApi(LanceApiView):
    required_scope = {"POST": scopes.ENRICH_WRITE, "GET": scopes.ENRICH_READ}

    @extend_schema(
        operation_id="lance_trigger_enrichment",
        parameters=[_FIELD_PARAMETER],
        request=None,
        responses={200: EnrichmentSerializer, 400: LanceErrorSerializer},
    )
    def post(self, request: ApiRequest, person_id: str) -> Response:
        field = _field(request)

        def work() -> tuple[int, dict[str, Any]]:
            enrichment, _created = start.person_field_enrichment_start(
                workspace=request.auth.workspace,
                lead_id=person_id,
                field=field,
                api_key=request.auth,
            )
            return 200, EnrichmentSerializer(enrichment).data

        return idempotent_response(
            request,
            operation="lance_trigger_enrichment",
            work=work,
            payload={"person_id": person_id, "field": field},
        )

    @extend_schema(
        operation_id="lance_get_enrichment",
        parameters=[_FIELD_PARAMETER],
        responses={200: EnrichmentSerializer, 404: LanceErrorSerializer},
    )
    def get(self, request: ApiRequest, person_id: str) -> Response:
        field = _field(request)
        if parse_uuid(person_id) is None:
            raise ValidationFailed(details={"personId": [f"Not a person id: {person_id!r}."]})
        enrichment = selectors.person_field_enrichment_get(
            workspace=request.auth.workspace, lead_id=person_id, field=field
        )
        return Response(EnrichmentSerializer(enrichment).data)


class BatchQueryApi(LanceApiView):
    required_scope = scopes.ENRICH_READ

    class TaskSerializer(serializers.Serializer):
        entityId = serializers.CharField(max_length=100)
        field = serializers.CharField(max_length=40)
        entityType = serializers.CharField(max_length=40, required=False, default="person")

    class InputSerializer(serializers.Serializer):
        tasks = serializers.ListField(min_length=1, max_length=200)

        def validate_tasks(self, value: Any) -> list[dict[str, str]]:
            tasks = BatchQueryApi.TaskSerializer(data=value, many=True)
            tasks.is_valid(raise_exception=True)
            return list(tasks.validated_data)

    @extend_schema(
        operation_id="lance_batch_query",
        request=InputSerializer,
        responses={200: EnrichmentSerializer(many=True), 400: LanceErrorSerializer},
    )
    def post(self, request: ApiRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Only people have enrichments here: other entity types have no record, so are left out.
        pairs = [
            (task["entityId"], task["field"])
            for task in serializer.validated_data["tasks"]
            if task["entityType"] == "person"
        ]
        records = selectors.person_field_enrichments(workspace=request.auth.workspace, tasks=pairs)
        return Response(EnrichmentSerializer(records, many=True).data)


class LanceSchemaApi(SpectacularAPIView):
    required_scope = scopes.PUBLIC
    authentication_classes = []
    permission_classes = [ScopePermission]
    throttle_classes = []
