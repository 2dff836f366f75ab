from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey


class _KeyedThrottle(SimpleRateThrottle):
    def identity(self, api_key: ApiKey) -> str:
        raise NotImplementedError

    def get_cache_key(self, request, view) -> str | None:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return None  # public endpoints
        return self.cache_format % {"scope": self.scope, "ident": self.identity(api_key)}


class ApiKeyRateThrottle(_KeyedThrottle):
    scope = "api_key"

    def identity(self, api_key: ApiKey) -> str:
        return str(api_key.pk)


class WorkspaceRateThrottle(_KeyedThrottle):
    scope = "workspace"

    def identity(self, api_key: ApiKey) -> str:
        return str(api_key.workspace_id)
