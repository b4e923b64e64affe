"""URL configuration: accounts, the generations app and the admin."""

from django.contrib import admin
from django.urls import include, path

from generations.views.inputs import PublicInputView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("generations.urls_accounts")),
    # Read-only, token in the path, no login: the provider fetches inputs here.
    path("inputs/<str:token>/", PublicInputView.as_view(), name="public_input"),
    path("", include("generations.urls")),
]
