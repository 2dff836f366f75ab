"""HTTP for lead lists, their leads, and search. Response shapes follow the Cleanlist SDK's
models (`ListsPageResponse`, `ListDetailResponse`, `LeadsPageResponse`, `AddLeadsResponse`,
`RemoveLeadsResponse`, `DeleteListResponse`); extra fields of ours are additive.

Django routes by path and the SDK puts several operations on one path (`GET`/`POST
/lead-lists`), so a view class serves one path and each method is one operation with its own
serializers; the method bodies stay "validate, call one service or selector, serialize".
"""

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import scopes
from accounts.authentication import ApiRequest
from common.api import (
    idempotent_response,
    reject_unknown_fields,
    status_for_client,
    timestamp_ms,
)
from common.serializers import BlankAsNullCharField
from leads import selectors, services
from leads.models import LeadList

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


def _list_detail(
    lead_list: "WithAnnotations[LeadList, selectors.ListCounts]", *, reused: bool = False
) -> dict[str, Any]:
    return {
        "list_id": str(lead_list.id),
        "name": lead_list.name,
        "description": lead_list.description or None,
        "lead_count": lead_list.lead_count,
        "enriched_count": lead_list.enriched_count,
        "folder_id": str(lead_list.folder_id) if lead_list.folder_id else None,
        "created_at": lead_list.created_at,
        "updated_at": lead_list.updated_at,
        "reused": reused,
        "timestamp_ms": timestamp_ms(),
    }


class ListDetailSerializer(serializers.Serializer):
    """The SDK's `ListDetailResponse` (create, get, update)."""

    class Meta:
        ref_name = "ListDetailResponse"

    list_id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    lead_count = serializers.IntegerField()
    enriched_count = serializers.IntegerField(help_text="Leads holding an email or a phone.")
    folder_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    reused = serializers.BooleanField()
    timestamp_ms = serializers.IntegerField()


class LeadRowSerializer(serializers.Serializer):
    """The SDK's `LeadRow`, plus enrichment details; shared by list pages and people search
    so a lead looks the same wherever it is returned."""

    class Meta:
        ref_name = "LeadRow"

    lead_id = serializers.CharField(source="id")
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    full_name = serializers.CharField()
    email = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    title = serializers.CharField()
    company = serializers.SerializerMethodField()
    location = serializers.CharField()
    linkedin_url = serializers.CharField(allow_null=True)
    provider = serializers.CharField()
    email_status = serializers.CharField()
    email_confidence = serializers.IntegerField(allow_null=True)
    domain = serializers.CharField()
    industry = serializers.CharField()
    company_id = serializers.CharField(allow_null=True)
    enriched_at = serializers.DateTimeField(allow_null=True)

    def get_company(self, lead) -> str:
        return lead.company_name or (lead.company.name if lead.company else "")


class ListSummarySerializer(serializers.Serializer):
    class Meta:
        ref_name = "ListSummary"

    list_id = serializers.CharField(source="id")
    name = serializers.CharField()
    description = serializers.CharField()
    lead_count = serializers.IntegerField()
    folder_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    visibility = serializers.SerializerMethodField()

    def get_visibility(self, lead_list) -> str:
        return "private"


class LeadListCollectionApi(APIView):
    required_scope = {"GET": scopes.LISTS_READ, "POST": scopes.LISTS_WRITE}
    error_codes = {404: ["not_found"]}  # an unknown folder_id

    class ListInputSerializer(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=100, default=50)
        cursor = serializers.CharField(required=False, allow_blank=True)
        folder_id = serializers.UUIDField(required=False)

    class ListOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ListsPageResponse"

        lists = ListSummarySerializer(many=True)
        total = serializers.IntegerField()
        cursor = serializers.CharField(allow_null=True)
        timestamp_ms = serializers.IntegerField()

    class CreateInputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CreateList"

        name = serializers.CharField(max_length=200)
        description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
        folder_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        operation_id="list_lists",
        parameters=[ListInputSerializer],
        responses=ListOutputSerializer,
    )
    def get(self, request: ApiRequest) -> Response:
        params = self.ListInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = selectors.lead_list_page(
            workspace=request.auth.workspace,
            folder_id=params.validated_data.get("folder_id"),
            limit=params.validated_data["limit"],
            cursor=params.validated_data.get("cursor"),
        )
        data = {
            "lists": page.items,
            "total": page.total,
            "cursor": page.cursor,
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.ListOutputSerializer(data).data)

    @extend_schema(
        operation_id="create_list",
        request=CreateInputSerializer,
        responses={201: ListDetailSerializer, 200: ListDetailSerializer},
    )
    def post(self, request: ApiRequest) -> Response:
        """Idempotent on the name (case-insensitive): an existing list of that name is returned
        with `reused: true` and status 200; a new one with 201."""
        body = self.CreateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        workspace = request.auth.workspace
        lead_list, reused = services.lead_list_create(workspace=workspace, **body.validated_data)
        detail = selectors.lead_list_detail(workspace=workspace, list_id=lead_list.id)
        return Response(
            ListDetailSerializer(_list_detail(detail, reused=reused)).data,
            status=(
                status_for_client(request, status.HTTP_200_OK, sdk=status.HTTP_201_CREATED)
                if reused
                else status.HTTP_201_CREATED
            ),
        )


class LeadListItemApi(APIView):
    required_scope = {
        "GET": scopes.LISTS_READ,
        "PATCH": scopes.LISTS_WRITE,
        "DELETE": scopes.LISTS_WRITE,
    }
    error_codes = {409: ["conflict"]}

    class UpdateInputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "PublicLeadListUpdate"

        name = serializers.CharField(max_length=200, required=False)
        description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
        folder_id = serializers.UUIDField(required=False, allow_null=True)

    class DeleteOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "DeleteListResponse"

        list_id = serializers.CharField()
        deleted = serializers.BooleanField()
        message = serializers.CharField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(operation_id="get_list", responses=ListDetailSerializer)
    def get(self, request: ApiRequest, list_id) -> Response:
        detail = selectors.lead_list_detail(workspace=request.auth.workspace, list_id=list_id)
        return Response(ListDetailSerializer(_list_detail(detail)).data)

    @extend_schema(
        operation_id="update_list", request=UpdateInputSerializer, responses=ListDetailSerializer
    )
    def patch(self, request: ApiRequest, list_id) -> Response:
        reject_unknown_fields(request.data, self.UpdateInputSerializer)
        body = self.UpdateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        workspace = request.auth.workspace
        services.lead_list_update(
            workspace=workspace, list_id=list_id, changes=dict(body.validated_data)
        )
        detail = selectors.lead_list_detail(workspace=workspace, list_id=list_id)
        return Response(ListDetailSerializer(_list_detail(detail)).data)

    # 200 with a body, as the SDK maps it (a DELETE defaults to 204 in the schema otherwise).
    @extend_schema(operation_id="delete_list", responses={200: DeleteOutputSerializer})
    def delete(self, request: ApiRequest, list_id) -> Response:
        services.lead_list_delete(workspace=request.auth.workspace, list_id=list_id)
        data = {
            "list_id": str(list_id),
            "deleted": True,
            "message": "The list was deleted; its leads remain in the workspace.",
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.DeleteOutputSerializer(data).data)


class LeadListLeadsApi(APIView):
    required_scope = {
        "GET": scopes.LISTS_READ,
        "POST": scopes.LISTS_WRITE,
        "DELETE": scopes.LISTS_WRITE,
    }
    error_codes = {409: ["idempotency_conflict"]}

    class PageInputSerializer(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=500, default=100)
        cursor = serializers.CharField(required=False, allow_blank=True)

    class PageOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LeadsPageResponse"

        list_id = serializers.CharField()
        leads = LeadRowSerializer(many=True)
        total = serializers.IntegerField()
        cursor = serializers.CharField(allow_null=True)
        task_id = serializers.CharField(help_text="A cohort handle for exactly this page.")
        timestamp_ms = serializers.IntegerField()

    class AddInputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AddLeads"

        lead_ids = serializers.ListField(
            child=serializers.UUIDField(),
            min_length=1,
            max_length=services.MAX_ADD_LEAD_IDS,
            required=False,
        )
        task_id = serializers.CharField(max_length=64, required=False)
        entity_ids = serializers.ListField(
            child=serializers.CharField(max_length=64),
            max_length=services.MAX_COHORT_ENTITY_IDS,
            required=False,
            allow_null=True,
        )
        idempotency_key = serializers.CharField(max_length=128, required=False, allow_null=True)

        def validate(self, attrs):
            if ("lead_ids" in attrs) == ("task_id" in attrs):
                raise serializers.ValidationError("Send exactly one of lead_ids or task_id.")
            if "lead_ids" in attrs and attrs.get("entity_ids") is not None:
                raise serializers.ValidationError(
                    {"entity_ids": ["Only with task_id (a subset of that cohort)."]}
                )
            return attrs

    class AddOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "AddLeadsResponse"

        list_id = serializers.CharField()
        added = serializers.IntegerField()
        skipped_duplicates = serializers.IntegerField()
        skipped_unknown = serializers.IntegerField(
            help_text="Ids that are not a lead of this workspace; never added, never an error."
        )
        created = serializers.IntegerField()
        credits_charged = serializers.IntegerField()
        idempotent_replayed = serializers.BooleanField(required=False)

    class RemoveInputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RemoveLeads"

        lead_ids = serializers.ListField(
            child=serializers.UUIDField(), min_length=1, max_length=services.MAX_REMOVE_LEAD_IDS
        )

    class RemoveOutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RemoveLeadsResponse"

        list_id = serializers.CharField()
        removed = serializers.IntegerField()

    @extend_schema(
        operation_id="list_leads_in_list",
        parameters=[PageInputSerializer],
        responses=PageOutputSerializer,
    )
    def get(self, request: ApiRequest, list_id) -> Response:
        params = self.PageInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page, cohort = services.list_leads_read(
            workspace=request.auth.workspace,
            list_id=list_id,
            limit=params.validated_data["limit"],
            cursor=params.validated_data.get("cursor"),
        )
        data = {
            "list_id": str(list_id),
            "leads": page.items,
            "total": page.total,
            "cursor": page.cursor,
            "task_id": cohort.id,
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.PageOutputSerializer(data).data)

    @extend_schema(
        operation_id="add_leads_to_list",
        request=AddInputSerializer,
        responses=AddOutputSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: ApiRequest, list_id) -> Response:
        """Exactly one of `lead_ids` or `task_id` (+ optional `entity_ids`, a subset of that
        cohort). Ids that are not a lead of this workspace are counted in `skipped_unknown`,
        never added and never an error. Honours `idempotency_key` / `Idempotency-Key`."""
        body = self.AddInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        arguments = dict(body.validated_data)
        body_key = arguments.pop("idempotency_key", None)
        workspace = request.auth.workspace

        def work() -> tuple[int, dict[str, Any]]:
            result = services.lead_list_add_leads(workspace=workspace, list_id=list_id, **arguments)
            data = {**asdict(result), "created": 0, "credits_charged": 0}
            return status.HTTP_200_OK, dict(self.AddOutputSerializer(data).data)

        return idempotent_response(
            request,
            operation=f"add_leads_to_list:{list_id}",
            work=work,
            payload=arguments,
            body_key=body_key,
        )

    @extend_schema(
        operation_id="remove_leads_from_list",
        request=RemoveInputSerializer,
        # 200 with a body, as the SDK's remove_leads_from_list expects (a DELETE defaults to 204).
        responses={200: RemoveOutputSerializer},
    )
    def delete(self, request: ApiRequest, list_id) -> Response:
        body = self.RemoveInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        removed = services.lead_list_remove_leads(
            workspace=request.auth.workspace,
            list_id=list_id,
            lead_ids=body.validated_data["lead_ids"],
        )
        return Response(
            self.RemoveOutputSerializer({"list_id": str(list_id), "removed": removed}).data
        )


class _SearchInputSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)
    cursor = serializers.CharField(required=False, allow_blank=True, allow_null=True)

    def filters(self) -> dict[str, Any]:
        """The filters actually given (blank strings and nulls mean "no filter")."""
        return {
            name: value
            for name, value in self.validated_data.items()
            if name not in ("limit", "cursor") and value not in (None, "")
        }


def _text_filter() -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=300)


class PeopleSearchApi(APIView):
    required_scope = scopes.PEOPLE_READ
    error_codes = {404: ["not_found"]}  # an unknown list_id

    class InputSerializer(_SearchInputSerializer):
        class Meta:
            ref_name = "SearchPeople"

        name = _text_filter()
        title = _text_filter()
        company = _text_filter()
        domain = _text_filter()
        industry = _text_filter()
        location = _text_filter()
        has_email = serializers.BooleanField(required=False, allow_null=True)
        has_phone = serializers.BooleanField(required=False, allow_null=True)
        list_id = serializers.UUIDField(required=False, allow_null=True)
        # Freshness (docs/privacy.md): past the field's time to live, or found before a date.
        email_stale = serializers.BooleanField(required=False, allow_null=True)
        phone_stale = serializers.BooleanField(required=False, allow_null=True)
        email_found_before = serializers.DateTimeField(required=False, allow_null=True)
        phone_found_before = serializers.DateTimeField(required=False, allow_null=True)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SearchPeopleResponse"

        results = LeadRowSerializer(many=True)
        total = serializers.IntegerField()
        task_id = serializers.CharField(help_text="A cohort handle for exactly these results.")
        cursor = serializers.CharField(allow_null=True)
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="search_people", request=InputSerializer, responses=OutputSerializer
    )
    def post(self, request: ApiRequest) -> Response:
        reject_unknown_fields(request.data, self.InputSerializer)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        page, cohort = services.people_search(
            workspace=request.auth.workspace,
            filters=body.filters(),
            limit=body.validated_data["limit"],
            cursor=body.validated_data.get("cursor"),
        )
        return Response(self.OutputSerializer(_search_result(page, cohort)).data)


class CompanySerializer(serializers.Serializer):
    """The SDK's `CompanyRecord` (plus ticker, provider, enriched_at), blanks as nulls: the one
    rendering of a company, for search results and company enrichment alike."""

    class Meta:
        ref_name = "CompanyRecord"

    company_id = serializers.CharField(source="id")
    name = BlankAsNullCharField()
    domain = BlankAsNullCharField()
    ticker = BlankAsNullCharField()
    industry = BlankAsNullCharField()
    industries = serializers.ListField(child=serializers.CharField(), allow_null=True)
    employee_count = serializers.IntegerField(allow_null=True)
    employee_count_range = BlankAsNullCharField()
    revenue_range = BlankAsNullCharField()
    hq_location = BlankAsNullCharField()
    funding_stage = BlankAsNullCharField()
    total_funding_usd = serializers.IntegerField(allow_null=True)
    tech_stack = serializers.ListField(child=serializers.CharField(), allow_null=True)
    linkedin_url = BlankAsNullCharField()
    provider = BlankAsNullCharField()
    enriched_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        # Unknown lists, like unknown text, are null.
        return {key: (None if value == [] else value) for key, value in data.items()}


class CompanySearchApi(APIView):
    required_scope = scopes.COMPANIES_READ

    class InputSerializer(_SearchInputSerializer):
        class Meta:
            ref_name = "SearchCompanies"

        name = _text_filter()
        domain = _text_filter()
        industry = _text_filter()
        location = _text_filter()

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "SearchCompaniesResponse"

        results = CompanySerializer(many=True)
        total = serializers.IntegerField()
        task_id = serializers.CharField(help_text="A cohort handle for exactly these results.")
        cursor = serializers.CharField(allow_null=True)
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="search_companies",
        request=InputSerializer,
        responses=OutputSerializer,
    )
    def post(self, request: ApiRequest) -> Response:
        reject_unknown_fields(request.data, self.InputSerializer)
        body = self.InputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        page, cohort = services.company_search(
            workspace=request.auth.workspace,
            filters=body.filters(),
            limit=body.validated_data["limit"],
            cursor=body.validated_data.get("cursor"),
        )
        return Response(self.OutputSerializer(_search_result(page, cohort)).data)


def _search_result(page: selectors.Page, cohort) -> dict[str, Any]:
    return {
        "results": page.items,
        "total": page.total,
        "task_id": cohort.id,
        "cursor": page.cursor,
        "timestamp_ms": timestamp_ms(),
    }
