import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.services import usage_record
from common.middleware import is_api_request

logger = logging.getLogger("sluice.request")


class ApiUsageMiddleware:
    """Counts every authenticated API request per key, route and status (one upsert)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        api_key = getattr(request, "auth", None)
        if api_key is not None and is_api_request(request):
            try:
                usage_record(api_key=api_key, request=request, response=response)
            except Exception:
                # Usage accounting must never turn a served request into an error.
                logger.exception("Could not record API usage")
        return response
