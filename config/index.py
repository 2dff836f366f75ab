"""`GET /`: a small JSON index of what this server serves (the API under each prefix with its
schema and docs, the admin, the health and metrics endpoints), for whoever opens the root first.
Public, like the docs: no API key, no throttling, no usage accounting."""

from dataclasses import dataclass

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import ScopePermission
from accounts.scopes import PUBLIC


@dataclass(frozen=True)
class ApiSurface:
    prefix: str
    schema: str
    docs: str


@dataclass(frozen=True)
class Dialect:
    name: str
    schema: str


@dataclass(frozen=True)
class SiteIndex:
    name: str
    api: list[ApiSurface]
    dialects: list[Dialect]
    admin: str
    health: str
    ready: str
    metrics: str


class ApiSurfaceSerializer(serializers.Serializer):
    prefix = serializers.CharField(help_text="Every operation under this path, e.g. /api/v2")
    schema = serializers.CharField(help_text="The OpenAPI document of this prefix")
    docs = serializers.CharField(help_text="Swagger UI for this prefix")


class DialectSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The vendor whose API this is (docs/compatibility.md)")
    schema = serializers.CharField(help_text="Its OpenAPI document, listing its paths")


# Other vendors' APIs served beside Cleanlist's: (vendor, URL name of its OpenAPI document).
DIALECTS = (
    ("Lance", "lance-schema"),
    ("Enrich Leads API", "enrichleads-schema"),
    ("LocalLeads", "localleads-schema"),
)


class IndexApi(APIView):
    """Where the API, its docs, the admin and the operator endpoints are (paths on this host)."""

    required_scope = PUBLIC
    authentication_classes = []
    permission_classes = [ScopePermission]
    throttle_classes = []
    # URL namespace -> the prefix it is mounted under ("api/v2/"); given by config/urls.py.
    api_prefixes: dict[str, str] = {}

    class OutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        api = ApiSurfaceSerializer(many=True, help_text="The same operations under each prefix")
        dialects = DialectSerializer(many=True, help_text="Other vendors' APIs, at their paths")
        admin = serializers.CharField(help_text="Django admin (a superuser's login)")
        health = serializers.CharField(help_text="Liveness: database and broker reachable")
        ready = serializers.CharField(help_text="Readiness: dependencies up, migrations applied")
        metrics = serializers.CharField(help_text="Prometheus metrics")

    @extend_schema(operation_id="index", responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        index = SiteIndex(
            name="Sluice",
            api=[
                ApiSurface(
                    prefix="/" + prefix.rstrip("/"),
                    schema=reverse(f"{namespace}:schema"),
                    docs=reverse(f"{namespace}:docs"),
                )
                for namespace, prefix in self.api_prefixes.items()
            ],
            dialects=[Dialect(name=name, schema=reverse(url)) for name, url in DIALECTS],
            admin=reverse("admin:index"),
            health=reverse("healthz"),
            ready=reverse("readyz"),
            metrics=reverse("metrics"),
        )
        return Response(self.OutputSerializer(index).data)
