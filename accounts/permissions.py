from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import ApiKey
from accounts.scopes import ANY_SCOPE, PUBLIC, required_scope_for
from common.exceptions import InsufficientScope, Unauthorized

if TYPE_CHECKING:
    # rest_framework.views imports the permission classes while it loads.
    from rest_framework.views import APIView


class ScopePermission(BasePermission):
    """The one permission every API view uses; the view declares `required_scope`."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        method = request.method
        if method is None or not hasattr(view, method.lower()):
            # A method the view does not serve (TRACE, …) has no scope to check: DRF answers
            # 405 right after this, instead of required_scope_for failing loudly with a 500.
            return True
        scope = required_scope_for(view, method)
        if scope == PUBLIC:
            return True
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            raise Unauthorized()
        if scope == ANY_SCOPE or scope in api_key.scopes:
            return True
        raise InsufficientScope(
            f"This API key lacks the `{scope}` scope.",
            details={"required_scope": scope, "granted_scopes": list(api_key.scopes)},
        )
