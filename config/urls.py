"""URL configuration. The public API is mounted twice, under `/api/v2` (Cleanlist's current
surface, used by the official SDK) and `/api/v1/public` (the `poll_url` form of older docs);
both serve the same views."""

from types import SimpleNamespace

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.permissions import ScopePermission
from accounts.scopes import PUBLIC
from config.index import IndexApi

# Every app's admin module registers its models (SimpleAdminConfig in INSTALLED_APPS leaves
# this to the URLconf, which only web processes load).
admin.autodiscover()


class SchemaApi(SpectacularAPIView):
    required_scope = PUBLIC
    authentication_classes = []
    permission_classes = [ScopePermission]
    throttle_classes = []


class DocsApi(SpectacularSwaggerView):
    required_scope = PUBLIC
    authentication_classes = []
    permission_classes = [ScopePermission]
    throttle_classes = []


def _api_patterns(namespace: str) -> list:
    # Each prefix documents only itself, so operation ids stay the SDK's method names.
    schema_urlconf = SimpleNamespace(
        urlpatterns=[path(_PREFIXES[namespace], include((_operations(), "api"), namespace))]
    )
    return [
        *_operations(),
        path("schema", SchemaApi.as_view(urlconf=schema_urlconf), name="schema"),
        path("docs", DocsApi.as_view(url_name=f"{namespace}:schema"), name="docs"),
    ]


def _operations() -> list:
    return [
        path("", include("accounts.urls")),
        path("", include("leads.urls")),
        path("", include("credits.urls")),
        path("", include("enrichment.urls")),
        path("", include("agents.urls")),
        path("", include("providers.urls")),
        path("", include("privacy.urls")),
    ]


_PREFIXES = {"v2": "api/v2/", "v1": "api/v1/public/"}


urlpatterns = [
    path("", IndexApi.as_view(api_prefixes=_PREFIXES), name="index"),
    path(_PREFIXES["v2"], include((_api_patterns("v2"), "api"), namespace="v2")),
    path(_PREFIXES["v1"], include((_api_patterns("v1"), "api"), namespace="v1")),
    path("admin/", admin.site.urls),
    # The seed vendors' own APIs, each at its own paths (compat/urls.py).
    path("", include("compat.urls")),
    # Operator endpoints at the root (/healthz, /readyz, /metrics): plain views, no API key.
    path("", include("ops.urls")),
]

handler404 = "common.views.not_found"
handler500 = "common.views.server_error"
