"""URL configuration: accounts, the generations app and the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("generations.urls_accounts")),
    path("", include("generations.urls")),
]
