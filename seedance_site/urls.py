"""URL configuration: accounts, the generations app and the admin."""

from django.contrib import admin
from django.urls import include, path

from generations.api.urls import api_urls
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
