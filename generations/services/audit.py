"""The audit log of managers' actions (issue #6: who, when, values before and after)."""

from ..models import AuditEntry, User


def audit_record(
    *,
    actor: User | None,
    action: str,
    target_user: User | None = None,
    before: dict | None = None,
    after: dict | None = None,
    memo: str = "",
) -> AuditEntry:
    """Record one manager action (call inside the transaction that makes the change)."""
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        target_user=target_user,
        before=before or {},
        after=after or {},
        memo=memo[:500],
    )
