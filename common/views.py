"""Django-level error handlers: JSON in the API error shape under the API prefixes, Django's
default pages elsewhere (admin)."""

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from common.exceptions import InternalError, NotFound, error_json_response
from common.middleware import is_api_request


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return error_json_response(NotFound())
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_request(request):
        return error_json_response(InternalError())
    return defaults.server_error(request)
