"""What every dialect's view shares: the Cleanlist API's authentication, scopes, throttles and
error mapping (common.exceptions), with the error body in the dialect's own envelope."""

from typing import Any

from rest_framework.response import Response
from rest_framework.views import APIView

from common.exceptions import (
    ApplicationError,
    InternalError,
    api_exception_handler,
    to_application_error,
)


class DialectApiView(APIView):
    """A dialect's view. Status codes, headers (Retry-After, WWW-Authenticate), logging and the
    rollback come from the one handler every API view uses; only the body is the dialect's."""

    def render_error(self, error: ApplicationError) -> dict[str, Any]:
        raise NotImplementedError

    def get_exception_handler(self) -> Any:
        return self._handle_exception

    def _handle_exception(self, exc: Exception, context: dict[str, Any]) -> Response:
        response = api_exception_handler(exc, context)
        error = to_application_error(exc) or InternalError()
        response.data = self.render_error(error)
        return response
