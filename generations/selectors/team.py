"""Reads for the team pages: members with their figures, pending invitations, audit log.

Each returns one query whatever the team's size (docs/architecture.md "Performance targets": pages
issue a constant number of queries); sums come from the ledger, never from counters.
"""

from datetime import datetime

from django.db.models import (
    Case,
    CharField,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Lower

from ..models import AuditEntry, CreditEntry, Generation, Invitation, User
from ..models.users import MANAGE_TEAM_PERMISSION


def _rank() -> Case:
    """``"superuser"``, ``"manager"`` (``manage_team`` directly or by group) or ``"member"``."""
    app_label, codename = MANAGE_TEAM_PERMISSION.split(".")
    by_group = User.groups.through.objects.filter(
        user_id=OuterRef("pk"),
        group__permissions__codename=codename,
        group__permissions__content_type__app_label=app_label,
    )
    direct = User.user_permissions.through.objects.filter(
        user_id=OuterRef("pk"),
        permission__codename=codename,
        permission__content_type__app_label=app_label,
    )
    return Case(
        When(is_superuser=True, then=Value("superuser")),
        When(Exists(by_group), then=Value("manager")),
        When(Exists(direct), then=Value("manager")),
        default=Value("member"),
        output_field=CharField(),
    )


def members_with_figures(*, since: datetime) -> QuerySet:
    """Return all users by name, annotated in credits with ``balance``, ``reserved``,
    ``spent_since`` (captured since ``since``), ``last_job_at`` (datetime or None) and
    ``rank`` (``"superuser"``, ``"manager"`` or ``"member"``)."""
    spent = (
        CreditEntry.objects.filter(
            account__user=OuterRef("pk"), kind=CreditEntry.Kind.CAPTURE, created_at__gte=since
        )
        .order_by()
        .values("account")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    last_job = (
        Generation.objects.filter(user=OuterRef("pk")).order_by("-created_at").values("created_at")
    )
    return (
        User.objects.select_related("credit_account")
        .annotate(
            balance=Coalesce("credit_account__balance", Value(0)),
            reserved=Coalesce("credit_account__held", Value(0)),
            spent_since=-Coalesce(Subquery(spent, output_field=IntegerField()), Value(0)),
            last_job_at=Subquery(last_job[:1]),
            rank=_rank(),
        )
        .order_by(Lower("username"))
    )


def invitations_pending() -> QuerySet:
    """Return usable invitations, newest first, with who sent them."""
    return Invitation.objects.usable().select_related("invited_by")


def audit_entries() -> QuerySet:
    """Return the audit log, newest first, with actor and target member."""
    return AuditEntry.objects.select_related("actor", "target_user")
