"""HTTP: a workspace's waterfall configuration and its provider analytics."""

from uuid import UUID

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import scopes
from accounts.authentication import ApiRequest
from common.api import reject_unknown_fields
from providers.analytics import provider_analytics
from providers.base import DataPoint
from providers.configuration import MIN_STATUS_CHOICES, ORDERED_DATA_POINTS
from providers.models import CatchAllPolicy
from providers.selectors import waterfall_describe
from providers.waterfalls import waterfall_config_set

_ORDER_HELP = 'An ordered list of provider names among `available`, or "auto".'


class _OrdersSerializer(serializers.Serializer):
    email = serializers.ListField(child=serializers.CharField())
    phone = serializers.ListField(child=serializers.CharField())
    company = serializers.ListField(child=serializers.CharField())


class _AvailableSerializer(_OrdersSerializer):
    verifier = serializers.ListField(child=serializers.CharField())


class _AutoReasonSerializer(serializers.Serializer):
    provider = serializers.CharField()
    calls = serializers.IntegerField(
        allow_null=True,
        help_text="Answered calls in the window (null when ranked on the operator's records).",
    )
    hits = serializers.IntegerField(allow_null=True, help_text="Verified hits among them.")
    cost = serializers.FloatField(allow_null=True, help_text="Provider cost of those calls.")
    hit_rate = serializers.FloatField(help_text="With the prior.")
    cost_per_call = serializers.FloatField(help_text="With the prior.")
    expected_cost_per_hit = serializers.FloatField(allow_null=True)
    operator_position = serializers.IntegerField()


class _AutoSerializer(serializers.Serializer):
    data_point = serializers.CharField()
    order = serializers.ListField(child=serializers.CharField())
    # DRF's metaclass moves declared fields off the class, so this does not shadow Field.source.
    source = serializers.CharField(  # type: ignore[assignment]
        help_text="workspace, operator (too few own calls) or prior."
    )
    explore_share = serializers.FloatField()
    reasons = _AutoReasonSerializer(many=True)


class WaterfallSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="0: the operator's defaults.")
    email = serializers.ListField(child=serializers.CharField(), help_text=_ORDER_HELP)
    phone = serializers.ListField(child=serializers.CharField(), help_text=_ORDER_HELP)
    company = serializers.ListField(child=serializers.CharField(), help_text=_ORDER_HELP)
    verifier = serializers.CharField(allow_blank=True)
    catch_all_policy = serializers.ChoiceField(choices=CatchAllPolicy.values)
    min_email_status = serializers.CharField()
    updated_at = serializers.DateTimeField(allow_null=True)
    available = _AvailableSerializer()
    effective = _OrdersSerializer(help_text="The orders a run started now would use.")
    auto = _AutoSerializer(many=True)


def _waterfall_body(workspace_id: UUID) -> dict:
    described = waterfall_describe(workspace_id=workspace_id)
    effective = described.effective
    return {
        "version": effective.version,
        **described.chosen,
        "verifier": described.verifier,
        "catch_all_policy": described.catch_all_policy,
        "min_email_status": described.min_email_status,
        "updated_at": described.config.created_at if described.config else None,
        "available": described.available,
        "effective": {str(dp): list(effective.orders[dp]) for dp in ORDERED_DATA_POINTS},
        "auto": [
            {
                "data_point": str(dp),
                "order": list(choice.order),
                "source": choice.source,
                "explore_share": choice.explore_share,
                "reasons": list(choice.reasons),
            }
            for dp, choice in effective.auto.items()
        ],
    }


class WaterfallApi(APIView):
    """The workspace's waterfall: per data point the provider order (or `auto`), the verifier,
    the catch-all policy and the lowest email status that counts as found; with what the
    operator offers and what a run would use now."""

    required_scope = {"GET": scopes.ENRICH_READ, "PUT": scopes.ADMIN_API_KEYS}

    class InputSerializer(serializers.Serializer):
        email = serializers.JSONField(required=False, help_text=_ORDER_HELP)
        phone = serializers.JSONField(required=False, help_text=_ORDER_HELP)
        company = serializers.JSONField(required=False, help_text=_ORDER_HELP)
        verifier = serializers.CharField(required=False, allow_blank=True, max_length=64)
        catch_all_policy = serializers.ChoiceField(choices=CatchAllPolicy.values, required=False)
        min_email_status = serializers.ChoiceField(
            choices=[str(s) for s in MIN_STATUS_CHOICES], required=False
        )

    @extend_schema(operation_id="waterfall_get", responses=WaterfallSerializer)
    def get(self, request: ApiRequest) -> Response:
        body = _waterfall_body(request.auth.workspace.pk)
        return Response(WaterfallSerializer(body).data)

    @extend_schema(
        operation_id="waterfall_set", request=InputSerializer, responses=WaterfallSerializer
    )
    def put(self, request: ApiRequest) -> Response:
        """Writes the next version; fields left out take the operator's defaults (a misspelt
        field is refused rather than reset)."""
        reject_unknown_fields(request.data, self.InputSerializer)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        workspace = request.auth.workspace
        waterfall_config_set(
            workspace=workspace,
            orders={dp: data[str(dp)] for dp in ORDERED_DATA_POINTS if str(dp) in data},
            verifier=data.get("verifier"),
            catch_all_policy=data.get("catch_all_policy"),
            min_email_status=data.get("min_email_status"),
            changed_by=request.auth.prefix,
        )
        return Response(WaterfallSerializer(_waterfall_body(workspace.pk)).data)


class _ErrorsSerializer(serializers.Serializer):
    rate_limited = serializers.IntegerField()
    out_of_credits = serializers.IntegerField()
    auth_failed = serializers.IntegerField()
    transient_error = serializers.IntegerField()
    permanent_error = serializers.IntegerField()


class _ProviderFiguresSerializer(serializers.Serializer):
    provider = serializers.CharField()
    calls = serializers.IntegerField(help_text="Real calls (retries included), cache hits apart.")
    cache_hits = serializers.IntegerField()
    found = serializers.IntegerField()
    verified = serializers.IntegerField(help_text="Found and accepted as found.")
    hit_rate = serializers.FloatField(allow_null=True, help_text="verified / answered calls")
    catch_all_share = serializers.FloatField(allow_null=True, help_text="risky / found")
    not_found = serializers.IntegerField()
    # DRF's metaclass moves declared fields off the class: no clash with Serializer.errors.
    errors = _ErrorsSerializer()  # type: ignore[assignment]
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)
    cost = serializers.FloatField(help_text="In the provider's own credits.")
    cost_per_verified_hit = serializers.FloatField(allow_null=True)
    exhausted_until = serializers.DateTimeField(
        allow_null=True, help_text='Set while an "out of credits" cool-down stops its calls.'
    )


class _StepSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    hits = serializers.IntegerField()
    coverage = serializers.FloatField(allow_null=True, help_text="Cumulative, 0..1.")
    providers = serializers.ListField(child=serializers.CharField())


class ProviderAnalyticsApi(APIView):
    """Per provider and for the whole waterfall, over the last `days` days of this workspace's
    call records: calls, found, verified, catch-all share, errors by kind, latency, cost and
    cost per verified hit; coverage after each step; the `auto` order with its reasons."""

    required_scope = scopes.ENRICH_READ

    class QuerySerializer(serializers.Serializer):
        days = serializers.IntegerField(required=False, default=30, min_value=1, max_value=365)
        data_point = serializers.ChoiceField(
            choices=[str(dp) for dp in ORDERED_DATA_POINTS], required=False, default="email"
        )

    class OutputSerializer(serializers.Serializer):
        data_point = serializers.CharField()
        days = serializers.IntegerField()
        since = serializers.DateTimeField()
        lookups = serializers.IntegerField(help_text="Leads looked up.")
        verified = serializers.IntegerField()
        coverage = serializers.FloatField(allow_null=True)
        cost = serializers.FloatField()
        verification_cost = serializers.FloatField(
            help_text="Emails: what the verifier's calls cost."
        )
        cost_per_verified_hit = serializers.FloatField(
            allow_null=True, help_text="(cost + verification_cost) / verified"
        )
        providers = _ProviderFiguresSerializer(many=True)
        steps = _StepSerializer(many=True)
        auto = _AutoSerializer(allow_null=True)

    @extend_schema(
        operation_id="providers_analytics",
        parameters=[QuerySerializer],
        responses=OutputSerializer,
    )
    def get(self, request: ApiRequest) -> Response:
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        days, data_point = query.validated_data["days"], query.validated_data["data_point"]
        workspace = request.auth.workspace
        figures = provider_analytics(
            days=days, data_point=DataPoint(data_point), workspace_id=workspace.pk
        )
        auto = figures.auto
        body = {
            "data_point": data_point,
            "days": days,
            "since": figures.since,
            "lookups": figures.lookups,
            "verified": figures.verified,
            "coverage": figures.coverage,
            "cost": figures.cost,
            "verification_cost": figures.verification_cost,
            "cost_per_verified_hit": figures.cost_per_verified_hit,
            "providers": [
                {
                    **vars(p),
                    "hit_rate": p.hit_rate,
                    "catch_all_share": p.catch_all_share,
                    "cost_per_verified_hit": p.cost_per_verified_hit,
                }
                for p in figures.providers
            ],
            "steps": [vars(s) for s in figures.steps],
            "auto": None
            if auto is None
            else {
                "data_point": data_point,
                "order": auto.order,
                "source": auto.source,
                "explore_share": settings.SLUICE_AUTO_ORDER_EXPLORE_SHARE,
                "reasons": auto.reasons,
            },
        }
        return Response(self.OutputSerializer(body).data)
