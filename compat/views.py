"""What every dialect's view shares: the Cleanlist API's authentication, scopes, throttles and
error mapping (common.api_errors), with the error body in the dialect's own envelope."""

from typing import Any, cast

from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from accounts.schema import ScopedAutoSchema
from common.api_errors import api_exception_handler, to_application_error
from common.exceptions import ApplicationError, InternalError
from common.schema import ErrorResponseSerializer


class DialectAutoSchema(ScopedAutoSchema):
    """The Cleanlist schema's scopes and error statuses, documented with the dialect's own error
    body (the view's `error_serializer`)."""

    def _get_response_for_code(self, serializer: Any, *args: Any, **kwargs: Any) -> Any:
        if serializer is ErrorResponseSerializer:
            serializer = cast(DialectApiView, self.view).error_serializer
        return super()._get_response_for_code(serializer, *args, **kwargs)


class DialectApiView(APIView):
    """A dialect's view. Status codes, headers (Retry-After, WWW-Authenticate), logging and the
    rollback come from the one handler every API view uses; only the body is the dialect's,
    rendered by `render_error` and documented by `error_serializer`."""

    schema = DialectAutoSchema()
    error_serializer: type[Serializer]

    def render_error(self, error: ApplicationError) -> dict[str, Any]:
        raise NotImplementedError

    def get_exception_handler(self) -> Any:
        return self._handle_exception

    def _handle_exception(self, exc: Exception, context: dict[str, Any]) -> Response:
        response = api_exception_handler(exc, context)
        error = to_application_error(exc) or InternalError()
        response.data = self.render_error(error)
        return response
