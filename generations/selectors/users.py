"""Reads over users: who the managers are."""

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from ..models import User
from ..models.users import MANAGE_TEAM_PERMISSION


def _manager_rule() -> Q:
    """Return ``User.is_manager``'s rule, active or not, as a filter: a superuser, or
    ``generations.manage_team`` held directly or through a group."""
    app_label, codename = MANAGE_TEAM_PERMISSION.split(".")
    has_permission = Q(
        user_permissions__content_type__app_label=app_label,
        user_permissions__codename=codename,
    ) | Q(
        groups__permissions__content_type__app_label=app_label,
        groups__permissions__codename=codename,
    )
    return Q(is_superuser=True) | has_permission


def managers() -> QuerySet[User]:
    """Return the active managers: superusers and holders of ``generations.manage_team``.

    The same rule as ``User.is_manager``, as one query: the permission directly or through
    a group.
    """
    return User.objects.filter(_manager_rule(), is_active=True).distinct()


def manager_ranks(*, user_ids: Iterable[int]) -> dict[int, str]:
    """Return ``{user id: "superuser" | "manager"}`` for those of ``user_ids`` who rank above
    a member, read afresh from the database (deactivated accounts included); one query.

    Used by the team services' hierarchy rule (issue #12 item 8).
    """
    rows = (
        User.objects.filter(_manager_rule(), pk__in=list(user_ids))
        .values_list("pk", "is_superuser")
        .distinct()
    )
    return {pk: "superuser" if is_superuser else "manager" for pk, is_superuser in rows}


def manager_emails() -> list[str]:
    """Return the e-mail addresses of the active managers, sorted, without blanks."""
    return sorted(set(managers().exclude(email="").values_list("email", flat=True)))
