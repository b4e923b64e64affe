"""A manager's actions on generations (the admin console): cancel, expire, poll, retry.

Each is the lifecycle's own step (``services.lifecycle``) taken on a manager's word: it needs
``generations.act_on_generation`` (issue #12 item 6); cancel and expire, which release a hold,
also follow the team's hierarchy rule for the job's owner (item 8: a manager who is not a
superuser releases members' holds only, never their own), and records an ``AuditEntry`` with the
manager, the job's owner and the job's values before and after (item 9). Cancel, expire and
retry write the record in the transaction of the change, and the refund entry carries the
manager as its actor. A poll asks the provider over HTTP, so it is queued for the workers
(never run inside the manager's request) and recorded when it is queued.
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from ..models import AuditEntry, Generation, User
from ..queue import enqueue
from .audit import audit_record
from .lifecycle import Outcome, generation_download_retry, generation_finalize
from .team import team_action_authorize

ACT_PERMISSION = "generations.act_on_generation"
State = Generation.State
Action = AuditEntry.Action
# Jobs per queued poll task of the admin's "Poll the provider now".
POLL_BATCH = 50

_CANCELED = Outcome(
    State.CANCELED,
    fail_code="CANCELED",
    fail_message="Canceled by a manager before it was sent; the credits were returned.",
)
_EXPIRED = Outcome(
    State.EXPIRED,
    fail_code="EXPIRED_BY_MANAGER",
    fail_message="Stopped by a manager; the reserved credits were returned.",
)
# The job's values an audit row shows before and after a manager's action.
_AUDITED_FIELDS = ("state", "provider_state", "result_state", "price_credits", "fail_code")


def _require(actor: User | None) -> None:
    """Refuse a person without ``generations.act_on_generation`` (None: a command)."""
    if actor is not None and not actor.has_perm(ACT_PERMISSION):
        raise PermissionDenied("You may not act on generations.")


def _values(generation_id: int) -> dict:
    return Generation.objects.values(*_AUDITED_FIELDS).get(pk=generation_id)


def _record(generation: Generation, *, actor: User | None, action: str, before: dict) -> None:
    audit_record(
        actor=actor,
        action=action,
        target_user=generation.user,
        subject=f"Generation #{generation.pk}",
        before=before,
        after=_values(generation.pk),
    )


def _end(
    *, generation_id: int, actor: User | None, outcome: Outcome, from_states, action, operation
) -> bool:
    """Finalize a job in ``from_states`` with ``outcome`` on the locked row, audited.

    The job's owner must rank below ``actor`` (``team_action_authorize``'s ``operation``).
    """
    _require(actor)
    with transaction.atomic():
        generation = (
            Generation.objects.select_for_update().select_related("user").get(pk=generation_id)
        )
        if generation.state not in from_states:
            return False
        team_action_authorize(actor=actor, users=[generation.user], operation=operation)
        before = _values(generation_id)
        done = generation_finalize(
            generation_id=generation_id, outcome=outcome, from_states=from_states, actor=actor
        )
        if done:
            _record(generation, actor=actor, action=action, before=before)
    return done


def generation_cancel(*, generation_id: int, actor: User | None) -> bool:
    """Cancel a job still ``queued`` (never sent) and release its hold, as ``actor``.

    Returns:
        True if this call canceled it; False if it had moved on (nothing written).

    Raises:
        PermissionDenied: ``actor`` lacks ``generations.act_on_generation``.
        TeamPermissionDenied: ``actor`` is not a superuser and the job is their own, a
            superuser's or another manager's (issue #12 item 8); nothing is written.
    """
    return _end(
        generation_id=generation_id,
        actor=actor,
        outcome=_CANCELED,
        from_states=(State.QUEUED,),
        action=Action.CANCEL,
        operation="cancel",
    )


def generation_expire(*, generation_id: int, actor: User | None) -> bool:
    """Stop a job in flight (e.g. stuck) as ``expired`` and release its hold, as ``actor``.

    A provider answer arriving later changes nothing (final states are final).

    Returns:
        True if this call expired it; False if it was already final (nothing written).

    Raises:
        PermissionDenied: ``actor`` lacks ``generations.act_on_generation``.
        TeamPermissionDenied: ``actor`` is not a superuser and the job is their own, a
            superuser's or another manager's (issue #12 item 8); nothing is written.
    """
    return _end(
        generation_id=generation_id,
        actor=actor,
        outcome=_EXPIRED,
        from_states=tuple(State.in_flight()),
        action=Action.EXPIRE,
        operation="expire",
    )


def generations_poll_request(*, generation_ids, actor: User | None) -> int:
    """Queue a status check of each ``submitted`` job among ``generation_ids``, audited.

    The admin's "Poll the provider now". A manager may select a whole page of jobs (or all of
    them); asking the provider for each inside the request would hold a web thread for up to
    the client's timeout per job. So the polls run on the workers (``tasks.poll_generations``,
    the lifecycle's own ``generation_poll``), in batches of ``POLL_BATCH`` enqueued when this
    commits, and each job gets an audit row now, with its values and ``"poll": "queued"``.

    Args:
        generation_ids: ids of jobs (any state; only ``submitted`` ones are polled).
        actor: the manager; None for a command.

    Returns:
        How many jobs were queued for a status check.

    Raises:
        PermissionDenied: ``actor`` lacks ``generations.act_on_generation``; nothing written.
    """
    _require(actor)
    with transaction.atomic():
        jobs = list(
            Generation.objects.select_related("user")
            .filter(pk__in=list(generation_ids), state=State.SUBMITTED)
            .order_by("pk")
        )
        for generation in jobs:
            values = _values(generation.pk)
            audit_record(
                actor=actor,
                action=Action.POLL,
                target_user=generation.user,
                subject=f"Generation #{generation.pk}",
                before=values,
                after={**values, "poll": "queued"},
            )
        ids = [generation.pk for generation in jobs]
        for start in range(0, len(ids), POLL_BATCH):
            batch = ids[start : start + POLL_BATCH]
            transaction.on_commit(
                lambda batch=batch: enqueue("poll_generations", batch, group="poll")
            )
    return len(ids)


def generation_download_requeue(*, generation_id: int, actor: User | None) -> bool:
    """Give a succeeded job's failed result download fresh attempts, audited.

    Returns:
        True if it was queued again; False if its download had not failed (nothing written).

    Raises:
        PermissionDenied: ``actor`` lacks ``generations.act_on_generation``.
    """
    _require(actor)
    with transaction.atomic():
        generation = (
            Generation.objects.select_for_update().select_related("user").get(pk=generation_id)
        )
        before = _values(generation_id)
        done = generation_download_retry(generation_id=generation_id)
        if done:
            _record(generation, actor=actor, action=Action.DOWNLOAD_RETRY, before=before)
    return done
