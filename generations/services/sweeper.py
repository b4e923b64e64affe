"""The sweeper: settle jobs that nobody else will move (docs/architecture.md "Generation
lifecycle").

Folded into every dispatcher pass (``services.dispatch.dispatch_pass`` calls
:func:`generations_sweep` first) rather than run as a schedule of its own: the dispatcher
already runs every second while jobs are in flight and at least once a minute from its
schedule (migration 0004), so one loop, one lease and one place decide what is due. The
sweep is a few indexed queries on the states it looks at.

What it does, each bounded by a per-job counter or deadline:
- fails jobs in flight whose provider is no longer configured, with a release and a provider
  alert (issue #12 item 4; ``lifecycle.generation_provider_gone``). Not jobs ``submitting``:
  a worker may be sending right now; they go through the stuck path below first;
- expires jobs in flight past ``deadline_at`` (no final answer in time), with a release; an
  expired job with a task gets late looks (``lifecycle.generation_late_look``): a success
  that comes after expiry is recorded for managers, never charged;
- a job ``submitting`` for longer than the task timeout plus a margin belongs to a worker
  that died (django-q2 kills a task at ``Q_CLUSTER["timeout"]``). If the submit's intent
  was recorded (``submit_sent_at``), the request may have reached the provider: the job
  goes to ``unknown``, never re-sent blindly; a callback settles it, or the deadline, brought
  forward to ``lifecycle.UNKNOWN_OUTCOME_GRACE``, releases it. If no
  intent was recorded, nothing was sent: back to ``queued`` for another attempt, unless
  ``submit_attempts`` reached ``SUBMIT_MAX_ATTEMPTS`` (then failed, with a release).

Each job is settled on its own: one that raises is logged, reported to managers (alert kind
``sweep_failed``) and left for the next sweep, and the sweep goes on with the others.

The other re-drives are the dispatcher's due-job claims: ``queued`` jobs whose submit task
was lost (``next_action_at`` passed), ``submitted`` jobs whose poll was lost (the claim's
lease) and succeeded jobs whose result download was lost (``lifecycle.download_lease``).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ..models import Generation
from ..providers import PROVIDER_NAMES, ProviderError, configured_providers
from ..selectors.nodes import provider_served_elsewhere
from ..workers import node_name
from .alerts import provider_alert_raise
from .lifecycle import (
    LEDGER_MISMATCH,
    SUBMIT_MAX_ATTEMPTS,
    Outcome,
    generation_finalize,
    generation_provider_gone,
    unknown_outcome_changes,
)

logger = logging.getLogger(__name__)
State = Generation.State

SUBMIT_STUCK_MARGIN = timedelta(seconds=60)
SWEEP_LIMIT = 500
# The alert a job the sweep could not settle raises (its id and the error go in the detail):
# one fixed sentence, so that the managers' pages show it in their language
# (generations.i18n.PORTAL_MESSAGES).
SUBMIT_STUCK_MESSAGE = (
    "A worker stopped answering while it sent jobs to the video service; they wait for its "
    "callback and are refunded if none comes."
)
SWEEP_FAILED_MESSAGE = (
    "The sweep could not settle a generation; it is tried again at the next sweep. "
    "See the alert's detail and the server log."
)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did (counts of jobs)."""

    expired: int = 0
    provider_gone: int = 0
    requeued: int = 0
    unknown: int = 0
    failed: int = 0


def submit_stuck_after() -> timedelta:
    """Return how long a job may stay ``submitting``: the task timeout plus a margin."""
    return timedelta(seconds=settings.Q_CLUSTER.get("timeout", 90)) + SUBMIT_STUCK_MARGIN


def generations_sweep(*, now: datetime | None = None) -> SweepReport:
    """Expire overdue jobs and settle submits abandoned by a dead worker (see module doc).

    Every move is a conditional UPDATE on the state it expects, or ``generation_finalize``
    on the locked row, so a sweep racing a worker, the webhook or another sweep is harmless.
    At most ``SWEEP_LIMIT`` jobs of each kind are handled per call.

    Args:
        now: the current time (tests pass a fixed one).
    """
    now = now or timezone.now()
    gone = 0
    # Not configured here and on no other live worker node either (a node merely missing a
    # key the others have leaves those jobs to them: lifecycle.generation_provider_gone).
    removed = [
        name
        for name in sorted(set(PROVIDER_NAMES) - set(configured_providers()))
        if not provider_served_elsewhere(provider=name, this_node=node_name())
    ]
    orphans = Generation.objects.filter(
        provider__in=removed, state__in=(State.QUEUED, State.UNKNOWN, State.SUBMITTED)
    ).exclude(fail_code=LEDGER_MISMATCH)
    for pk, state in orphans.values_list("pk", "state")[:SWEEP_LIMIT]:
        reason = "the provider is not configured on the node that ran the sweep"
        gone += _isolated(
            pk,
            lambda pk=pk, state=state, reason=reason: (
                generation_provider_gone(generation_id=pk, reason=reason, from_states=(state,))
                == State.FAILED
            ),
        )
    expired = 0
    overdue = Generation.objects.filter(state__in=State.in_flight(), deadline_at__lt=now).exclude(
        fail_code=LEDGER_MISMATCH  # parked for a manager (lifecycle._park_ledger_mismatch)
    )
    expiry = Outcome(
        State.EXPIRED,
        fail_code="EXPIRED",
        fail_message="No final answer came from the video service in time; refunded.",
    )
    for pk in overdue.values_list("pk", flat=True)[:SWEEP_LIMIT]:
        expired += _isolated(
            pk, lambda pk=pk: generation_finalize(generation_id=pk, outcome=expiry)
        )
    stuck = Generation.objects.filter(
        state=State.SUBMITTING, updated_at__lt=now - submit_stuck_after()
    ).exclude(fail_code=LEDGER_MISMATCH)
    maybe_sent = list(
        stuck.filter(submit_sent_at__isnull=False).values_list("pk", "provider")[:SWEEP_LIMIT]
    )
    unknown = stuck.filter(pk__in=[pk for pk, _ in maybe_sent]).update(
        **unknown_outcome_changes(now)
    )
    if unknown:
        logger.warning("%d generation(s) stuck submitting after sending moved to unknown", unknown)
        # As for any submit whose outcome is unknown (services.lifecycle.generation_submit):
        # the job may be refunded while the provider bills its task, so managers hear of it.
        for provider in sorted({provider for _, provider in maybe_sent}):
            provider_alert_raise(
                provider=provider,
                error=ProviderError(
                    SUBMIT_STUCK_MESSAGE,
                    code="submit_stuck",
                    alert_admin=True,
                    detail=f"{unknown} generation(s) moved to unknown at {now:%Y-%m-%d %H:%M} UTC",
                ),
            )
    requeued = failed = 0
    never_sent = stuck.filter(submit_sent_at__isnull=True)
    abandoned = Outcome(
        State.FAILED,
        fail_code="SUBMIT_ABANDONED",
        fail_message="The job could not be sent to the video service; refunded.",
    )
    for pk, attempts in never_sent.values_list("pk", "submit_attempts")[:SWEEP_LIMIT]:
        if attempts >= SUBMIT_MAX_ATTEMPTS:
            failed += _isolated(
                pk,
                lambda pk=pk: generation_finalize(
                    generation_id=pk, outcome=abandoned, from_states=(State.SUBMITTING,)
                ),
            )
        else:
            requeued += never_sent.filter(pk=pk).update(
                state=State.QUEUED, next_action_at=now, updated_at=now
            )
    return SweepReport(
        expired=expired, provider_gone=gone, requeued=requeued, unknown=unknown, failed=failed
    )


def _isolated(pk: int, act) -> bool:
    """Run ``act()`` for job ``pk``; if it raises, log, alert managers and return False.

    One job that cannot be settled (a bug, a row that breaks a constraint) must not stop
    the sweep, which runs first in every dispatcher pass (``services.dispatch``): without
    this, every later pass would raise on the same job and no job would be submitted,
    polled or expired (docs/architecture.md "Generation lifecycle"). The job is left as it
    was (its own transaction rolled back) and is tried again by the next sweep.
    """
    try:
        return bool(act())
    except Exception as error:
        logger.exception("The sweep could not settle generation %s; went on with the others", pk)
        provider = Generation.objects.values_list("provider", flat=True).filter(pk=pk).first()
        provider_alert_raise(
            provider=provider or "",
            error=ProviderError(
                SWEEP_FAILED_MESSAGE,
                code="sweep_failed",
                alert_admin=True,
                detail=f"generation #{pk}: {error!r}"[:300],
            ),
        )
        return False
