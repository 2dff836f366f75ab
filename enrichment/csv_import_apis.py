"""Cleanlist's csv-import: a base64 CSV imported into a list (leads.imports), optionally
followed by a bulk enrichment of the list. Served here, not by leads, because the dispatch
starts an enrichment and leads must not depend on enrichment."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import scopes
from accounts.authentication import ApiRequest
from common.api import absolute_url, idempotency_key_of, idempotent_response, timestamp_ms
from common.exceptions import EmptyLeadScope, InsufficientScope
from credits.prices import EnrichmentType
from enrichment.models import Workflow
from enrichment.results import Started
from enrichment.services.start import bulk_enrichment_start
from leads.imports import csv_import
from leads.imports.pipeline import csv_content_decode, csv_content_digest
from leads.io_apis import ImportCountsSerializer, csv_import_body
from leads.models import LeadList
from leads.selectors import lead_list_get

_ENRICHMENT_TYPES = ["partial", "phone_only", "phone-only", "full"]


class LeadListCsvImportApi(APIView):
    """Cleanlist's CSV import: a base64 CSV body into a list. Rows with errors are skipped and
    counted by reason; every good row lands. With `dispatch_enrichment`, a bulk enrichment of
    the list (skip_existing) starts once the rows are in; the import and the start commit
    together, so a start refused for credits or its quote imports nothing."""

    required_scope = scopes.LISTS_WRITE
    error_codes = {
        400: ["missing_column", "spend_cap_exceeded"],
        402: ["insufficient_credits"],
        409: ["idempotency_conflict", "quote_expired", "quote_consumed", "quote_mismatch"],
        413: ["payload_too_large"],
        502: ["dispatch_failed"],
    }

    @extend_schema_serializer(component_name="CsvImportRequest")
    class InputSerializer(serializers.Serializer):
        csv_content_base64 = serializers.CharField(trim_whitespace=False)
        column_mapping = serializers.DictField(
            child=serializers.CharField(allow_null=True), required=False, default=dict
        )
        # Cleanlist's default is to dispatch; kept so a request means the same thing once
        # dispatch exists.
        dispatch_enrichment = serializers.BooleanField(default=True)
        enrichment_type = serializers.ChoiceField(
            choices=_ENRICHMENT_TYPES, required=False, allow_null=True
        )
        quote_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
        idempotency_key = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    @extend_schema_serializer(component_name="CsvImportResponse")
    class OutputSerializer(ImportCountsSerializer):
        rows_new = serializers.IntegerField()
        rows_updated = serializers.IntegerField()
        rows_added_to_list = serializers.IntegerField()
        workflow_id = serializers.CharField(allow_null=True)
        enrichment_status_url = serializers.CharField(allow_null=True)
        credits_reserved = serializers.IntegerField(required=False)
        message = serializers.CharField()
        idempotency_replayed = serializers.BooleanField()
        idempotent_replayed = serializers.BooleanField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="csv_import",
        request=InputSerializer,
        responses={201: OutputSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: ApiRequest, list_id: uuid.UUID) -> Response:
        params = self.InputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        dispatch = data["dispatch_enrichment"]
        if dispatch and scopes.ENRICH_WRITE not in request.auth.scopes:
            raise InsufficientScope(
                "dispatch_enrichment spends credits and needs the `enrich:write` scope.",
                details={
                    "required_scope": scopes.ENRICH_WRITE,
                    "granted_scopes": list(request.auth.scopes),
                },
            )
        # Refused before anything is claimed or read: a bad key, an unknown list, bad base64.
        idempotency_key_of(request, data.get("idempotency_key"))
        lead_list = lead_list_get(workspace=request.auth.workspace, list_id=list_id)
        content = csv_content_decode(data["csv_content_base64"])

        def work() -> tuple[int, dict[str, Any]]:
            imported = csv_import(
                workspace=request.auth.workspace,
                lead_list=lead_list,
                content=content,
                column_mapping=data["column_mapping"],
                after_import=_enrichment_dispatcher(request, data) if dispatch else None,
            )
            body = csv_import_body(imported.result)
            if dispatch:
                body.update(_dispatch_fields(request, imported.after_import))
            return 201, body

        stored = idempotent_response(
            request,
            operation=f"csv_import:{lead_list.pk}",
            work=work,
            payload={
                "csv_sha256": csv_content_digest(content),
                "column_mapping": dict(data["column_mapping"] or {}),
                "dispatch_enrichment": dispatch,
                "enrichment_type": data.get("enrichment_type"),
                "quote_id": data.get("quote_id") or None,
            },
            body_key=data.get("idempotency_key"),
        )
        replayed = bool(stored.data.get("idempotent_replayed"))
        body = {
            **stored.data,
            "idempotency_replayed": replayed,
            "idempotent_replayed": replayed,
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.OutputSerializer(body).data, status=stored.status_code)


@dataclass(frozen=True)
class _Dispatched:
    workflow_id: str
    credits_reserved: int


def _enrichment_dispatcher(
    request: ApiRequest, data: dict[str, Any]
) -> Callable[[LeadList], _Dispatched | None]:
    """What csv-import runs after the rows land when `dispatch_enrichment` is on: a bulk
    enrichment of the list (skip_existing, so only leads lacking the data are looked up and
    charged). None: every lead already holds the data, the import stands alone."""

    def dispatch(lead_list: LeadList) -> _Dispatched | None:
        try:
            started = bulk_enrichment_start(
                workspace=request.auth.workspace,
                list_id=lead_list.pk,
                enrichment_type=data.get("enrichment_type") or EnrichmentType.PARTIAL,
                output=Workflow.Output.SKIP_EXISTING,
                quote_id=data.get("quote_id") or None,
                quote_required=False,
                quote_binds_rows=False,
            )
        except EmptyLeadScope:
            return None
        assert isinstance(started, Started)  # not a preview: a start always starts
        return _Dispatched(
            workflow_id=started.workflow.pk, credits_reserved=started.workflow.credits_reserved
        )

    return dispatch


def _dispatch_fields(request: Request, dispatched: _Dispatched | None) -> dict[str, Any]:
    if dispatched is None:
        return {"workflow_id": None, "enrichment_status_url": None}
    return {
        "workflow_id": dispatched.workflow_id,
        "enrichment_status_url": absolute_url(
            request, f"enrichment/status/{dispatched.workflow_id}"
        ),
        "credits_reserved": dispatched.credits_reserved,
    }
