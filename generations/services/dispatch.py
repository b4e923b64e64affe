"""The dispatcher: find jobs whose next action is due and hand them to workers.

Each job carries its own ``next_action_at`` (docs/architecture.md "Generation lifecycle": a per-job
schedule). One dispatcher loop runs at a time, guarded by a ``WorkerLease``; a pass claims
due jobs by pushing their ``next_action_at`` forward (a lease on the job, in case the worker
dies) and enqueues django-q2 tasks: submits one by one, polls in batches. A poll batch
carries its claim (the exact ``next_action_at`` the pass set) and polls only the jobs that
still hold it (:func:`generations_poll_reclaim`). Polls per pass are
capped so the portal stays under the provider's request budget
(docs/providers/apixo.md "Rate limits": 10,000 requests per minute; ``PROVIDER_REQUESTS_PER_MINUTE``
is our share). Each pass starts with the sweeper (``services.sweeper``): expiries and submits
abandoned by dead workers.

Jobs of a paused provider (an open circuit, ``services.circuit``) are neither submitted nor
polled; instead, each pass enqueues the due probes of open circuits. Expired jobs due for a
late look (``lifecycle.generation_late_look``) are polled with the submitted ones.
"""

import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..metrics import labels_text, metric_set
from ..models import Generation, OpsMetric, WorkerLease
from ..queue import enqueue
from ..selectors.circuits import paused_providers
from .circuit import provider_circuits_claim_probes
from .lifecycle import POLL_READ_BUDGET_S, generation_poll
from .sweeper import SweepReport, generations_sweep

logger = logging.getLogger(__name__)
State = Generation.State

JOB_LEASE = timedelta(seconds=60)
POLL_BATCH_SIZE = 25
LOOP_LEASE = timedelta(seconds=20)
# Back-pressure (docs/architecture.md "Generation lifecycle"): with this many
# tasks waiting in the broker a pass re-drives no submit or download. A claim is a lease of
# ``JOB_LEASE``; a task that waits longer than that behind a backlog gets its job claimed and
# enqueued again, and the duplicates lengthen the backlog further (benchmarks/ladder.py, 10,000
# jobs on the ORM broker: 9,960 tasks waiting for 3,064 queued jobs, cost per job x7-x8).
# Polls are still claimed, within their request budget (a few batches a pass): holding them
# back too left every job unfinalized while submits flooded the broker.
MAX_BROKER_BACKLOG = 500
# While the broker is backed up, a poll claim also covers the batch's expected wait in the
# broker: the backlog times the wait per task ahead that the last batch enqueued behind a
# backlog observed (``POLL_WAIT_METRIC``, microseconds), at most ``POLL_CLAIM_MAX`` in all.
# A batch that waited past a 60 s claim had its jobs claimed and enqueued again on every pass
# (benchmarks/ladder.py, 10,000 jobs: 8,137 tasks waiting for 4,420 queued jobs).
POLL_CLAIM_MAX = timedelta(minutes=30)
POLL_WAIT_METRIC = "poll_batch_wait_us_per_task"


@dataclass(frozen=True)
class PassReport:
    """What one dispatcher pass did (counts of jobs)."""

    submits: int = 0
    polls: int = 0
    downloads: int = 0
    expired: int = 0
    in_flight: int = 0
    probes: int = 0
    sweep: SweepReport = field(default_factory=SweepReport)


def _claim(queryset, *, limit: int, until) -> list[int]:
    """Claim up to ``limit`` due jobs of ``queryset`` by moving their next action to ``until``.

    The rows are locked between the read and the write (``SELECT ... FOR UPDATE SKIP
    LOCKED`` on PostgreSQL), so a poll batch re-claiming one of them
    (:func:`generations_poll_reclaim`) either finishes first, and the job is no longer due,
    or finds the job claimed anew and leaves it.
    """
    if limit <= 0:
        return []
    with transaction.atomic():
        due = queryset.select_for_update(skip_locked=True).order_by("next_action_at")
        ids = list(due.values_list("pk", flat=True)[:limit])
        if ids:
            Generation.objects.filter(pk__in=ids).update(next_action_at=until)
    return ids


@functools.cache
def _broker():
    from django_q.brokers import get_broker

    return get_broker()


def broker_backlog() -> int:
    """Return how many tasks wait in the django-q2 broker for a worker (not those running).

    0 in django-q2's sync mode (nothing ever waits) and when the broker cannot say (logged):
    the dispatcher then claims as usual.
    """
    from django_q.conf import Conf

    if Conf.SYNC:
        return 0
    try:
        return int(_broker().queue_size() or 0)
    except Exception:  # a broker hiccup must not stop the dispatcher
        logger.warning("Broker queue size unavailable", exc_info=True)
        return 0


def poll_claim(*, backlog: int) -> timedelta:
    """Return how long a pass claims the jobs of the poll batches it enqueues.

    ``JOB_LEASE`` (60 s); while ``MAX_BROKER_BACKLOG`` or more tasks wait in the broker, also
    the wait expected in front of them: ``backlog`` times the wait per task that the latest
    batch enqueued behind a backlog observed (:func:`poll_wait_observe`; none yet: nothing
    added), ``POLL_CLAIM_MAX`` (30 min) at most. A batch claims its jobs again when it starts
    (:func:`generations_poll_reclaim`), so a long claim only delays the re-drive of a lost
    batch, never a poll; a claim too short costs a duplicate batch, which polls nothing.

    Args:
        backlog: the tasks waiting in the broker now (:func:`broker_backlog`).
    """
    if backlog < MAX_BROKER_BACKLOG:
        return JOB_LEASE
    per_task_us = (
        OpsMetric.objects.filter(name=POLL_WAIT_METRIC, labels=labels_text())
        .values_list("value", flat=True)
        .first()
    )
    wait = timedelta(microseconds=backlog * (per_task_us or 0))
    return min(JOB_LEASE + wait, POLL_CLAIM_MAX)


def poll_wait_observe(*, enqueued_at, backlog: int) -> None:
    """Record the wait per task ahead of a poll batch that starts now (for :func:`poll_claim`).

    Only a batch enqueued behind ``MAX_BROKER_BACKLOG`` or more tasks is counted: behind a
    short queue the workers' own pace, not the queue, sets the wait. One ``UPDATE`` of an
    ``OpsMetric`` row (microseconds per task).

    Args:
        enqueued_at: when the pass enqueued the batch (None: an older task; nothing done).
        backlog: the tasks that waited in the broker then.
    """
    if enqueued_at is None or backlog < MAX_BROKER_BACKLOG:
        return
    waited = max(0.0, (timezone.now() - enqueued_at).total_seconds())
    per_task_us = int(waited * 1_000_000 / backlog)
    rows = OpsMetric.objects.filter(name=POLL_WAIT_METRIC, labels=labels_text())
    if not rows.update(value=per_task_us):
        metric_set(POLL_WAIT_METRIC, per_task_us)


def dispatch_pass(*, interval_seconds: float = 1.0) -> PassReport:
    """Run one pass: sweep, then enqueue due submits, polls and downloads.

    The sweep (``services.sweeper.generations_sweep``) expires overdue jobs and settles
    submits abandoned by dead workers; the due-job claims below re-drive lost submit, poll
    and download tasks; submits and downloads not while ``MAX_BROKER_BACKLOG`` tasks
    already wait in the broker (:func:`broker_backlog`; docs/architecture.md "Generation
    lifecycle").

    Args:
        interval_seconds: how often passes run; sets the poll budget of this pass.
    """
    now = timezone.now()
    sweep = generations_sweep(now=now)
    probes = provider_circuits_claim_probes(now=now)
    for provider in probes:
        enqueue("probe_provider", provider, group="probe", name=f"probe-{provider}")
    paused = paused_providers()
    # Back-pressure: with a full broker a queued job's submit task is most likely still
    # waiting, not lost; it stays due (re-driven once the workers have caught up) instead of
    # being enqueued twice. Likewise downloads.
    backlog = broker_backlog()
    backed_up = backlog >= MAX_BROKER_BACKLOG
    if backed_up:
        logger.info("Broker backlog over %d tasks: no re-drives this pass", MAX_BROKER_BACKLOG)
    due = Generation.objects.filter(next_action_at__lte=now).exclude(provider__in=paused)
    lease_end = now + JOB_LEASE
    submits = _claim(due.filter(state=State.QUEUED), limit=0 if backed_up else 200, until=lease_end)
    for pk in submits:
        enqueue("submit_generation", pk, lease_end, group="submit")
    budget = max(1, int(settings.PROVIDER_REQUESTS_PER_MINUTE / 60 * interval_seconds))
    pollable = Q(state=State.SUBMITTED) | Q(state=State.EXPIRED, late_state="")
    claimed_until = now + poll_claim(backlog=backlog)
    polls = _claim(due.filter(pollable), limit=budget, until=claimed_until)
    for start in range(0, len(polls), POLL_BATCH_SIZE):
        batch = polls[start : start + POLL_BATCH_SIZE]
        enqueue("poll_generations", batch, claimed_until, now, backlog, group="poll")
    downloads = _claim(
        Generation.objects.filter(
            next_action_at__lte=now,
            state=State.SUCCEEDED,
            result_state=Generation.ResultState.PENDING,
        ),
        limit=0 if backed_up else 50,
        until=lease_end,
    )
    for pk in downloads:
        enqueue("store_result", pk, group="results")
    in_flight = Generation.objects.filter(
        Q(state__in=State.in_flight())
        | Q(state=State.SUCCEEDED, result_state=Generation.ResultState.PENDING)
    ).count()
    return PassReport(
        submits=len(submits),
        polls=len(polls),
        downloads=len(downloads),
        expired=sweep.expired,
        in_flight=in_flight,
        probes=len(probes),
        sweep=sweep,
    )


def lease_acquire(*, name: str, holder: str, ttl: timedelta = LOOP_LEASE) -> bool:
    """Take or renew the lease ``name`` for ``holder``; return whether it is now held.

    A conditional UPDATE with a row-count check: only a free, expired or own lease is taken.
    """
    now = timezone.now()
    WorkerLease.objects.get_or_create(name=name, defaults={"expires_at": now})
    taken = WorkerLease.objects.filter(
        Q(expires_at__lt=now) | Q(holder=holder) | Q(holder=""), name=name
    ).update(holder=holder, expires_at=now + ttl)
    return bool(taken)


def lease_release(*, name: str, holder: str) -> None:
    """Give the lease back at once, if ``holder`` still holds it."""
    WorkerLease.objects.filter(name=name, holder=holder).update(
        holder="", expires_at=timezone.now()
    )


def poll_batch_budget() -> float:
    """Return the seconds a batch of polls may go on starting new status reads.

    Two thirds of django-q2's task ``timeout`` (90 s: 60 s), and never so long that the last
    read started (which may take ``lifecycle.POLL_READ_BUDGET_S``, 10 s) outlasts the claim
    the batch took when it started (``JOB_LEASE``, 60 s, :func:`generations_poll_reclaim`),
    after which the dispatcher would hand the same job out again: 45 s with the defaults.
    The cluster never kills a worker mid-batch.
    """
    by_timeout = settings.Q_CLUSTER.get("timeout", 90) * 2 / 3
    by_claim = JOB_LEASE.total_seconds() - POLL_READ_BUDGET_S - 5.0
    return max(1.0, min(by_timeout, by_claim))


def generations_poll_reclaim(*, generation_ids: list[int], claimed_until) -> set[int]:
    """Take over the jobs of a starting poll batch that still hold its claim; return them.

    A job is the batch's while it waits for a poll (``submitted``, or ``expired`` awaiting a
    late look) and its ``next_action_at`` is still exactly ``claimed_until``, the value the
    dispatcher's claim set. Anything else means another claim (a later pass, after this
    batch waited in the broker past its claim), a poll or a callback has had the job since:
    the batch leaves it. The jobs kept are claimed again for ``JOB_LEASE`` from now, so no
    pass hands them out while the batch polls them; the rows are locked between the read and
    the write (``SELECT ... FOR UPDATE``), like the dispatcher's claim.

    Args:
        generation_ids: the batch's jobs.
        claimed_until: the ``next_action_at`` the dispatcher's claim gave them.
    """
    pollable = Q(state=State.SUBMITTED) | Q(state=State.EXPIRED, late_state="")
    with transaction.atomic():
        owned = set(
            Generation.objects.select_for_update()
            .filter(pollable, pk__in=generation_ids, next_action_at=claimed_until)
            .order_by("pk")  # one lock order for batches holding the same jobs
            .values_list("pk", flat=True)
        )
        if owned:
            Generation.objects.filter(pk__in=owned).update(
                next_action_at=timezone.now() + JOB_LEASE
            )
    return owned


def generations_poll_batch(
    *,
    generation_ids: list[int],
    claimed_until=None,
    enqueued_at=None,
    backlog: int = 0,
) -> dict[int, str]:
    """Poll the jobs of one batch in turn; one failing job does not stop the others.

    A batch from the dispatcher first takes over the jobs that still hold its claim
    (:func:`generations_poll_reclaim`) and skips the others: after waiting in the broker
    past its claim, their polls belong to a later batch. It also records how long it waited
    (:func:`poll_wait_observe`). A batch without a claim (a manager's "poll now", a
    callback's confirmation, a task enqueued before claims were carried) polls every job.
    The batch stops starting reads after :func:`poll_batch_budget` seconds (a slow provider:
    each read may take up to ``lifecycle.POLL_READ_BUDGET_S``); the jobs not reached are made
    due at once (:func:`generations_poll_defer`) for the next pass instead of waiting out
    their claim (``JOB_LEASE``).

    Args:
        generation_ids: the jobs the dispatcher claimed for this batch.
        claimed_until: the ``next_action_at`` the claim gave them (None: no claim carried).
        enqueued_at: when the pass enqueued the batch.
        backlog: the tasks waiting in the broker then.

    Returns:
        Each job's state after its poll, or ``"error"`` (logged; re-polled when its claim
        runs out), ``"deferred"`` or ``"skipped"`` (claimed by someone else meanwhile).
    """
    results: dict[int, str] = {}
    deadline = time.monotonic() + poll_batch_budget()
    if claimed_until is not None:
        poll_wait_observe(enqueued_at=enqueued_at, backlog=backlog)
        owned = generations_poll_reclaim(generation_ids=generation_ids, claimed_until=claimed_until)
        results.update(dict.fromkeys((pk for pk in generation_ids if pk not in owned), "skipped"))
        generation_ids = [pk for pk in generation_ids if pk in owned]
    for index, generation_id in enumerate(generation_ids):
        if time.monotonic() >= deadline:
            rest = generation_ids[index:]
            generations_poll_defer(generation_ids=rest)
            logger.warning("Poll batch out of time; %d jobs deferred to the next pass", len(rest))
            results.update(dict.fromkeys(rest, "deferred"))
            break
        try:
            results[generation_id] = generation_poll(generation_id=generation_id)
        except Exception:
            # Logged and left for the next pass: the job's claim expires and it is re-polled.
            logger.exception("Polling generation %s failed", generation_id)
            results[generation_id] = "error"
    return results


def generations_poll_defer(*, generation_ids: list[int]) -> int:
    """Make claimed jobs that a batch did not reach due again now; return how many.

    Only jobs still waiting for a poll are touched (``submitted``, or ``expired`` awaiting a
    late look), and only while their claim runs (``next_action_at`` in the future): a job a
    callback finalized meanwhile keeps what the callback wrote.
    """
    now = timezone.now()
    pollable = Q(state=State.SUBMITTED) | Q(state=State.EXPIRED, late_state="")
    return Generation.objects.filter(
        pollable, pk__in=generation_ids, next_action_at__gt=now
    ).update(next_action_at=now, updated_at=now)
