import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.views import APIView

from accounts.permissions import ScopePermission
from accounts.scopes import ALL_SCOPES, ANY_SCOPE, PUBLIC, parse_scopes, required_scope_for
from accounts.services import api_key_revoke
from tests.helpers import assert_error
from tests.urlconf import api_endpoints

ENDPOINTS = api_endpoints()
SCOPED = [
    e for e in ENDPOINTS if required_scope_for(e.view_class, e.method) not in (ANY_SCOPE, PUBLIC)
]
AUTHENTICATED = [e for e in ENDPOINTS if required_scope_for(e.view_class, e.method) != PUBLIC]


def _ids(endpoints):
    return [f"{e.method} {e.route}" for e in endpoints]


def test_urlconf_every_api_view_declares_a_scope_for_every_method():
    # given every view under both prefixes
    endpoints = api_endpoints("api/v2/") + api_endpoints("api/v1/public/")
    assert len(endpoints) > 3
    for endpoint in endpoints:
        # then each method resolves to a known scope and the one permission class enforces it
        assert required_scope_for(endpoint.view_class, endpoint.method)
        assert ScopePermission in endpoint.view_class.permission_classes, endpoint


def test_urlconf_both_prefixes_serve_the_same_views():
    v2 = {(e.route.removeprefix("api/v2/"), e.view_class, e.method) for e in api_endpoints()}
    v1 = {
        (e.route.removeprefix("api/v1/public/"), e.view_class, e.method)
        for e in api_endpoints("api/v1/public/")
    }
    assert v1 == v2


def test_required_scope_for_a_view_without_declaration_fails_loudly():
    class Undeclared(APIView):
        def get(self, request): ...

    with pytest.raises(ImproperlyConfigured):
        required_scope_for(Undeclared(), "GET")


@pytest.mark.parametrize("endpoint", SCOPED, ids=_ids(SCOPED))
def test_scope_matrix_missing_scope_is_403_with_required_scope(make_client, workspace, endpoint):
    # given a key holding every scope but the one this operation needs
    required = required_scope_for(endpoint.view_class, endpoint.method)
    client = make_client(workspace, scopes=[s for s in ALL_SCOPES if s != required])
    # when
    response = getattr(client, endpoint.method.lower())(endpoint.sample_path(), format="json")
    # then
    error = assert_error(response, 403, "insufficient_scope")
    assert error["details"]["required_scope"] == required
    assert required not in error["details"]["granted_scopes"]


@pytest.mark.parametrize("endpoint", AUTHENTICATED, ids=_ids(AUTHENTICATED))
def test_scope_matrix_no_key_unknown_key_revoked_key_are_401(
    client, make_client, workspace, endpoint
):
    call = getattr(client, endpoint.method.lower())
    path = endpoint.sample_path()
    assert_error(call(path), 401, "unauthorized")
    assert_error(call(path, HTTP_AUTHORIZATION="Bearer clapi_nope"), 401, "unauthorized")
    assert_error(call(path, HTTP_AUTHORIZATION="Basic abc"), 401, "unauthorized")
    revoked = make_client(workspace)
    api_key_revoke(api_key=revoked.api_key)
    response = getattr(revoked, endpoint.method.lower())(path)
    assert_error(response, 401, "unauthorized")


def test_parse_scopes_accepts_all_and_rejects_unknown():
    assert parse_scopes("all") == list(ALL_SCOPES)
    assert parse_scopes("lists:read, lists:read,enrich:write") == ["lists:read", "enrich:write"]
    with pytest.raises(ValueError, match="Unknown scopes"):
        parse_scopes("lists:read,root")
