"""Account URLs: Django's auth views (login, logout, password change and reset), profile."""

from django.urls import include, path

from .views import accounts, team

urlpatterns = [
    path("profile/", accounts.ProfileView.as_view(), name="profile"),
    path("invite/<str:token>/", team.InvitationAcceptView.as_view(), name="invitation_accept"),
    path("", include("django.contrib.auth.urls")),
]
