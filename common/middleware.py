import logging
import re
import secrets
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from common.context import request_id_var

logger = logging.getLogger("sluice.request")

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
API_PATH_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PATH_PREFIX)


class RequestIdMiddleware:
    """Gives every request an id (the client's `X-Request-ID` when it is sane), puts it on the
    response and on every log line, and logs one line per API request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if _CLIENT_REQUEST_ID.match(offered) else f"req_{secrets.token_hex(8)}"
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            if is_api_request(request):
                api_key = getattr(request, "auth", None)
                logger.info(
                    "%s %s %s %.1fms",
                    request.method,
                    request.path,
                    response.status_code,
                    (time.perf_counter() - started) * 1000,
                    extra={"key_prefix": getattr(api_key, "prefix", None)},
                )
            return response
        finally:
            request_id_var.reset(token)
