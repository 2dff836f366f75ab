from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import ApiKey
from accounts.scopes import ANY_SCOPE, PUBLIC, required_scope_for
from common.exceptions import InsufficientScope, Unauthorized


class ScopePermission(BasePermission):
    """The one permission every API view uses; the view declares `required_scope`."""

    def has_permission(self, request: Request, view) -> bool:
        if not hasattr(view, request.method.lower()):
            # A method the view does not serve (TRACE, …) has no scope to check: DRF answers
            # 405 right after this, instead of required_scope_for failing loudly with a 500.
            return True
        scope = required_scope_for(view, request.method)
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
