"""URLs of the managers' team pages (namespace ``team``)."""

from django.urls import path

from .views import api_access, team

app_name = "team"

urlpatterns = [
    path("", team.TeamMembersView.as_view(), name="members"),
    path("credits/", team.TeamCreditsView.as_view(), name="credits"),
    path("invitations/", team.InvitationCreateView.as_view(), name="invite"),
    path("invitations/<int:pk>/revoke/", team.InvitationRevokeView.as_view(), name="invite_revoke"),
    path("members/<int:pk>/cap/", team.MemberCapView.as_view(), name="cap"),
    path("members/<int:pk>/active/", team.MemberActiveView.as_view(), name="active"),
    path("members/<int:pk>/manager/", team.MemberManagerView.as_view(), name="manager"),
    path("audit/", team.AuditLogView.as_view(), name="audit"),
    path("tokens/", api_access.TeamTokensView.as_view(), name="tokens"),
    path("tokens/<int:pk>/revoke/", api_access.TeamTokenRevokeView.as_view(), name="token_revoke"),
]
