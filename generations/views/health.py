"""``/healthz``, ``/readyz`` and ``/metrics`` (issue #13 items 7 and 8;
docs/architecture.md "Configuration").

No login (load balancers and Prometheus call them), no session, GET only, never cached.
``/metrics`` answers only a request carrying ``Authorization: Bearer $METRICS_TOKEN``
(compared in constant time) and is 404 while ``METRICS_TOKEN`` is empty.
"""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST

from ..health import readiness
from ..metrics import metrics_text


@method_decorator([login_not_required, never_cache], name="dispatch")
class HealthzView(View):
    """Answer 200 while the process serves requests; touches no database or cache."""

    http_method_names = ["get", "head"]

    def get(self, request) -> JsonResponse:
        return JsonResponse({"status": "ok"})


@method_decorator([login_not_required, never_cache], name="dispatch")
class ReadyzView(View):
    """Answer 200 when every dependency is usable, else 503; JSON with each check.

    Checks (``generations.health``): database, migrations applied, cache, broker, the
    dispatcher's lease renewed recently, at least one worker node's heartbeat, and the
    provider setup (informational, never failing: it names the simulator in production;
    docs/operations.md "Health endpoints").
    """

    http_method_names = ["get", "head"]

    def get(self, request) -> JsonResponse:
        ok, checks = readiness()
        return JsonResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status=200 if ok else 503,
        )


@method_decorator([login_not_required, never_cache], name="dispatch")
class MetricsView(View):
    """Serve the Prometheus text format to the holder of ``METRICS_TOKEN``.

    404 while the token is unset (the endpoint does not exist), 401 without the right
    ``Authorization: Bearer`` header.
    """

    http_method_names = ["get", "head"]

    def get(self, request) -> HttpResponse:
        token = settings.METRICS_TOKEN
        if not token:
            return HttpResponse("Not found.\n", status=404, content_type="text/plain")
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not constant_time_compare(given.strip(), token):
            response = HttpResponse("Unauthorized.\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
