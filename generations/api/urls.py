"""URL patterns of the REST API, mounted at ``/api/v1/`` by ``seedance_site.urls``.

The API authenticates with bearer tokens, not the session: its views are exempt from the
login middleware (which would send a script to the login page) and from CSRF (no cookie is
used). Any other path under ``/api/v1/`` is a problem+json 404.
"""

from django.contrib.auth.decorators import login_not_required
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from .views import api, api_not_found


def api_urls() -> tuple[list, str, str]:
    """Return ``(patterns, app_name, namespace)`` for ``path("api/v1/", ...)``."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        login_not_required(pattern.callback)
    patterns.append(
        path(
            "<path:rest>",
            login_not_required(csrf_exempt(api_not_found)),
            name="not_found",
        )
    )
    return patterns, app_name, namespace
