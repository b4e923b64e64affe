"""The audit log of managers' actions (issue #12 item 9: who, when, values before and after).

One service writes every row, called by the service that makes the change and inside its
transaction, so a change and its record commit or roll back together. Rows are never updated
or deleted (the admin shows them read-only).

Why this table and not django-simple-history or django-auditlog: most audited actions are
not edits of one model row (a grant is a ledger entry plus a balance, a cancel is a state move
plus a release, a price change is a new table version), and the record must carry the
action's meaning, its memo and the member it concerns. Field-level history of the one model
edited directly (``User``, by superusers in the admin) is recorded here too, from the admin
form's changed fields (``admin.AuditedUserAdmin``), so managers read one log.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from ..models import AuditEntry, User


def audit_record(
    *,
    actor: User | None,
    action: str,
    target_user: User | None = None,
    subject: str = "",
    before: dict | None = None,
    after: dict | None = None,
    memo: str = "",
) -> AuditEntry:
    """Record one manager action; call it inside the transaction that makes the change.

    Args:
        actor: the person who acted; None for a management command or the system.
        action: an ``AuditEntry.Action`` value.
        target_user: the member the action concerns (a generation's owner, for job actions).
        subject: what was acted on when it is not the member, e.g. ``"Generation #12"``.
        before: the values the action changed, as they were (JSON-serialisable).
        after: the same values afterwards.
        memo: the reason the manager gave (cut to 500 characters).

    Returns:
        The new entry.
    """
    if action not in AuditEntry.Action.values:
        raise ValueError(f"Unknown audit action {action!r}.")
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_user=target_user,
        subject=subject[:200],
        before=_plain(before or {}),
        after=_plain(after or {}),
        memo=memo[:500],
    )


def _plain(values: dict) -> dict:
    """Return ``values`` as JSON: model instances and querysets as readable text, dates,
    times and decimals as Django's JSON encoder writes them."""
    plain = {}
    for key, value in values.items():
        if isinstance(value, models.Model):
            value = str(value)
        elif isinstance(value, (models.QuerySet, set, frozenset)) or (
            isinstance(value, (list, tuple)) and any(isinstance(i, models.Model) for i in value)
        ):
            value = sorted(str(item) for item in value)
        plain[str(key)] = value
    return json.loads(json.dumps(plain, cls=DjangoJSONEncoder))
