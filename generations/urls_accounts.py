"""Account URLs: Django's auth views (login, logout, password change and reset), profile."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from .forms.accounts import LanguagePasswordResetForm
from .views import accounts, api_access, team

urlpatterns = [
    path("profile/", accounts.ProfileView.as_view(), name="profile"),
    # The profile's API section (docs/api.md): tokens and webhook endpoints.
    path("profile/tokens/", api_access.ApiTokenCreateView.as_view(), name="api_token_create"),
    path(
        "profile/tokens/<int:pk>/revoke/",
        api_access.ApiTokenRevokeView.as_view(),
        name="api_token_revoke",
    ),
    path(
        "profile/webhooks/", api_access.WebhookEndpointCreateView.as_view(), name="webhook_create"
    ),
    path(
        "profile/webhooks/<int:pk>/delete/",
        api_access.WebhookEndpointDeleteView.as_view(),
        name="webhook_delete",
    ),
    path(
        "profile/webhooks/<int:pk>/enable/",
        api_access.WebhookEndpointEnableView.as_view(),
        name="webhook_enable",
    ),
    path("invite/<str:token>/", team.InvitationAcceptView.as_view(), name="invitation_accept"),
    # Django's view, with the e-mail in the user's saved language (docs/i18n.md "E-mails").
    path(
        "password_reset/",
        auth_views.PasswordResetView.as_view(form_class=LanguagePasswordResetForm),
        name="password_reset",
    ),
    path("", include("django.contrib.auth.urls")),
]
