"""URL configuration: accounts, the generations app and the admin."""

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.i18n import JavaScriptCatalog

from generations.api.urls import api_urls
from generations.views.accounts import LanguageSetView
from generations.views.alerts import ProviderAlertResolveView
from generations.views.health import HealthzView, MetricsView, ReadyzView
from generations.views.inputs import PublicInputView
from generations.views.site import FaviconView
from generations.views.webhooks import GenerationWebhookView

urlpatterns = [
    # Operations (issue #13): no login; /metrics wants the METRICS_TOKEN bearer.
    path("healthz", HealthzView.as_view(), name="healthz"),
    path("readyz", ReadyzView.as_view(), name="readyz"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    path("admin/", admin.site.urls),
    # Languages (docs/i18n.md): no language prefix on URLs, so the API's and the callbacks'
    # addresses stay stable; the switch posts here, and pages' scripts load their catalog.
    path("i18n/setlang/", LanguageSetView.as_view(), name="set_language"),
    # base.html asks for it with ?v=<language>, so a browser may keep each language's copy.
    path(
        "jsi18n/",
        login_not_required(cache_control(max_age=3600)(JavaScriptCatalog.as_view())),
        name="javascript-catalog",
    ),
    # The REST API (docs/api.md): bearer tokens, no session login.
    path("api/v1/", api_urls()),
    path("accounts/", include("generations.urls_accounts")),
    path("team/", include("generations.urls_team")),
    # Read-only, token in the path, no login: the provider fetches inputs here.
    path("inputs/<str:token>/", PublicInputView.as_view(), name="public_input"),
    # POST only, CSRF-exempt, no login: the provider's callbacks, token in the path.
    path(
        "webhooks/generations/<int:generation_id>/<str:token>/",
        GenerationWebhookView.as_view(),
        name="generation_webhook",
    ),
    path(
        "alerts/<int:pk>/resolve/",
        ProviderAlertResolveView.as_view(),
        name="provider_alert_resolve",
    ),
    path("", include("generations.urls")),
]
