from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import scopes
from accounts.authentication import ApiRequest
from accounts.selectors import api_key_list
from common.api import timestamp_ms

# The SDK's `WhoamiResponse.tier` is an enum of Cleanlist's plans and rejects anything else. A
# self-hosted workspace has every feature, so a tier outside the enum is reported as the top plan.
SDK_TIERS = ("free", "starter", "pro", "enterprise")

FEATURES = ["enrichment", "waterfall", "lead_lists", "csv_import", "export", "search", "webhooks"]


class ApiKeySerializer(serializers.Serializer):
    """An API key's metadata; the secret is never stored, so never shown."""

    key_id = serializers.CharField(source="id")
    key_prefix = serializers.CharField(source="prefix")
    key_last4 = serializers.CharField(source="last4")
    name = serializers.CharField(allow_null=True)
    scopes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    is_active = serializers.BooleanField()


class WhoamiApi(APIView):
    required_scope = scopes.ANY_SCOPE

    class OutputSerializer(serializers.Serializer):
        organization_id = serializers.CharField()
        organization_name = serializers.CharField()
        auth_type = serializers.CharField()
        scopes = serializers.ListField(child=serializers.CharField())
        tier = serializers.CharField()
        features = serializers.ListField(child=serializers.CharField())
        user_email = serializers.CharField(allow_null=True)
        user_id = serializers.CharField(allow_null=True)
        user_name = serializers.CharField(allow_null=True)
        key_id = serializers.CharField()
        key_prefix = serializers.CharField()
        timestamp_ms = serializers.IntegerField()

    @extend_schema(operation_id="whoami", responses=OutputSerializer)
    def get(self, request: ApiRequest) -> Response:
        api_key = request.auth
        workspace = api_key.workspace
        data = {
            "organization_id": str(workspace.id),
            "organization_name": workspace.name,
            "auth_type": "api_key",
            "scopes": api_key.scopes,
            "tier": workspace.tier if workspace.tier in SDK_TIERS else "enterprise",
            "features": FEATURES,
            # API keys are not people; Cleanlist masks the creator's address for keys anyway.
            "user_email": None,
            "user_id": None,
            "user_name": api_key.name or None,
            "key_id": str(api_key.id),
            "key_prefix": api_key.prefix,
            "timestamp_ms": timestamp_ms(),
        }
        return Response(self.OutputSerializer(data).data)


class ApiKeyListApi(APIView):
    required_scope = scopes.ADMIN_API_KEYS

    class OutputSerializer(serializers.Serializer):
        keys = ApiKeySerializer(many=True)

    @extend_schema(operation_id="list_api_keys", responses=OutputSerializer)
    def get(self, request: ApiRequest) -> Response:
        keys = api_key_list(workspace=request.auth.workspace)
        return Response(self.OutputSerializer({"keys": keys}).data)
