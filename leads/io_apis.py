"""HTTP for imports and exports. The pipeline lives in leads.imports, exports in leads.exports.
The csv-import operation (which may start an enrichment) is served by enrichment.csv_import_apis
with the counts rendered here."""

import json
from typing import Any
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
from accounts.authentication import ApiRequest
from accounts.permissions import ScopePermission
from common.api import absolute_url, timestamp_ms
from common.exceptions import PayloadTooLarge, ValidationFailed
from leads.exports import (
    JSON_DEFAULT_LIMIT,
    JSON_MAX_LIMIT,
    export_csv_create,
    export_csv_file,
    export_json_page,
)
from leads.imports import ImportResult, leads_import_file
from leads.imports.readers import RowError
from leads.selectors import lead_list_get


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


@extend_schema_serializer(component_name="ImportRowError")
class ImportRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1-based; in a CSV the header is row 1.")
    reason = serializers.CharField(help_text="e.g. missing_identity, invalid_email")
    detail = serializers.CharField()


# What both import operations answer; each adds its own counts. (A comment, not a docstring:
# a docstring would become both responses' description in the OpenAPI document.)
class ImportCountsSerializer(serializers.Serializer):
    list_id = serializers.CharField()
    rows_parsed = serializers.IntegerField()
    rows_imported = serializers.IntegerField()
    rows_skipped = serializers.IntegerField()
    skip_reasons = serializers.DictField(child=serializers.IntegerField())
    sample_skip_rows = serializers.ListField(child=serializers.IntegerField())
    # DRF's metaclass moves declared fields off the class, so this does not replace the
    # `errors` property; mypy sees a plain class attribute.
    errors = ImportRowErrorSerializer(many=True, help_text="The first 100 row errors.")  # type: ignore[assignment]


def _error_dict(error: RowError) -> dict[str, Any]:
    return {"row": error.row, "reason": error.reason, "detail": error.detail}


def import_body(result: ImportResult) -> dict[str, Any]:
    """The streamed `/import` operation's counts."""
    return {
        "list_id": result.list_id,
        "rows_parsed": result.rows_parsed,
        "rows_imported": result.rows_imported,
        "rows_updated": result.rows_updated,
        "rows_merged": result.rows_merged,
        "rows_added_to_list": result.rows_added_to_list,
        "rows_skipped": result.rows_skipped,
        "skip_reasons": dict(result.skip_reasons),
        "duplicate_reasons": dict(result.duplicate_reasons),
        "errors": [_error_dict(e) for e in result.errors],
        "error_count": result.error_count,
        "sample_skip_rows": sorted(result.sample_skip_rows),
    }


def csv_import_body(result: ImportResult) -> dict[str, Any]:
    """csv-import's counts (the SDK's `CsvImportResponse` before any enrichment dispatch), in
    Cleanlist's counting: a row repeating a person earlier in the file is skipped
    (`duplicate_email`, `duplicate_linkedin`, `duplicate_name`); a row matching a lead already
    in the workspace lands in the list and counts as imported."""
    skipped = result.rows_skipped + result.rows_merged
    return {
        "list_id": result.list_id,
        "rows_parsed": result.rows_parsed,
        "rows_imported": result.rows_parsed - skipped,
        "rows_skipped": skipped,
        "skip_reasons": dict(result.skip_reasons + result.duplicate_reasons),
        "sample_skip_rows": sorted(result.sample_skip_rows),
        "rows_new": result.rows_imported,
        "rows_updated": result.rows_updated,
        "rows_added_to_list": result.rows_added_to_list,
        "errors": [_error_dict(e) for e in result.errors],
        "workflow_id": None,
        "enrichment_status_url": None,
        "message": f"Imported {result.rows_parsed - skipped} of {result.rows_parsed} rows.",
    }


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

    class QuerySerializer(serializers.Serializer):
        # A person on the suppression list: imported and marked (never enriched, exported or
        # returned), or left out with the skip reason `suppressed` (docs/privacy.md).
        suppressed_rows = serializers.ChoiceField(choices=["mark", "skip"], default="mark")

    @extend_schema_serializer(component_name="LeadImportResponse")
    class OutputSerializer(ImportCountsSerializer):
        rows_updated = serializers.IntegerField()
        rows_merged = serializers.IntegerField()
        rows_added_to_list = serializers.IntegerField()
        duplicate_reasons = serializers.DictField(child=serializers.IntegerField())
        error_count = serializers.IntegerField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="import_leads",
        parameters=[QuerySerializer],
        request={"multipart/form-data": InputSerializer, "text/csv": OpenApiTypes.BINARY},
        responses={201: OutputSerializer},
    )
    def post(self, request: ApiRequest, list_id) -> Response:
        # Refused from the declared size before a byte of the body is read.
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.SLUICE_IMPORT_MAX_BYTES:
            raise _too_large()
        # Looked up before the body is read, so an unknown list costs no upload.
        lead_list = lead_list_get(workspace=request.auth.workspace, list_id=list_id)
        request._request.upload_handlers = [_LimitedUploadHandler(request._request)]
        options = self.QuerySerializer(data=request.query_params)
        options.is_valid(raise_exception=True)
        stream, file_format, mapping = self._source(request)
        result = leads_import_file(
            workspace=request.auth.workspace,
            lead_list=lead_list,
            stream=stream,
            column_mapping=mapping,
            file_format=file_format,
            suppressed_rows=options.validated_data["suppressed_rows"],
        )
        body = {**import_body(result), "timestamp_ms": timestamp_ms()}
        return Response(self.OutputSerializer(body).data, status=201)

    def _source(self, request: ApiRequest):
        data = request.data
        # A raw-body parser's dict; multipart gives a QueryDict (a dict too, with `getlist`).
        if isinstance(data, dict) and "stream" in data and not hasattr(data, "getlist"):
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


@extend_schema_serializer(component_name="ExportLeadRow")
class ExportLeadRowSerializer(serializers.Serializer):
    """One exported lead: only the columns asked for (`columns`, or the default set), in the
    order asked for."""

    lead_id = serializers.UUIDField(required=False)
    first_name = serializers.CharField(required=False)
    last_name = serializers.CharField(required=False)
    full_name = serializers.CharField(required=False)
    email = serializers.CharField(required=False, allow_null=True)
    email_status = serializers.CharField(required=False, help_text="valid, risky, invalid, …")
    email_confidence = serializers.IntegerField(required=False, allow_null=True)
    phone = serializers.CharField(required=False, allow_null=True, help_text="E.164")
    title = serializers.CharField(required=False)
    company = serializers.CharField(required=False)
    domain = serializers.CharField(required=False)
    industry = serializers.CharField(required=False)
    location = serializers.CharField(required=False)
    linkedin_url = serializers.CharField(required=False, allow_null=True)
    provider = serializers.CharField(required=False)
    enriched_at = serializers.DateTimeField(required=False, allow_null=True)
    created_at = serializers.DateTimeField(required=False)
    added_at = serializers.DateTimeField(required=False)
    # Provenance (docs/privacy.md), on request: who found the value, when, in which run.
    email_source = serializers.CharField(required=False, allow_null=True)
    email_found_at = serializers.DateTimeField(required=False, allow_null=True)
    email_workflow_id = serializers.CharField(required=False, allow_null=True)
    email_verifier = serializers.CharField(required=False, allow_null=True)
    phone_source = serializers.CharField(required=False, allow_null=True)
    phone_found_at = serializers.DateTimeField(required=False, allow_null=True)
    phone_workflow_id = serializers.CharField(required=False, allow_null=True)

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        data = super().to_representation(instance)
        # A list's custom (smart-agent) column is not a declared field: its value as stored.
        return {column: data.get(column, instance[column]) for column in instance}


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
        leads = ExportLeadRowSerializer(many=True)
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
    def get(self, request: ApiRequest) -> Response:
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
    """Writes the list's CSV (or reuses the file of an unchanged list) and returns a signed
    link, served by Sluice, that expires after SLUICE_EXPORT_URL_TTL_SECONDS, or earlier when
    the list is deleted or the key revoked."""

    required_scope = scopes.EXPORT_READ
    error_codes = {404: ["not_found"]}

    @extend_schema_serializer(component_name="ExportCsvRequest")
    class InputSerializer(serializers.Serializer):
        list_id = serializers.UUIDField()
        columns = serializers.ListField(
            child=serializers.CharField(), required=False, allow_null=True
        )
        include_smart_agents = serializers.BooleanField(
            default=True,
            help_text="Append the list's smart-agent columns to the default column set.",
        )
        escape_formulas = serializers.BooleanField(
            default=True,
            help_text=(
                "Prefix `'` to every cell a spreadsheet would run as a formula (one starting "
                "with =, +, -, @, a tab or a carriage return), against CSV injection. E.164 "
                "phone numbers (+15125550146) are never prefixed. false writes every cell "
                "exactly as stored, for a program rather than a spreadsheet to read."
            ),
        )

    @extend_schema_serializer(component_name="ExportCsvResponse")
    class OutputSerializer(serializers.Serializer):
        list_id = serializers.CharField()
        download_url = serializers.CharField()
        expires_at = serializers.CharField()
        row_count = serializers.IntegerField()
        file_size_bytes = serializers.IntegerField()

    @extend_schema(operation_id="export_csv", request=InputSerializer, responses=OutputSerializer)
    def post(self, request: ApiRequest) -> Response:
        params = self.InputSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        export = export_csv_create(
            workspace=request.auth.workspace,
            api_key=request.auth,
            list_id=params.validated_data["list_id"],
            columns=params.validated_data.get("columns"),
            escape_formulas=params.validated_data["escape_formulas"],
            include_custom=params.validated_data["include_smart_agents"],
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
        file = export_csv_file(file_id=file_id, token=request.query_params.get("token"))
        return FileResponse(
            file,
            as_attachment=True,
            filename=f"leads-{file_id}.csv",
            content_type="text/csv; charset=utf-8",
        )
