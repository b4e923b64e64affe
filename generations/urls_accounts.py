"""Account URLs: Django's auth views (login, logout, password change and reset), profile."""

from django.urls import include, path

from .views import accounts

urlpatterns = [
    path("profile/", accounts.ProfileView.as_view(), name="profile"),
    path("", include("django.contrib.auth.urls")),
]
