"""HTTP for imports and exports. The pipeline lives in leads.imports, exports in leads.exports."""

import json
from urllib.parse import quote

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import FileResponse
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiTypes,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import scopes
from accounts.permissions import ScopePermission
from common.api import absolute_url, idempotency_key_of, timestamp_ms
from common.exceptions import EmptyLeadScope, InsufficientScope, PayloadTooLarge, ValidationFailed
from credits import prices
from leads.exports import (
    JSON_DEFAULT_LIMIT,
    JSON_MAX_LIMIT,
    export_csv_create,
    export_csv_file,
    export_json_page,
)
from leads.imports import (
    csv_import,
    import_body,
    leads_import_file,
)
from leads.selectors import lead_list_get

_ENRICHMENT_TYPES = ["partial", "phone_only", "phone-only", "full"]


def _too_large() -> PayloadTooLarge:
    limit = settings.SLUICE_IMPORT_MAX_BYTES
    return PayloadTooLarge(
        f"The upload is over the {limit}-byte import limit (SLUICE_IMPORT_MAX_BYTES).",
        details={"max_bytes": limit},
    )


class _LimitedUploadHandler(TemporaryFileUploadHandler):
    """Streams the upload to a temporary file and stops at the import cap even when the client
    sent no (or a false) Content-Length."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > settings.SLUICE_IMPORT_MAX_BYTES:
            raise _too_large()
        return super().receive_data_chunk(raw_data, start)


class _RawBodyParser(BaseParser):
    """A bare file body (`Content-Type: text/csv` …): handed on as the request stream, unread."""

    file_format = "csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"stream": stream, "format": self.file_format}


class _RawCsvParser(_RawBodyParser):
    media_type = "text/csv"


class _RawJsonParser(_RawBodyParser):
    media_type = "application/json"
    file_format = "json"


class _RawNdjsonParser(_RawBodyParser):
    media_type = "application/x-ndjson"
    file_format = "ndjson"


class _ImportCounts(serializers.Serializer):
    list_id = serializers.CharField()
    rows_parsed = serializers.IntegerField()
    rows_imported = serializers.IntegerField()
    rows_skipped = serializers.IntegerField()
    skip_reasons = serializers.DictField(child=serializers.IntegerField())
    sample_skip_rows = serializers.ListField(child=serializers.IntegerField())
    errors = serializers.ListField(child=serializers.DictField())


class LeadListCsvImportApi(APIView):
    """Cleanlist's CSV import: a base64 CSV body into a list. Rows with errors are skipped and
    counted by reason; every good row lands."""

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
    class OutputSerializer(_ImportCounts):
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
    def post(self, request: Request, list_id) -> Response:
        params = self.InputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        if data["dispatch_enrichment"] and scopes.ENRICH_WRITE not in request.auth.scopes:
            raise InsufficientScope(
                "dispatch_enrichment spends credits and needs the `enrich:write` scope.",
                details={
                    "required_scope": scopes.ENRICH_WRITE,
                    "granted_scopes": list(request.auth.scopes),
                },
            )
        outcome = csv_import(
            workspace=request.auth.workspace,
            list_id=list_id,
            csv_content_base64=data["csv_content_base64"],
            column_mapping=data["column_mapping"],
            dispatch_enrichment=data["dispatch_enrichment"],
            enrichment_type=data.get("enrichment_type"),
            quote_id=data.get("quote_id") or None,
            idempotency_key=idempotency_key_of(request, data.get("idempotency_key")),
            dispatch=_enrichment_dispatcher(request, data),
        )
        body = {
            **outcome.body,
            "idempotency_replayed": outcome.replayed,
            "idempotent_replayed": outcome.replayed,
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.OutputSerializer(body).data, status=outcome.status_code)


def _enrichment_dispatcher(request: Request, data: dict):
    """What csv-import runs after the rows land when `dispatch_enrichment` is on: a bulk
    enrichment of the list (skip_existing, so only leads lacking the data are looked up and
    charged). Imported lazily: leads must not depend on enrichment at import time."""

    def dispatch(lead_list) -> dict:
        from enrichment.services.start import bulk_enrichment_start

        try:
            started = bulk_enrichment_start(
                workspace=request.auth.workspace,
                list_id=lead_list.pk,
                enrichment_type=data.get("enrichment_type") or prices.PARTIAL,
                output="skip_existing",
                quote_id=data.get("quote_id") or None,
                quote_required=False,
                quote_binds_rows=False,
            )
        except EmptyLeadScope:
            # Every lead already holds the data: the import stands, nothing to enrich.
            return {"workflow_id": None, "enrichment_status_url": None}
        workflow_id = started.workflow.pk
        return {
            "workflow_id": workflow_id,
            "enrichment_status_url": absolute_url(request, f"enrichment/status/{workflow_id}"),
            "credits_reserved": started.workflow.credits_reserved,
        }

    return dispatch


class LeadListImportApi(APIView):
    """Our streamed import: a multipart upload (field `file`) or a bare body of CSV
    (`text/csv`), a JSON array (`application/json`) or NDJSON (`application/x-ndjson`), up to
    SLUICE_IMPORT_MAX_BYTES. Read in batches, never whole into memory. Optional form fields:
    `column_mapping` (JSON object, canonical field → header) and `format` (csv|json|ndjson;
    detected from the content otherwise)."""

    required_scope = scopes.LISTS_WRITE
    parser_classes = [MultiPartParser, _RawCsvParser, _RawJsonParser, _RawNdjsonParser]
    # 415: a body in none of the media types above, or one that arrives without a type.
    error_codes = {
        400: ["missing_column"],
        413: ["payload_too_large"],
        415: ["unsupported_media_type"],
    }

    @extend_schema_serializer(component_name="LeadImportUpload")
    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(required=False, allow_empty_file=True)
        column_mapping = serializers.CharField(required=False, allow_blank=True)
        format = serializers.ChoiceField(choices=["csv", "json", "ndjson"], required=False)

    @extend_schema_serializer(component_name="LeadImportResponse")
    class OutputSerializer(_ImportCounts):
        rows_updated = serializers.IntegerField()
        rows_merged = serializers.IntegerField()
        rows_added_to_list = serializers.IntegerField()
        duplicate_reasons = serializers.DictField(child=serializers.IntegerField())
        error_count = serializers.IntegerField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="import_leads",
        request={"multipart/form-data": InputSerializer, "text/csv": OpenApiTypes.BINARY},
        responses={201: OutputSerializer},
    )
    def post(self, request: Request, list_id) -> Response:
        # Refused from the declared size before a byte of the body is read.
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.SLUICE_IMPORT_MAX_BYTES:
            raise _too_large()
        # Looked up before the body is read, so an unknown list costs no upload.
        lead_list = lead_list_get(workspace=request.auth.workspace, list_id=list_id)
        request._request.upload_handlers = [_LimitedUploadHandler(request._request)]
        stream, file_format, mapping = self._source(request)
        result = leads_import_file(
            workspace=request.auth.workspace,
            lead_list=lead_list,
            stream=stream,
            column_mapping=mapping,
            file_format=file_format,
        )
        body = {**import_body(result), "timestamp_ms": timestamp_ms()}
        return Response(self.OutputSerializer(body).data, status=201)

    def _source(self, request: Request):
        data = request.data
        if "stream" in data and not hasattr(data, "getlist"):
            if data["stream"] is None:
                raise ValidationFailed(details={"file": ["The file is empty."]})
            return data["stream"], data["format"], None
        params = self.InputSerializer(data=data)
        params.is_valid(raise_exception=True)
        upload = params.validated_data.get("file")
        if upload is None:
            raise ValidationFailed(details={"file": ["Upload the file in the `file` field."]})
        mapping = None
        if params.validated_data.get("column_mapping"):
            try:
                mapping = json.loads(params.validated_data["column_mapping"])
            except json.JSONDecodeError:
                mapping = None
            if not isinstance(mapping, dict):
                raise ValidationFailed(
                    details={"column_mapping": ["A JSON object: canonical field → header."]}
                )
        upload.seek(0)
        return upload, params.validated_data.get("format"), mapping


class ExportJsonApi(APIView):
    """A page of a list's leads, projected to the chosen (or default) columns."""

    required_scope = scopes.EXPORT_READ
    error_codes = {404: ["not_found"]}

    @extend_schema_serializer(component_name="ExportJsonParams")
    class InputSerializer(serializers.Serializer):
        list_id = serializers.UUIDField()
        limit = serializers.IntegerField(
            min_value=1, max_value=JSON_MAX_LIMIT, default=JSON_DEFAULT_LIMIT
        )
        cursor = serializers.CharField(required=False, allow_blank=True)

    @extend_schema_serializer(component_name="ExportJsonResponse")
    class OutputSerializer(serializers.Serializer):
        list_id = serializers.CharField()
        leads = serializers.ListField(child=serializers.DictField())
        total = serializers.IntegerField()
        cursor = serializers.CharField(allow_null=True)
        columns = serializers.ListField(child=serializers.CharField())
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="export_json",
        parameters=[
            # From the serializer, so the documented bounds and formats are the enforced ones.
            InputSerializer,
            OpenApiParameter(
                "columns", str, many=True, description="Repeat or comma-separate; default set"
            ),
        ],
        responses=OutputSerializer,
    )
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = export_json_page(
            workspace=request.auth.workspace,
            list_id=params.validated_data["list_id"],
            limit=params.validated_data["limit"],
            cursor=params.validated_data.get("cursor") or None,
            columns=request.query_params.getlist("columns"),
        )
        return Response(self.OutputSerializer({**page, "timestamp_ms": timestamp_ms()}).data)


class ExportCsvApi(APIView):
    """Writes the list's CSV and returns a signed link, served by Sluice, that expires after
    SLUICE_EXPORT_URL_TTL_SECONDS."""

    required_scope = scopes.EXPORT_READ
    error_codes = {404: ["not_found"]}

    @extend_schema_serializer(component_name="ExportCsvRequest")
    class InputSerializer(serializers.Serializer):
        list_id = serializers.UUIDField()
        columns = serializers.ListField(
            child=serializers.CharField(), required=False, allow_null=True
        )
        # Cleanlist's smart-agent columns; Sluice has none, so there is nothing to append.
        include_smart_agents = serializers.BooleanField(default=True)

    @extend_schema_serializer(component_name="ExportCsvResponse")
    class OutputSerializer(serializers.Serializer):
        list_id = serializers.CharField()
        download_url = serializers.CharField()
        expires_at = serializers.CharField()
        row_count = serializers.IntegerField()
        file_size_bytes = serializers.IntegerField()

    @extend_schema(operation_id="export_csv", request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        export = export_csv_create(
            workspace=request.auth.workspace,
            list_id=params.validated_data["list_id"],
            columns=params.validated_data.get("columns"),
        )
        url = absolute_url(
            request, f"export/csv/download/{export.file_id}?token={quote(export.token, safe='')}"
        )
        data = {
            "list_id": export.list_id,
            "download_url": url,
            "expires_at": export.expires_at.isoformat().replace("+00:00", "Z"),
            "row_count": export.row_count,
            "file_size_bytes": export.file_size_bytes,
        }
        return Response(self.OutputSerializer(data).data)


class ExportCsvDownloadApi(APIView):
    """The link export_csv hands out. No API key: the signed token is the credential. Kept out
    of the OpenAPI document because clients follow the URL, they do not call an operation."""

    required_scope = scopes.PUBLIC
    authentication_classes = []
    permission_classes = [ScopePermission]
    throttle_classes = []

    @extend_schema(exclude=True)
    def get(self, request: Request, file_id) -> FileResponse:
        path = export_csv_file(file_id=file_id, token=request.query_params.get("token"))
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=f"leads-{file_id}.csv",
            content_type="text/csv; charset=utf-8",
        )
