"""HTTP for the suppression list, erasure requests and their receipts, and the provenance of a
lead's fields (docs/privacy.md)."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import scopes
from accounts.authentication import ApiRequest
from common.exceptions import PayloadTooLarge, ValidationFailed
from common.pagination import decode_cursor, make_cursor
from common.parsers import LimitedJSONParser
from leads import suppression
from leads.models import Suppression
from privacy import selectors, services
from privacy.models import ErasureReceipt

MAX_ENTRIES = suppression.MAX_ENTRIES_PER_CALL
# A CSV of 10,000 entries is well below this; more is not a suppression list upload.
_CSV_MAX_BYTES = 4 * 1024 * 1024
_CURSOR_KIND = "suppressions"
ENTRY_KINDS = [k for k in Suppression.Kind.values if k != Suppression.Kind.PERSON]


class _CsvParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        """The raw body (bytes): _csv_text decodes it."""
        body = stream.read(_CSV_MAX_BYTES + 1) if stream is not None else b""
        if len(body) > _CSV_MAX_BYTES:
            raise PayloadTooLarge(f"The CSV is over {_CSV_MAX_BYTES} bytes.")
        return body


class PersonSerializer(serializers.Serializer):
    """Who a person is, as the importer reads it (leads.canonical.person_identify): a LinkedIn
    URL, else an email, else first and last name with a company name or domain."""

    linkedin_url = serializers.CharField(required=False, max_length=400)
    email = serializers.CharField(required=False, max_length=400)
    first_name = serializers.CharField(required=False, max_length=150)
    last_name = serializers.CharField(required=False, max_length=150)
    full_name = serializers.CharField(required=False, max_length=300)
    company_name = serializers.CharField(required=False, max_length=300)
    domain = serializers.CharField(required=False, max_length=253)


class EntrySerializer(serializers.Serializer):
    """`{"kind": "email|domain|linkedin_url|phone", "value": …}`, or `{"kind": "person",
    "person": {…}}` for a person's identity."""

    kind = serializers.ChoiceField(choices=Suppression.Kind.values)
    value = serializers.CharField(max_length=400, required=False)
    person = PersonSerializer(required=False)

    def validate(self, attrs: dict) -> dict:
        if attrs["kind"] == Suppression.Kind.PERSON:
            if not attrs.get("person"):
                raise serializers.ValidationError({"person": "Required for kind person."})
        elif not attrs.get("value"):
            raise serializers.ValidationError({"value": "Required."})
        return attrs


class SuppressionSerializer(serializers.Serializer):
    """An entry as listed: its value is not stored, only a keyed hash of it."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    scope = serializers.SerializerMethodField()
    # (a declared field, moved off the class by the serializer's metaclass)
    source = serializers.CharField()  # type: ignore[assignment]
    created_at = serializers.DateTimeField()

    def get_scope(self, entry: Suppression) -> str:
        return "operator" if entry.workspace_id is None else "workspace"


class SuppressionChangeSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    already_listed = serializers.IntegerField()


def _validated(serializer_class: type[serializers.Serializer], data: Any) -> Any:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class SuppressionCollectionApi(APIView):
    required_scope = {
        "GET": scopes.PRIVACY_READ,
        "POST": scopes.PRIVACY_WRITE,
        "DELETE": scopes.PRIVACY_WRITE,
    }
    error_codes = {404: ["not_found"]}  # a lead id that is not the workspace's

    class ListInputSerializer(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=500, default=100)
        cursor = serializers.CharField(required=False, allow_blank=True)
        # Is this value on the list? (the list holds hashes: a value can be checked, not read)
        kind = serializers.ChoiceField(choices=ENTRY_KINDS, required=False)
        value = serializers.CharField(required=False, max_length=400)

    class ListOutputSerializer(serializers.Serializer):
        suppressions = SuppressionSerializer(many=True)
        cursor = serializers.CharField(allow_null=True)

    class AddInputSerializer(serializers.Serializer):
        entries = serializers.ListField(
            child=EntrySerializer(), required=False, max_length=MAX_ENTRIES
        )
        # Every identifier of these leads (email, LinkedIn, phone, identity).
        lead_ids = serializers.ListField(
            child=serializers.UUIDField(), required=False, max_length=MAX_ENTRIES
        )

        def validate(self, attrs: dict) -> dict:
            if not attrs.get("entries") and not attrs.get("lead_ids"):
                raise serializers.ValidationError("Give entries or lead_ids.")
            return attrs

    class RemoveInputSerializer(serializers.Serializer):
        entries = serializers.ListField(
            child=EntrySerializer(), required=False, max_length=MAX_ENTRIES
        )
        ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1), required=False, max_length=MAX_ENTRIES
        )

        def validate(self, attrs: dict) -> dict:
            if not attrs.get("entries") and not attrs.get("ids"):
                raise serializers.ValidationError("Give entries or ids.")
            return attrs

    class RemoveOutputSerializer(serializers.Serializer):
        removed = serializers.IntegerField()

    @extend_schema(
        operation_id="list_suppressions",
        parameters=[ListInputSerializer],
        responses=ListOutputSerializer,
    )
    def get(self, request: ApiRequest) -> Response:
        params = _validated(self.ListInputSerializer, request.query_params)
        entries = suppression.suppressions_for(request.auth.workspace)
        if params.get("value"):
            if not params.get("kind"):
                raise ValidationFailed(details={"kind": ["Give the kind of the value."]})
            entry = services.entries_parse([{"kind": params["kind"], "value": params["value"]}])
            entries = entries.filter(digest=entry[0].digest)
        position = decode_cursor(params.get("cursor"), kind=_CURSOR_KIND)
        if position is not None:
            entries = entries.filter(id__lt=position["before"])
        page = list(entries[: params["limit"] + 1])
        more = len(page) > params["limit"]
        page = page[: params["limit"]]
        cursor = make_cursor(kind=_CURSOR_KIND, before=page[-1].pk) if more else None
        return Response(self.ListOutputSerializer({"suppressions": page, "cursor": cursor}).data)

    @extend_schema(
        operation_id="add_suppressions",
        request=AddInputSerializer,
        responses={201: SuppressionChangeSerializer},
    )
    def post(self, request: ApiRequest) -> Response:
        data = _validated(self.AddInputSerializer, request.data)
        entries = services.entries_parse(data.get("entries", []))
        change = services.suppressions_add(
            workspace=request.auth.workspace, entries=entries, lead_ids=data.get("lead_ids", [])
        )
        return Response(SuppressionChangeSerializer(change).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="remove_suppressions",
        request=RemoveInputSerializer,
        responses=RemoveOutputSerializer,
    )
    def delete(self, request: ApiRequest) -> Response:
        """Removes entries of the workspace's own list (the operator's stay)."""
        data = _validated(self.RemoveInputSerializer, request.data)
        removed = suppression.suppressions_remove(
            workspace=request.auth.workspace,
            entries=services.entries_parse(data.get("entries", [])),
            ids=data.get("ids", []),
        )
        return Response(self.RemoveOutputSerializer({"removed": removed}).data)


class SuppressionCsvImportApi(APIView):
    """A CSV of entries: a `text/csv` body, or a multipart upload in the field `file`. Header
    `kind,value`, or one column per kind (`email`, `domain`, `linkedin_url`, `phone`)."""

    required_scope = scopes.PRIVACY_WRITE
    parser_classes = [_CsvParser, MultiPartParser]
    error_codes = {413: ["payload_too_large"], 415: ["unsupported_media_type"]}

    @extend_schema(
        operation_id="import_suppressions_csv",
        request={"text/csv": {"type": "string"}, "multipart/form-data": {"type": "object"}},
        responses={201: SuppressionChangeSerializer},
    )
    def post(self, request: ApiRequest) -> Response:
        text = _csv_text(request)
        raw = services.entries_from_csv(text, max_rows=MAX_ENTRIES)
        if not raw:
            raise ValidationFailed("The CSV holds no entries.")
        change = services.suppressions_add(
            workspace=request.auth.workspace, entries=services.entries_parse(raw)
        )
        return Response(SuppressionChangeSerializer(change).data, status=status.HTTP_201_CREATED)


def _csv_text(request: Request) -> str:
    data = request.data
    if isinstance(data, bytes):
        body = data
    else:
        upload = data.get("file") if hasattr(data, "get") else None
        if upload is None:
            raise ValidationFailed(details={"file": ["Upload the CSV in the field `file`."]})
        if upload.size > _CSV_MAX_BYTES:
            raise PayloadTooLarge(f"The CSV is over {_CSV_MAX_BYTES} bytes.")
        body = upload.read()
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("The CSV is not UTF-8.") from None


class ErasureReceiptSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    subject_kind = serializers.CharField()
    origin = serializers.CharField()
    removed = serializers.DictField(child=serializers.IntegerField())
    total_removed = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class ErasureApi(APIView):
    required_scope = scopes.PRIVACY_WRITE
    error_codes = {404: ["not_found"]}  # a lead id that is not the workspace's
    parser_classes = [LimitedJSONParser]

    class InputSerializer(serializers.Serializer):
        email = serializers.CharField(required=False, max_length=400)
        linkedin_url = serializers.CharField(required=False, max_length=400)
        phone = serializers.CharField(required=False, max_length=100)
        lead_id = serializers.CharField(required=False, max_length=100)

        def validate(self, attrs: dict) -> dict:
            if len(attrs) != 1:
                raise serializers.ValidationError(
                    "Name the person by exactly one of email, linkedin_url, phone, lead_id."
                )
            return attrs

    @extend_schema(
        operation_id="erase_person",
        request=InputSerializer,
        responses={201: ErasureReceiptSerializer, 200: ErasureReceiptSerializer},
    )
    def post(self, request: ApiRequest) -> Response:
        """Erases the person from the workspace and suppresses them. A repeat that finds
        nothing left answers the earlier receipt with 200."""
        ((kind, value),) = _validated(self.InputSerializer, request.data).items()
        receipt, created = services.person_erase(
            workspace=request.auth.workspace,
            kind=kind,
            value=value,
            origin=ErasureReceipt.Origin.API,
        )
        return Response(
            ErasureReceiptSerializer(receipt).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ErasureReceiptApi(APIView):
    required_scope = scopes.PRIVACY_READ
    error_codes = {404: ["not_found"]}

    @extend_schema(operation_id="get_erasure_receipt", responses=ErasureReceiptSerializer)
    def get(self, request: ApiRequest, receipt_id) -> Response:
        receipt = selectors.erasure_receipt_get(
            workspace=request.auth.workspace, receipt_id=receipt_id
        )
        return Response(ErasureReceiptSerializer(receipt).data)


class FieldProvenanceSerializer(serializers.Serializer):
    field = serializers.CharField()
    has_value = serializers.BooleanField()
    # (a declared field, moved off the class by the serializer's metaclass)
    source = serializers.CharField()  # type: ignore[assignment]
    found_at = serializers.DateTimeField(allow_null=True)
    workflow_id = serializers.CharField()
    verifier = serializers.CharField()
    verdict = serializers.CharField()
    stale = serializers.BooleanField()


class LeadProvenanceSerializer(serializers.Serializer):
    lead_id = serializers.CharField()
    data_points = FieldProvenanceSerializer(many=True)


class LeadProvenanceApi(APIView):
    required_scope = scopes.PEOPLE_READ
    error_codes = {404: ["not_found"]}  # another workspace's lead, or a suppressed one

    @extend_schema(
        operation_id="get_lead_provenance",
        parameters=[OpenApiParameter("lead_id", str, OpenApiParameter.PATH)],
        responses=LeadProvenanceSerializer,
    )
    def get(self, request: ApiRequest, lead_id) -> Response:
        """Where each enriched field came from: provider (or import), when, which run, the
        verifier and its verdict, and whether it is past its time to live."""
        provenance = selectors.lead_provenance(workspace=request.auth.workspace, lead_id=lead_id)
        return Response(LeadProvenanceSerializer(provenance).data)
