"""Reads over users: who the managers are."""

from django.db.models import Q, QuerySet

from ..models import User
from ..models.users import MANAGE_TEAM_PERMISSION


def managers() -> QuerySet[User]:
    """Return the active managers: superusers and holders of ``generations.manage_team``.

    The same rule as ``User.is_manager``, as one query: the permission directly or through
    a group.
    """
    app_label, codename = MANAGE_TEAM_PERMISSION.split(".")
    has_permission = Q(
        user_permissions__content_type__app_label=app_label,
        user_permissions__codename=codename,
    ) | Q(
        groups__permissions__content_type__app_label=app_label,
        groups__permissions__codename=codename,
    )
    return User.objects.filter(Q(is_superuser=True) | has_permission, is_active=True).distinct()


def manager_emails() -> list[str]:
    """Return the e-mail addresses of the active managers, sorted, without blanks."""
    return sorted(set(managers().exclude(email="").values_list("email", flat=True)))
