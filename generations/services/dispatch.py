"""The dispatcher: find jobs whose next action is due and hand them to workers.

Each job carries its own ``next_action_at`` (docs/architecture.md "Generation lifecycle": a per-job
schedule). One dispatcher loop runs at a time, guarded by a ``WorkerLease``; a pass claims
due jobs by pushing their ``next_action_at`` forward (a lease on the job, in case the worker
dies) and enqueues django-q2 tasks: submits one by one, polls in batches. Polls per pass are
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
from django.db.models import Q
from django.utils import timezone

from ..models import Generation, WorkerLease
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


def _claim(queryset, *, limit: int, now) -> list[int]:
    """Claim up to ``limit`` due jobs of ``queryset`` by moving their next action forward."""
    ids = list(queryset.order_by("next_action_at").values_list("pk", flat=True)[:limit])
    if ids:
        Generation.objects.filter(pk__in=ids).update(next_action_at=now + JOB_LEASE)
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
    backed_up = broker_backlog() >= MAX_BROKER_BACKLOG
    if backed_up:
        logger.info("Broker backlog over %d tasks: no re-drives this pass", MAX_BROKER_BACKLOG)
    due = Generation.objects.filter(next_action_at__lte=now).exclude(provider__in=paused)
    submits = _claim(due.filter(state=State.QUEUED), limit=0 if backed_up else 200, now=now)
    for pk in submits:
        enqueue("submit_generation", pk, group="submit")
    budget = max(1, int(settings.PROVIDER_REQUESTS_PER_MINUTE / 60 * interval_seconds))
    pollable = Q(state=State.SUBMITTED) | Q(state=State.EXPIRED, late_state="")
    polls = _claim(due.filter(pollable), limit=budget, now=now)
    for start in range(0, len(polls), POLL_BATCH_SIZE):
        enqueue("poll_generations", polls[start : start + POLL_BATCH_SIZE], group="poll")
    downloads = _claim(
        Generation.objects.filter(
            next_action_at__lte=now,
            state=State.SUCCEEDED,
            result_state=Generation.ResultState.PENDING,
        ),
        limit=0 if backed_up else 50,
        now=now,
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
    read started (which may take ``lifecycle.POLL_READ_BUDGET_S``, 10 s) outlasts the jobs'
    claim (``JOB_LEASE``, 60 s), after which the dispatcher would hand the same job out
    again: 45 s with the defaults. The cluster never kills a worker mid-batch.
    """
    by_timeout = settings.Q_CLUSTER.get("timeout", 90) * 2 / 3
    by_claim = JOB_LEASE.total_seconds() - POLL_READ_BUDGET_S - 5.0
    return max(1.0, min(by_timeout, by_claim))


def generations_poll_batch(*, generation_ids: list[int]) -> dict[int, str]:
    """Poll the jobs of one batch in turn; one failing job does not stop the others.

    The batch stops starting reads after :func:`poll_batch_budget` seconds (a slow provider:
    each read may take up to ``lifecycle.POLL_READ_BUDGET_S``); the jobs not reached are made
    due at once (:func:`generations_poll_defer`) for the next pass instead of waiting out
    their claim (``JOB_LEASE``).

    Args:
        generation_ids: the jobs the dispatcher claimed for this batch.

    Returns:
        Each job's state after its poll, or ``"error"`` (logged; re-polled when its claim
        runs out) or ``"deferred"``.
    """
    results: dict[int, str] = {}
    deadline = time.monotonic() + poll_batch_budget()
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
