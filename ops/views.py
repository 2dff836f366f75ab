"""Operator endpoints at the site root: plain Django views outside the API (no API key, no
throttling, no usage accounting), cheap enough for a probe every few seconds."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from ops import health, metrics
from providers.selectors import provider_marks


def _health_response(checks: dict[str, health.CheckResult], **details: object) -> JsonResponse:
    status = health.overall(checks)
    return JsonResponse(
        {"status": status, "checks": checks, **details}, status=200 if status == "ok" else 503
    )


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness plus dependencies: the database answers `SELECT 1` and the broker is reachable."""
    return _health_response(health.dependency_checks())


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready for traffic: dependencies up and every migration applied. `providers` lists the
    providers stopped for every worker (out of credits, bad key): details only, since the
    waterfall falls through to the next provider, they do not make the process unready."""
    checks = health.readiness_checks()
    stopped = provider_marks() if checks["migrations"]["status"] == "ok" else {}
    return _health_response(checks, providers=stopped)


def _authorised(request: HttpRequest) -> bool:
    token = settings.SLUICE_METRICS_TOKEN
    if not token:
        return True
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    # As bytes: compare_digest refuses str holding anything but ASCII.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        offered.strip().encode(), token.encode()
    )


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorised(request):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_LATEST)
