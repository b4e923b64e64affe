"""Request id: one id per request, from the proxy when it sent a usable one, on every log line.

Issue #13 item 9. The id comes from the ``X-Request-ID`` header when it is well-formed (what
nginx's ``$request_id`` and most load balancers send: 8-128 letters, digits, ``.``, ``_`` or
``-``), else a new random one, so a forged header cannot inject text into the logs. It is set on
the response's ``X-Request-ID`` (gunicorn's access log prints it from there) and bound for
logging (``generations.log_context``) with the request, whose user id the log lines carry once
authentication has loaded the user.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .log_context import request_id_var, request_var

HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{8,128}")


def request_id_from(request: HttpRequest) -> str:
    """Return the proxy's ``X-Request-ID`` if well-formed, else a new 32-hex-digit id."""
    given = request.headers.get(HEADER, "")
    return given if _WELL_FORMED.fullmatch(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Bind a request id (and the request) for logging; echo the id on the response.

    Place it first in ``MIDDLEWARE`` so every other middleware's log lines carry the id.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_from(request)
        request_token = request_id_var.set(request.request_id)
        request_bound = request_var.set(request)
        try:
            response = self.get_response(request)
        finally:
            request_var.reset(request_bound)
            request_id_var.reset(request_token)
        response[HEADER] = request.request_id
        return response


class RequestSizeLimitMiddleware:
    """Answer 413 to a request whose declared body is over ``uploads.REQUEST_MAX_BYTES``.

    Issue #12 item 11: such a body is refused before a byte of it is read, so it is never
    spooled to disk. Bodies sent without a Content-Length are cut off by
    ``uploads.LimitedUploadHandler`` as they stream. Place it after the authentication
    middleware (the page shows the usual navigation) and before anything reads the body.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.shortcuts import render

        from .uploads import MB, REQUEST_MAX_BYTES

        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > REQUEST_MAX_BYTES and request.path.startswith("/api/"):
            from .api.problems import ApiProblem

            limit = f"{REQUEST_MAX_BYTES // MB} MB"
            response = ApiProblem(413, "too-large", f"The body is over {limit}.").response()
            response["Connection"] = "close"
            return response
        if declared > REQUEST_MAX_BYTES:
            response = render(
                request,
                "413.html",
                {"limit_mb": REQUEST_MAX_BYTES // MB, "declared_mb": declared // MB},
                status=413,
            )
            response["Connection"] = "close"  # the unread body must not be taken as a request
            return response
        return self.get_response(request)


class UserLanguageMiddleware:
    """Activate a signed-in user's saved language (``User.language``) over the browser's.

    docs/i18n.md "Choosing the language": ``LocaleMiddleware`` (before this one) picks the
    language from the switch's cookie or ``Accept-Language``; a user who saved a preference on
    the profile or with the switch gets that language instead, on every device. Place it after
    ``AuthenticationMiddleware``. Requests without a session cookie (the API, webhooks, health
    checks) never load a user here.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings
        from django.utils import translation

        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            user = getattr(request, "user", None)
            language = getattr(user, "language", "") if user is not None else ""
            if language and user.is_authenticated:
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class NodeProbeMiddleware:
    """Serve ``/healthz``, ``/readyz`` and ``/metrics`` before host validation and HTTPS redirect.

    docs/deploy.md "Health, metrics and logs": a load balancer's health check and a Prometheus
    scrape reach each web node directly (``http://10.0.0.11:8000/readyz``), with the node's
    address as ``Host`` and over plain HTTP. Through the usual chain such a request gets 400
    (the address is not in ``ALLOWED_HOSTS``) or, with the public host name, a 301 to HTTPS.
    These three views build no URL from the ``Host`` header and set no cookie, so for exactly
    these paths (``request.path_info``, any method: the views answer 405 to all but GET and
    HEAD) this middleware calls the view itself and returns its answer; every other path goes
    on unchanged. ``/metrics`` keeps its ``METRICS_TOKEN`` check (in the view). Place it right
    after ``RequestIdMiddleware`` (the probe's log lines keep their request id) and before
    ``SecurityMiddleware`` and ``CommonMiddleware``, which validate the host.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from .views.health import HealthzView, MetricsView, ReadyzView

        self.get_response = get_response
        self.views = {
            "/healthz": HealthzView.as_view(),
            "/readyz": ReadyzView.as_view(),
            "/metrics": MetricsView.as_view(),
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.views.get(request.path_info)
        if view is None:
            return self.get_response(request)
        response = view(request)
        # What SecurityMiddleware would have added; the body is JSON or plain text.
        response.setdefault("X-Content-Type-Options", "nosniff")
        return response
