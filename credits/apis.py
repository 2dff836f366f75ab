from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import scopes
from accounts.authentication import ApiRequest
from accounts.selectors import USAGE_GROUPS
from common.api import timestamp_ms
from common.pagination import decode_cursor, make_cursor
from credits import prices
from credits.models import LedgerEntry, Tool
from credits.selectors import balance_get, ledger_list, usage_report
from credits.services import quote_create

_LEDGER_CURSOR = "credits.ledger"


class CreditsBalanceApi(APIView):
    """Spendable credits (`credits` = balance - held), plus the two totals behind them."""

    required_scope = scopes.CREDITS_READ

    class OutputSerializer(serializers.Serializer):
        organization_id = serializers.CharField()
        credits = serializers.IntegerField(help_text="Spendable now: balance - held.")
        balance = serializers.IntegerField(help_text="Credits owned, including those held.")
        held = serializers.IntegerField(help_text="Reserved by running work, not yet settled.")
        agent_instructions = serializers.CharField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(operation_id="credits_balance", responses=OutputSerializer)
    def get(self, request: ApiRequest) -> Response:
        workspace = request.auth.workspace
        totals = balance_get(workspace=workspace)
        data = {
            "organization_id": str(workspace.id),
            "credits": totals.available,
            "balance": totals.balance,
            "held": totals.held,
            "agent_instructions": (
                f"{totals.available} credits available ({totals.held} reserved by running "
                "work). Use POST /credits/estimate to price an operation before running it."
            ),
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.OutputSerializer(data).data)


class CreditsEstimateApi(APIView):
    """Prices an operation and issues a signed, single-use quote (free; reserves nothing).

    Rows come from the list (`enrich_list`) or cohort (`enrich_task`), never from `row_count`;
    leads that already hold the data are not priced unless `extra.output` is `overwrite`.
    The enrichment type is read from `enrichment_type`, else `scope`, else `data_points`
    (Email+Phone → full, Phone → phone_only), else `include_phone` (→ phone_only), else
    partial; `phone-only` and `phone_only` are the same."""

    required_scope = scopes.CREDITS_READ
    error_codes = {404: ["not_found"]}

    class InputSerializer(serializers.Serializer):
        tool = serializers.ChoiceField(choices=Tool.values)
        list_id = serializers.CharField(required=False, allow_null=True, max_length=64)
        filters = serializers.DictField(required=False, allow_null=True)
        row_count = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=0,
            help_text=(
                "Ignored: rows are derived; for run_smart_agent, the run's max_rows (rows are "
                "the list's, at most this many)."
            ),
        )
        scope = serializers.CharField(required=False, allow_null=True, allow_blank=True)
        agent_type = serializers.CharField(required=False, allow_null=True, allow_blank=True)
        include_phone = serializers.BooleanField(required=False, allow_null=True, default=False)
        provider = serializers.CharField(required=False, allow_null=True, allow_blank=True)
        sub_action = serializers.CharField(required=False, allow_null=True, allow_blank=True)
        enrichment_type = serializers.CharField(required=False, allow_null=True, allow_blank=True)
        task_id = serializers.CharField(required=False, allow_null=True, max_length=200)
        data_points = serializers.ListField(
            child=serializers.CharField(), required=False, allow_null=True, max_length=20
        )
        entity_ids = serializers.ListField(
            child=serializers.CharField(max_length=200),
            required=False,
            allow_null=True,
            max_length=2000,
        )
        column_name = serializers.CharField(
            required=False,
            allow_null=True,
            max_length=100,
            trim_whitespace=False,
            help_text="run_smart_agent: the column the run fills (or `extra.column_name`).",
        )
        extra = serializers.DictField(
            required=False,
            allow_null=True,
            help_text=(
                '`{"output": "overwrite"}` prices all rows; `{"column_name": …}` names a smart '
                "agent's column (also accepted at the top level)."
            ),
        )

    class OutputSerializer(serializers.Serializer):
        quote_id = serializers.CharField()
        expires_at = serializers.IntegerField(help_text="Unix epoch seconds.")
        estimated_cost = serializers.IntegerField()
        tool = serializers.CharField()
        row_count = serializers.IntegerField()
        filter_hash = serializers.CharField()
        available_credits = serializers.IntegerField()
        sufficient = serializers.BooleanField()
        already_enriched = serializers.IntegerField()
        to_enrich = serializers.IntegerField()
        enrichment_type = serializers.CharField(allow_null=True)
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="credits_estimate", request=InputSerializer, responses=OutputSerializer
    )
    def post(self, request: ApiRequest) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        tool = data["tool"]
        if tool == Tool.RUN_SMART_AGENT:
            return Response(self.OutputSerializer(_smart_agent_estimate(request, data)).data)
        enrichment_type = prices.resolve_enrichment_type(
            enrichment_type=data.get("enrichment_type"),
            scope=data.get("scope"),
            data_points=data.get("data_points"),
            include_phone=data.get("include_phone"),
        )
        estimate = quote_create(
            workspace=request.auth.workspace,
            tool=tool,
            params={
                "list_id": data.get("list_id"),
                "task_id": data.get("task_id"),
                "entity_ids": data.get("entity_ids"),
                "enrichment_type": enrichment_type,
                "output": (data.get("extra") or {}).get("output"),
            },
        )
        quote = estimate.quote
        body = {
            "quote_id": quote.quote_id,
            "expires_at": int(quote.expires_at.timestamp()),
            "estimated_cost": quote.estimated_cost,
            "tool": quote.tool,
            "row_count": quote.row_count,
            "filter_hash": estimate.filter_hash,
            "available_credits": estimate.available_credits,
            "sufficient": estimate.sufficient,
            "already_enriched": quote.already_enriched,
            "to_enrich": estimate.to_enrich,
            "enrichment_type": None if tool == Tool.ENRICH_COMPANY else enrichment_type,
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.OutputSerializer(body).data)


def _smart_agent_estimate(request: ApiRequest, data: dict) -> dict:
    """`run_smart_agent`: rows are the list's, at most `row_count` (the run's `max_rows`; none
    for `lead_scope: "all"`); the quote binds list, agent type and column name."""
    extra = data.get("extra") or {}
    column_name = data.get("column_name") or extra.get("column_name")
    estimate = quote_create(
        workspace=request.auth.workspace,
        tool=Tool.RUN_SMART_AGENT,
        params={
            "list_id": data.get("list_id"),
            "agent_type": data.get("agent_type"),
            "column_name": column_name if isinstance(column_name, str) else None,
        },
        row_limit=data.get("row_count"),
    )
    quote = estimate.quote
    return {
        "quote_id": quote.quote_id,
        "expires_at": int(quote.expires_at.timestamp()),
        "estimated_cost": quote.estimated_cost,
        "tool": quote.tool,
        "row_count": quote.row_count,
        "filter_hash": estimate.filter_hash,
        "available_credits": estimate.available_credits,
        "sufficient": estimate.sufficient,
        "already_enriched": 0,
        "to_enrich": quote.row_count,
        "enrichment_type": None,
        "timestamp_ms": timestamp_ms(),
    }


class LedgerEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    amount = serializers.IntegerField()
    balance_delta = serializers.IntegerField()
    held_delta = serializers.IntegerField()
    balance_after = serializers.IntegerField()
    held_after = serializers.IntegerField()
    reference = serializers.CharField()
    hold_id = serializers.UUIDField(allow_null=True)
    workflow_id = serializers.CharField(allow_blank=True)
    quote_id = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class LedgerListApi(APIView):
    """The workspace's ledger, newest first, cursor-paginated."""

    required_scope = scopes.CREDITS_READ

    class InputSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(choices=LedgerEntry.Kind.values, required=False)
        workflow_id = serializers.CharField(required=False, max_length=200)
        limit = serializers.IntegerField(min_value=1, max_value=200, default=50)
        cursor = serializers.CharField(required=False)

    class OutputSerializer(serializers.Serializer):
        entries = LedgerEntrySerializer(many=True)
        cursor = serializers.CharField(allow_null=True, help_text="Pass back for the next page.")
        has_more = serializers.BooleanField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="credits_ledger",
        # From the serializer, so the documented bounds are the enforced ones.
        parameters=[InputSerializer],
        responses=OutputSerializer,
    )
    def get(self, request: ApiRequest) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        position = decode_cursor(query.get("cursor"), kind=_LEDGER_CURSOR)
        limit = query["limit"]
        entries = ledger_list(
            workspace=request.auth.workspace,
            kind=query.get("kind"),
            workflow_id=query.get("workflow_id"),
            before_id=position["before_id"] if position else None,
            limit=limit,
        )
        has_more = len(entries) > limit
        page = entries[:limit]
        cursor = make_cursor(kind=_LEDGER_CURSOR, before_id=page[-1].id) if has_more else None
        body = {
            "entries": page,
            "cursor": cursor,
            "has_more": has_more,
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.OutputSerializer(body).data)


class UsageRowSerializer(serializers.Serializer):
    group = serializers.CharField(help_text="The route, key prefix, day or error code.")
    calls = serializers.IntegerField()
    # DRF's serializer metaclass takes declared fields off the class, so this does not shadow
    # Serializer.errors as the stub assumes.
    errors = serializers.IntegerField()  # type: ignore[assignment]
    credits_spent = serializers.IntegerField(help_text="Only when grouped by day; else 0.")


class UsageReportApi(APIView):
    required_scope = scopes.CREDITS_READ

    class InputSerializer(serializers.Serializer):
        days = serializers.IntegerField(min_value=1, max_value=365, default=7)
        group_by = serializers.ChoiceField(choices=USAGE_GROUPS, default="tool")

    class OutputSerializer(serializers.Serializer):
        days = serializers.IntegerField()
        group_by = serializers.CharField()
        total_calls = serializers.IntegerField()
        total_errors = serializers.IntegerField()
        total_credits_spent = serializers.IntegerField()
        rows = UsageRowSerializer(many=True)

    @extend_schema(
        operation_id="usage_report",
        # From the serializer, so the documented bounds are the enforced ones.
        parameters=[InputSerializer],
        responses=OutputSerializer,
    )
    def get(self, request: ApiRequest) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        report = usage_report(workspace=request.auth.workspace, **params.validated_data)
        body = {
            **params.validated_data,
            "total_calls": report.total_calls,
            "total_errors": report.total_errors,
            "total_credits_spent": report.total_credits_spent,
            "rows": report.rows,
        }
        return Response(self.OutputSerializer(body).data)
