from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.models import ApiKey
from accounts.services import api_key_authenticate
from accounts.throttling import authentication_attempt_begin
from common.api import WorkspaceRequest


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer clapi_…`. No header → anonymous (the scope permission answers
    401); a header with an unknown, malformed or revoked key → 401 at once, and counts against
    the client address's failed-authentication limit (429 once it is used up)."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ApiKey, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts:
            return None
        attempt = authentication_attempt_begin(request)
        if parts[0].lower() != self.keyword or len(parts) != 2:
            raise AuthenticationFailed("Use `Authorization: Bearer clapi_…`.")
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid API key.") from None
        api_key = api_key_authenticate(raw_key=raw_key)
        if api_key is None:
            raise AuthenticationFailed("Invalid or revoked API key.")
        attempt.succeeded()
        return api_key, api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="sluice"'


class ApiRequest(WorkspaceRequest):
    """What every API view receives once ApiKeyAuthentication and the scope permission let it
    in: `request.auth` is the caller's key, `request.auth.workspace` its workspace. A type for
    annotations only; DRF builds a plain Request."""

    auth: ApiKey
