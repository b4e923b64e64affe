"""Reads for the team pages: members with their figures, pending invitations, audit log.

Each returns one query whatever the team's size (DESIGN.md "Performance targets": pages
issue a constant number of queries); sums come from the ledger, never from counters.
"""

from datetime import datetime

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Lower

from ..models import AuditEntry, CreditEntry, Generation, Invitation, User


def members_with_figures(*, since: datetime) -> QuerySet:
    """Return all users by name, annotated in credits with ``balance``, ``reserved``,
    ``spent_since`` (captured since ``since``), and ``last_job_at`` (datetime or None)."""
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
        )
        .order_by(Lower("username"))
    )


def invitations_pending() -> QuerySet:
    """Return usable invitations, newest first, with who sent them."""
    return Invitation.objects.usable().select_related("invited_by")


def audit_entries() -> QuerySet:
    """Return the audit log, newest first, with actor and target."""
    return AuditEntry.objects.select_related("actor", "target_user")
