"""Moving a generation through its lifecycle: submit, poll, finalize, store the result.

docs/architecture.md "Generation lifecycle". The rules every function here keeps (docs/style.md
practices 2-3):
- state moves are claimed with a conditional UPDATE and a row-count check, or made on the
  row locked with SELECT ... FOR UPDATE after re-checking it; a late actor does nothing;
- no transaction or lock is held across an HTTP call: commit the intent, call out, commit
  the outcome in a second short transaction;
- ``generation_finalize`` is the one path to a final state, for the poller, the webhook and
  the sweeper, and writes the capture or release in the same transaction.
"""

import contextlib
import logging
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from ..catalog import Mode
from ..models import CreditEntry, Generation, ProviderCircuit, User
from ..providers import GenerationRequest, ProviderNotConfigured, TaskStatus, get_provider
from ..providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderServerError,
    ReadFault,
    is_credentials_error,
    status_read_fault,
    submit_outcome_unknown,
)
from ..providers.http import backoff_delay, download_to_file
from ..queue import enqueue
from ..selectors.circuits import provider_paused_until
from ..selectors.nodes import provider_served_elsewhere
from ..workers import node_name
from .alerts import provider_alert_raise
from .callback_tokens import callback_base_url, callback_token_new, callback_url
from .circuit import provider_circuit_open
from .failover import FAILOVER_ERRORS, generation_failover
from .inputs import InputsNotConfigured, inputs_expire_later, provider_input_urls
from .ledger import HoldAlreadySettled, credits_capture, credits_release
from .poll_schedule import first_poll_delay, next_poll_delay
from .status_reads import task_status_read

logger = logging.getLogger(__name__)
State = Generation.State

SUBMIT_MAX_ATTEMPTS = 6
# Backoff of a submit the provider refused with 429 or a 5xx of its own (nothing was created):
# full jitter, ceiling 2 s doubling up to 300 s, plus a floor of 1 s, until the job's deadline
# (docs/architecture.md "What must hold": 429 and 5xx "back off until the deadline";
# docs/providers/apixo.md "HTTP errors": "exponential backoff with jitter").
SUBMIT_BACKOFF_BASE_S = 2.0
SUBMIT_BACKOFF_CAP_S = 300.0
SUBMIT_BACKOFF_FLOOR_S = 1.0
DOWNLOAD_MAX_ATTEMPTS = 5
# A job whose submit outcome is unknown can only be settled by a callback: the task would end
# within minutes and APIXO's callback retries end 12.5 min after
# (docs/providers/apixo.md "Webhooks"). So its hold is released when this has passed without one,
# not at the 3 h deadline.
UNKNOWN_OUTCOME_GRACE = timedelta(minutes=30)
RESULT_CONTENT_TYPES = ("video/mp4", "video/quicktime", "video/webm", "application/octet-stream")
# A documented "task does not exist" is believed only when a second one comes at least this
# long (seconds, scaled) after the first: a task just created may not be visible everywhere.
NOT_FOUND_RECHECK_S = 60.0
# Backoff of a status read that failed transiently: full jitter, ceiling 5 s doubling up to
# 120 s (docs/providers/apixo.md "HTTP errors": "exponential backoff with jitter"), plus a floor of
# 1 s.
POLL_BACKOFF_BASE_S = 5.0
POLL_BACKOFF_CAP_S = 120.0
POLL_BACKOFF_FLOOR_S = 1.0
# After a job expired with a task at the provider, its status is looked at a few more times,
# at growing intervals, so that a late success is recorded for managers (never charged).
LATE_LOOK_WINDOW = timedelta(hours=24)
LATE_LOOK_MIN_S = 300.0
LATE_LOOK_MAX_S = 7200.0


@dataclass(frozen=True)
class Outcome:
    """A final answer about a job, whoever brings it (poller, webhook, sweeper).

    Attributes:
        state: one of ``Generation.State.final()``.
        result_url: the provider's result URL, taken only from a status response.
        fail_code: the provider's ``failCode`` (or ours, e.g. ``HTTP_400``); kept for reports.
        fail_message: what the member reads.
        cost_time_ms: the provider's ``costTime`` (milliseconds), when known.
        completed_at: when the provider says the task finished (its ``completeTime``), for
            the finalize latency in ``/metrics``.
    """

    state: str
    result_url: str = ""
    fail_code: str = ""
    fail_message: str = ""
    cost_time_ms: int | None = None
    completed_at: datetime | None = None

    @classmethod
    def from_status(cls, status: TaskStatus) -> "Outcome":
        """Build the outcome of a final ``statusTask`` answer
        (docs/providers/apixo.md "Status response fields")."""
        completed_at = None
        if status.complete_time_ms:
            # A nonsense time only costs the latency figure.
            with contextlib.suppress(OverflowError, OSError, ValueError):
                completed_at = datetime.fromtimestamp(status.complete_time_ms / 1000, tz=UTC)
        if status.succeeded:
            return cls(
                State.SUCCEEDED,
                status.result_urls[0],
                cost_time_ms=status.cost_time_ms,
                completed_at=completed_at,
            )
        return cls(
            State.FAILED,
            fail_code=status.fail_code,
            fail_message=status.fail_message,
            cost_time_ms=status.cost_time_ms,
            completed_at=completed_at,
        )

    @classmethod
    def from_error(cls, error: ProviderError) -> "Outcome":
        """Build the outcome of a request the provider refused for good (HTTP 4xx)."""
        code = f"HTTP_{error.status}" if error.status else error.code
        return cls(State.FAILED, fail_code=code, fail_message=error.message)


def _scaled(seconds: float) -> timedelta:
    return timedelta(seconds=seconds * settings.POLL_TIME_SCALE)


# Seconds one status read of a poll or late look may take in all (connect, headers, body).
# A status answer is small and the providers answer in well under a second; a read that takes
# longer is a transient fault like any timeout (backed off, never final), and a short cap keeps
# a batch of polls within its budget (tasks.poll_generations) and the task timeout.
POLL_READ_BUDGET_S = 10.0


def download_lease() -> timedelta:
    """Return how long a result download may run before the dispatcher re-drives it.

    ``RESULT_DOWNLOAD_TIMEOUT`` seconds plus a minute: a download task that was lost or
    killed is tried again after that, counting an attempt (``DOWNLOAD_MAX_ATTEMPTS``).
    """
    return timedelta(seconds=settings.RESULT_DOWNLOAD_TIMEOUT + 60.0)


def _request_for(generation: Generation) -> GenerationRequest:
    """Build the provider-neutral request; inputs become public URLs (``services.inputs``)."""
    image_urls, video_urls = provider_input_urls(generation)
    return GenerationRequest(
        mode=generation.mode,
        prompt=generation.prompt,
        resolution=generation.resolution,
        duration=generation.duration,
        sound=generation.sound,
        aspect_ratio=generation.aspect_ratio or None,
        camera_fixed=generation.camera_fixed,
        image_urls=image_urls,
        video_urls=video_urls,
        seed=generation.seed,
        watermark=generation.watermark if generation.mode == Mode.VIDEO_EXTEND else None,
    )


def generation_submit(*, generation_id: int, claimed_until: datetime | None = None) -> str:
    """Send a queued generation to its provider and record the provider's ``taskId``.

    The job is claimed (``queued`` -> ``submitting``) by a conditional UPDATE, so two workers
    never submit it twice. Before the request goes out, a second conditional UPDATE records
    the intent (``submit_sent_at``) and, in callback mode, the hash of a fresh webhook token
    (``services.callback_tokens``): a callback may arrive before the submit answer, and the
    sweeper must know whether anything may have been sent. Callback mode: ``PUBLIC_BASE_URL``
    is HTTPS (or ``CALLBACK_ALLOW_HTTP`` with the simulator); polling runs in any case.

    The outcome decides the next state:
    - accepted: ``submitted``, first poll scheduled near the typical completion time (later
      in callback mode);
    - refused for good (400, 404, other 4xx): ``failed`` and the hold released, with the
      provider's message (docs/providers/apixo.md "HTTP errors");
    - refused with 403 a second time, after a probe of the provider succeeded since this
      job's first 403 (:func:`_job_refused_not_key`): the key works, so the provider refuses
      this job (docs/providers/apixo.md "HTTP errors": 403 is a key without permission *or*
      content against its policy): ``failed`` with ``HTTP_403`` and the hold released; the
      circuit stays as it is;
    - refused for the portal's account (401, 402, 403, spend limit: ``errors.
      is_credentials_error``): nothing was started at the provider, so the job goes back to
      ``queued`` with its hold and this attempt uncounted, a provider alert is raised
      (``services.alerts``) and the provider's circuit opens (``services.circuit``): no
      submit or poll goes there until a probe shows the key works again; a job still
      waiting at its deadline expires with a release;
    - refused by the provider for now (429, or a 5xx of its own: nothing was created): back to
      ``queued`` with capped exponential backoff and jitter (:func:`submit_backoff`), this
      attempt uncounted and ``submit_refusals`` counted, until the job's deadline expires
      it with a release (docs/architecture.md "What must hold": 429 and 5xx "back off
      until the deadline"). From the ``SUBMIT_MAX_ATTEMPTS``-th refusal on, a 5xx tries a
      failover to the other provider when that is on (``services.failover``);
    - no connection (nothing sent): back to ``queued`` with backoff and jitter, up to
      ``SUBMIT_MAX_ATTEMPTS`` attempts, then failover (when on) or failed and released;
    - outcome unknown (the connection dropped after sending, an answer without a usable
      ``taskId``, a gateway's 502/504, or any 5xx not in the provider's own error shape:
      ``errors.submit_outcome_unknown``): ``unknown``;
      never re-sent blindly (docs/architecture.md "Generation lifecycle").
      A callback resolves it (``services.callbacks``), else it expires with a release at
      its deadline (``services.sweeper``).

    A job whose provider is paused (open circuit) is not claimed: its next attempt waits for
    the next probe. A job whose provider is no longer configured fails at once with a
    release and a provider alert (issue #12 item 4). A job tried before whose
    ``next_action_at`` is still in the future is not claimed either, unless that time is
    ``claimed_until``: it is waiting out a backoff, and a duplicate or stale submit task must
    not cut the wait short (nor spend an attempt).

    Args:
        generation_id: the job.
        claimed_until: the ``next_action_at`` the enqueuer gave the job with this task (the
            dispatcher's claim, or the creation's ``SUBMIT_GRACE``); None when the task
            carries no claim, which then runs only for a new job or one that is due.

    Returns:
        The state the generation is left in ("" when it was not queued, or another actor
        moved it meanwhile, or its provider is paused: nothing done).
    """
    now = timezone.now()
    # A job tried before and waiting out its backoff is claimed only by the task its
    # enqueuer gave that claim: a duplicate or stale task does nothing (in the read here and
    # in the claim's UPDATE below, so a backoff set meanwhile holds too).
    claimable = _submit_claimable(now, claimed_until)
    provider = (
        Generation.objects.filter(claimable, pk=generation_id, state=State.QUEUED)
        .values_list("provider", flat=True)
        .first()
    )
    if provider is None:
        return ""
    paused_until = provider_paused_until(provider=provider)
    if paused_until is not None:
        Generation.objects.filter(pk=generation_id, state=State.QUEUED).update(
            next_action_at=max(paused_until, now), updated_at=now
        )
        return ""
    claimed = Generation.objects.filter(claimable, pk=generation_id, state=State.QUEUED).update(
        state=State.SUBMITTING,
        submit_attempts=F("submit_attempts") + 1,
        submit_sent_at=None,
        callback_token_hash="",
        updated_at=now,
    )
    if not claimed:
        return ""
    generation = Generation.objects.get(pk=generation_id)
    try:
        client = get_provider(generation.provider)
    except ProviderNotConfigured as error:
        return generation_provider_gone(
            generation_id=generation_id, reason=str(error), from_states=(State.SUBMITTING,)
        )
    try:
        request = _request_for(generation)
        token, token_hash = callback_token_new()
        base_url = callback_base_url(client)
        hook = (
            callback_url(base_url=base_url, generation_id=generation_id, token=token)
            if base_url
            else None
        )
        client.build_request(request, callback_url=hook)  # refuses a bad request unsent
    except (InputsNotConfigured, ValueError) as error:
        # Nothing was sent: PUBLIC_BASE_URL was removed after the job was accepted, or the
        # request breaks a documented rule the form should have caught.
        logger.warning("Generation %s cannot be submitted: %s", generation_id, error)
        code = "INPUTS_NOT_PUBLIC" if isinstance(error, InputsNotConfigured) else "INVALID_REQUEST"
        outcome = Outcome(State.FAILED, fail_code=code, fail_message=str(error))
        generation_finalize(
            generation_id=generation_id, outcome=outcome, from_states=(State.SUBMITTING,)
        )
        return State.FAILED
    generation.callback_token_hash = token_hash if hook else ""
    intent = Generation.objects.filter(
        pk=generation_id, state=State.SUBMITTING, submit_attempts=generation.submit_attempts
    ).update(
        submit_sent_at=timezone.now(),
        callback_token_hash=generation.callback_token_hash,
        updated_at=timezone.now(),
    )
    if not intent:
        return ""  # the sweeper took the claim back (it had run too long): send nothing
    try:
        task_id = client.submit(request, callback_url=hook)
    except ProviderError as error:
        if submit_outcome_unknown(error):
            # Sent, but no usable answer (dropped connection, a 200 without a taskId, a
            # gateway's 502/504, a CDN's or proxy's 5xx): the task may exist at the provider,
            # so re-sending could charge twice.
            logger.warning(
                "Submit of generation %s has an unknown outcome: %r", generation_id, error
            )
            # Whatever the cause (a dropped connection, a gateway's or CDN's 5xx, a 3xx, a 200
            # without a taskId), the job now waits in ``unknown`` and may be refunded while
            # the provider bills its task: managers hear of it (one e-mail per hour per kind).
            provider_alert_raise(provider=generation.provider, error=error)
            moved = _move(
                generation_id, State.SUBMITTING, **unknown_outcome_changes(timezone.now())
            )
            return State.UNKNOWN if moved else ""
        if _job_refused_not_key(generation, error):
            return _submit_refused_403(generation, error)
        if is_credentials_error(error):
            return _submit_paused(generation, error)
        if isinstance(error, (ProviderRateLimited, ProviderServerError)) and error.retryable:
            return _submit_refused_for_now(generation, error, request=request)
        if error.retryable and generation.submit_attempts < SUBMIT_MAX_ATTEMPTS:
            delay = backoff_delay(generation.submit_attempts, cap=300.0)
            moved = _move(
                generation_id,
                State.SUBMITTING,
                state=State.QUEUED,
                next_action_at=timezone.now() + timedelta(seconds=delay),
                fail_message=error.message,
            )
            return State.QUEUED if moved else ""
        failover = generation_failover(
            generation_id=generation_id,
            error=error,
            request=request,
            attempts=generation.submit_attempts,
        )
        if failover.moved:
            return State.QUEUED
        logger.warning("Submit of generation %s refused: %r", generation_id, error)
        return _fail_on_error(generation, error, from_state=State.SUBMITTING, note=failover.reason)
    moved = _move(
        generation_id,
        State.SUBMITTING,
        state=State.SUBMITTED,
        provider_task_id=task_id,
        submitted_at=timezone.now(),
        next_action_at=timezone.now() + first_poll_delay(generation),
        fail_message="",
    )
    if not moved:
        if _adopt_after_unknown(generation, task_id):
            return State.SUBMITTED
        _keep_task_of_expired(generation_id, task_id)
    return State.SUBMITTED if moved else ""


def _submit_claimable(now: datetime, claimed_until: datetime | None) -> Q:
    """Return the condition under which a submit task may claim its queued job.

    A job never tried, or one that is due (``next_action_at`` unset or past), may be
    claimed by any task; a job waiting out a backoff only by the task carrying the claim its
    enqueuer set (``claimed_until`` equal to ``next_action_at``). Workers and dispatchers of
    this release and the previous one do not mix (the task's arguments changed): docs/deploy.md
    "Upgrades" stops every worker before starting the new ones.
    """
    due = (
        Q(submit_attempts=0, submit_refusals=0)
        | Q(next_action_at__isnull=True)
        | Q(next_action_at__lte=now)
    )
    if claimed_until is None:
        return due
    return due | Q(next_action_at=claimed_until)


def task_adopted_changes(
    generation: Generation, *, task_id: str, now: datetime, next_action_at: datetime
) -> dict:
    """Return the field changes that give a task-less job its ``task_id`` (for an UPDATE).

    Used when the task id comes late: a submit answer after the sweeper parked the job
    (:func:`_adopt_after_unknown`) or a callback (``services.callbacks``). The job becomes
    ``submitted``, its next look is at ``next_action_at``, and it gets back the deadline
    every job has, ``GENERATION_DEADLINE_SECONDS`` after its creation (or a later one it
    already had): parking it as ``unknown`` had cut it to ``UNKNOWN_OUTCOME_GRACE``
    (:func:`unknown_outcome_changes`), and a slow task must not be expired and released
    while the provider still runs and bills it (docs/architecture.md "Generation
    lifecycle"). No money moves.
    """
    full = Value(generation.created_at + timedelta(seconds=settings.GENERATION_DEADLINE_SECONDS))
    return {
        "state": State.SUBMITTED,
        "provider_task_id": task_id,
        "submitted_at": generation.submitted_at or now,
        "deadline_at": Greatest(Coalesce("deadline_at", full), full),
        "next_action_at": next_action_at,
        "fail_message": "",
        "updated_at": now,
    }


def _adopt_after_unknown(generation: Generation, task_id: str) -> bool:
    """Record a late submit answer on a job the sweeper moved to ``unknown`` meanwhile.

    A submit that ran longer than ``sweeper.submit_stuck_after()`` is parked as ``unknown``
    (its worker looked dead); when its answer does arrive, the ``taskId`` is the only way
    to the task the provider runs and bills. On a conditional UPDATE, only while the job is
    still ``unknown`` on the same attempt without a task id, it becomes ``submitted`` with
    its first poll scheduled, as the callback's adoption does (``services.callbacks``);
    no money moves (docs/architecture.md "Generation lifecycle").

    Returns:
        True if the task id was recorded.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            return bool(
                Generation.objects.filter(
                    pk=generation.pk,
                    state=State.UNKNOWN,
                    provider_task_id__isnull=True,
                    submit_attempts=generation.submit_attempts,
                ).update(
                    **task_adopted_changes(
                        generation,
                        task_id=task_id,
                        now=now,
                        next_action_at=now + first_poll_delay(generation),
                    )
                )
            )
    except IntegrityError:  # another generation holds that task id: leave this one alone
        logger.warning("Late task %r of generation %s belongs to another", task_id, generation.pk)
        return False


def _keep_task_of_expired(generation_id: int, task_id: str) -> None:
    """Record ``task_id`` on a job that expired while its submit was out, and look at once.

    A manager's expire (``services.console``) may end a ``submitting`` job while the request
    is in flight: its hold is released, yet the provider started the task and will bill
    it. Without the task id the late looks (:func:`generation_late_look`) could never find
    the result; with it, a late success is recorded for managers like any other.
    """
    Generation.objects.filter(
        pk=generation_id, state=State.EXPIRED, provider_task_id__isnull=True, late_state=""
    ).update(
        provider_task_id=task_id,
        submitted_at=timezone.now(),
        next_action_at=timezone.now(),
        updated_at=timezone.now(),
    )


def submit_backoff(refusals: int) -> timedelta:
    """Return the wait after the ``refusals``-th 429 or 5xx refusal of a job's submit.

    ``SUBMIT_BACKOFF_FLOOR_S`` plus full jitter under a ceiling of ``SUBMIT_BACKOFF_BASE_S``
    seconds doubling per refusal up to ``SUBMIT_BACKOFF_CAP_S`` (docs/providers/apixo.md
    "HTTP errors": "exponential backoff with jitter"). Not scaled by ``POLL_TIME_SCALE``.

    Args:
        refusals: refusals so far, this one included (1 or more).
    """
    jitter = backoff_delay(
        min(max(refusals - 1, 0), 16), base=SUBMIT_BACKOFF_BASE_S, cap=SUBMIT_BACKOFF_CAP_S
    )
    return timedelta(seconds=SUBMIT_BACKOFF_FLOOR_S + jitter)


def _submit_refused_for_now(
    generation: Generation, error: ProviderError, *, request: GenerationRequest
) -> str:
    """Requeue a submit the provider refused with 429 or a 5xx of its own; back off.

    Nothing was created at the provider (``errors.submit_outcome_unknown`` is False for the
    error), so the job may be sent again; the attempt is not counted in ``submit_attempts``
    (docs/architecture.md "What must hold": 429 and 5xx "back off until the deadline"), only
    in ``submit_refusals``, and the job waits :func:`submit_backoff` before its next attempt.
    The sweeper expires it with a release at its deadline. A 5xx from the
    ``SUBMIT_MAX_ATTEMPTS``-th refusal on first tries a failover to the other provider
    (``services.failover``, when ``PROVIDER_FAILOVER`` is on; docs/providers.md "Retry
    rules"); a skipped failover's reason is kept for the member.

    Returns:
        ``queued``, or the state another actor left the job in (e.g. a callback adopted it).
    """
    refusals = generation.submit_refusals + 1
    message = error.message
    if isinstance(error, FAILOVER_ERRORS) and refusals >= SUBMIT_MAX_ATTEMPTS:
        failover = generation_failover(
            generation_id=generation.pk,
            error=error,
            request=request,
            attempts=generation.submit_attempts,
        )
        if failover.moved:
            return State.QUEUED
        if failover.reason:
            message = f"{message} {failover.reason}"
    logger.info("Submit of generation %s refused for now (%d): %r", generation.pk, refusals, error)
    now = timezone.now()
    moved = Generation.objects.filter(
        pk=generation.pk, state=State.SUBMITTING, submit_attempts=generation.submit_attempts
    ).update(
        state=State.QUEUED,
        submit_attempts=F("submit_attempts") - 1,
        submit_refusals=F("submit_refusals") + 1,
        submit_sent_at=None,
        next_action_at=now + submit_backoff(refusals),
        fail_message=message,
        updated_at=now,
    )
    return State.QUEUED if moved else _state(generation.pk)


# What the member reads when the provider refused the job itself with 403.
REFUSED_403_MESSAGE = (
    "The video service refused this job (HTTP 403) although the portal's access works: the "
    "request may break the service's content policy, or the key may not be allowed this "
    "model or route. Your credits were returned."
)


def _job_refused_not_key(generation: Generation, error: ProviderError) -> bool:
    """Tell whether ``error``, a submit's 403, refuses this job rather than the portal's key.

    True when the job had a 403 before (``refused_403_at``) and a probe of its provider
    succeeded since (the circuit's ``closed_at`` is later; only a successful probe closes
    it, ``services.circuit``): the key works, so the 403 is about the job, e.g. its content
    (docs/providers/apixo.md "HTTP errors": 403 "key lacks permission, or content violates
    policy"). aivideoapi.ai's 403 ``ip_not_allowed`` (docs/providers/aivideoapi.md "Error
    Reference") is about the calling address, never the job, and never counts.
    """
    if error.status != 403 or error.code == "ip_not_allowed" or not generation.refused_403_at:
        return False
    return ProviderCircuit.objects.filter(
        provider=generation.provider,
        state=ProviderCircuit.State.CLOSED,
        closed_at__gt=generation.refused_403_at,
    ).exists()


def _submit_refused_403(generation: Generation, error: ProviderError) -> str:
    """Fail a job the provider refused with 403 again although its key works; release.

    Nothing was created (a 403 refuses the request), so the hold is released; the
    provider's circuit is not opened again, and no credentials alert is raised: the key was
    proven by a probe since the job's first 403 (:func:`_job_refused_not_key`).

    Returns:
        ``failed``, or the state another actor left the job in.
    """
    logger.warning("Submit of generation %s refused with 403 again: %r", generation.pk, error)
    outcome = Outcome(State.FAILED, fail_code="HTTP_403", fail_message=REFUSED_403_MESSAGE)
    generation_finalize(
        generation_id=generation.pk, outcome=outcome, from_states=(State.SUBMITTING,)
    )
    return _state(generation.pk)


def _submit_paused(generation: Generation, error: ProviderError) -> str:
    """Requeue a submit refused for the portal's account; alert and pause the provider.

    Nothing was started at the provider (docs/providers/apixo.md "HTTP errors": 401/402/403 refuse
    the request), so the attempt is not counted and the hold stays. The job waits for the
    circuit's next probe (``services.circuit``); it expires with a release at its deadline
    if the account never works again. A 403 is recorded on the job (``refused_403_at``): a
    second one after a successful probe fails the job instead (:func:`_submit_refused_403`).

    Returns:
        ``queued``, or the state another actor left the job in (e.g. a callback adopted it).
    """
    logger.warning("Submit of generation %s refused for the account: %r", generation.pk, error)
    provider_alert_raise(provider=generation.provider, error=error)
    circuit = provider_circuit_open(provider=generation.provider, error=error)
    refused_403_at = timezone.now() if error.status == 403 else generation.refused_403_at
    moved = Generation.objects.filter(
        pk=generation.pk, state=State.SUBMITTING, submit_attempts=generation.submit_attempts
    ).update(
        state=State.QUEUED,
        submit_attempts=F("submit_attempts") - 1,
        submit_sent_at=None,
        refused_403_at=refused_403_at,
        next_action_at=circuit.next_probe_at,
        fail_message=(
            "Waiting: the video service refused the portal's account; an administrator has "
            "been alerted. Your credits stay reserved and are returned if it cannot run."
        ),
        updated_at=timezone.now(),
    )
    return State.QUEUED if moved else _state(generation.pk)


def generation_provider_gone(
    *, generation_id: int, reason: str, from_states: tuple[str, ...] | None = None
) -> str:
    """Fail a job whose provider is no longer configured, with a release and an alert.

    Issue #12 item 4: the provider was removed from the configuration (e.g. its key) while
    the job was in flight. Nothing can reach that provider from here any more, so waiting
    for the deadline would only raise errors; the job fails at once (``fail_code``
    ``PROVIDER_NOT_CONFIGURED``) and managers get a provider alert (kind ``not_configured``).

    Args:
        generation_id: the job.
        reason: why, for the alert's detail (e.g. the ``providers.ProviderNotConfigured``
            message).
        from_states: act only if the job is still in one of these states (None: any
            non-final state).

    Returns:
        The job's state afterwards.

    A provider another live worker node still has a key for was not removed: this node's
    environment lacks the key (a misconfigured node, e.g. during a rolling change). Then
    the job is left for those nodes (:func:`_leave_to_other_nodes`) and managers are
    alerted (kind ``node_not_configured``); nothing is failed or refunded.
    """
    provider = Generation.objects.values_list("provider", flat=True).get(pk=generation_id)
    others = provider_served_elsewhere(provider=provider, this_node=node_name())
    if others:
        return _leave_to_other_nodes(
            generation_id=generation_id, provider=provider, nodes=others, from_states=from_states
        )
    outcome = Outcome(
        State.FAILED,
        fail_code="PROVIDER_NOT_CONFIGURED",
        fail_message="The video service of this job is no longer configured; refunded.",
    )
    if generation_finalize(generation_id=generation_id, outcome=outcome, from_states=from_states):
        logger.warning("Generation %s failed: provider %s not configured", generation_id, provider)
        provider_alert_raise(
            provider=provider,
            error=ProviderError(
                f"{provider} is no longer configured but had jobs in flight; they were failed "
                "and refunded.",
                code="not_configured",
                alert_admin=True,
                detail=reason,
            ),
        )
    return _state(generation_id)


# How long a job whose provider this node cannot reach waits before a worker looks again.
ELSEWHERE_RECHECK = timedelta(seconds=30)


def _leave_to_other_nodes(
    *, generation_id: int, provider: str, nodes: list[str], from_states: tuple[str, ...] | None
) -> str:
    """Hand a job back to the queue for a node that has its provider's key; alert managers.

    A ``submitting`` job goes back to ``queued`` with this attempt uncounted (nothing was
    sent); a ``queued`` or ``submitted`` one keeps its state. Either is due again in
    ``ELSEWHERE_RECHECK``, when any worker may take it; an ``unknown`` one keeps its schedule.
    Nothing is written to the ledger.
    """
    now = timezone.now()
    states = from_states or tuple(State.in_flight())
    due = now + ELSEWHERE_RECHECK
    Generation.objects.filter(pk=generation_id, state=State.SUBMITTING).filter(
        state__in=states
    ).update(
        state=State.QUEUED,
        submit_attempts=F("submit_attempts") - 1,
        submit_sent_at=None,
        next_action_at=due,
        updated_at=now,
    )
    Generation.objects.filter(
        pk=generation_id, state__in=set(states) & {State.QUEUED, State.SUBMITTED}
    ).update(next_action_at=due, updated_at=now)
    logger.warning(
        "Generation %s: this node (%s) has no key for %s, which %s serve; left to them",
        generation_id,
        node_name(),
        provider,
        ", ".join(nodes),
    )
    provider_alert_raise(
        provider=provider,
        error=ProviderError(
            f"Worker node {node_name()} has no key for {provider} while {', '.join(nodes)} "
            "do; its environment is missing the key. Jobs are left to the other nodes.",
            code="node_not_configured",
            alert_admin=True,
        ),
    )
    return _state(generation_id)


def _state(generation_id: int) -> str:
    return Generation.objects.values_list("state", flat=True).get(pk=generation_id)


def unknown_outcome_changes(now) -> dict:
    """Return the field changes that park a job as ``unknown`` (for a conditional UPDATE).

    Nothing is scheduled (it is never re-sent), and its deadline is brought forward to
    ``UNKNOWN_OUTCOME_GRACE`` from ``now`` unless it comes sooner.
    """
    cap = Value(now + UNKNOWN_OUTCOME_GRACE)
    return {
        "state": State.UNKNOWN,
        "next_action_at": None,
        "deadline_at": Least(Coalesce("deadline_at", cap), cap),
        "updated_at": now,
    }


def _fail_on_error(
    generation: Generation, error: ProviderError, *, from_state: str, note: str = ""
) -> str:
    """Fail and release ``generation`` (if still ``from_state``) for a submit the provider
    refused for good (400, 404, other 4xx; retries or failover spent); raise a provider
    alert if the error asks for one. Credentials refusals never come here: they pause the
    provider instead (:func:`_submit_paused`).

    ``note`` is appended to the member's message (e.g. why a failover was skipped).

    Returns:
        The generation's state afterwards: ``failed``, or whatever another actor did first.
    """
    outcome = Outcome.from_error(error)
    if note:
        outcome = replace(outcome, fail_message=f"{outcome.fail_message} {note}")
    generation_finalize(generation_id=generation.pk, outcome=outcome, from_states=(from_state,))
    if error.alert_admin:
        provider_alert_raise(provider=generation.provider, error=error)
    return Generation.objects.values_list("state", flat=True).get(pk=generation.pk)


def _move(generation_id: int, from_state: str, **changes) -> bool:
    """Apply ``changes`` if the generation is still in ``from_state``; return whether it was."""
    changes.setdefault("updated_at", timezone.now())
    return bool(Generation.objects.filter(pk=generation_id, state=from_state).update(**changes))


def generation_poll(*, generation_id: int) -> str:
    """Ask the provider for a submitted job's status and act on the answer.

    Issue #12 item 1, docs/architecture.md "What must hold": a job ends only on a definitive answer.

    - A well-formed status with a final state goes to ``generation_finalize``.
    - A running one schedules the next poll (``poll_schedule.next_poll_delay``: 8-10 s, or
      30-60 s in callback mode) and clears any earlier "not found".
    - A failed read is classified once, by ``errors.status_read_fault``
      (:func:`generation_read_failed`): a documented "task does not exist" is believed only
      when confirmed ``NOT_FOUND_RECHECK_S`` (scaled) later, then fails the job with a
      release; 401/402/403 and spend limits alert managers and pause the provider (its
      circuit), keeping the job and its hold; everything else (unreadable answers, 3xx,
      timeouts, 429, 5xx, other 4xx) backs off with full jitter (:func:`poll_backoff`) and
      is counted in ``poll_errors``, until the job's deadline expires it with a release
      (``services.sweeper``).

    A job whose provider is paused is not polled (its next poll waits for the next probe); a
    job whose provider is no longer configured fails at once with a release and an alert
    (issue #12 item 4). An ``expired`` job due for a late look goes to
    :func:`generation_late_look`.

    Returns:
        The generation's state afterwards ("" when it was neither ``submitted`` nor an
        expired job due for a late look).
    """
    generation = (
        Generation.objects.filter(pk=generation_id, state__in=(State.SUBMITTED, State.EXPIRED))
        .exclude(provider_task_id=None)
        .first()
    )
    if generation is None:
        return ""
    if generation.state == State.EXPIRED:
        return generation_late_look(generation=generation)
    paused_until = provider_paused_until(provider=generation.provider)
    if paused_until is not None:
        _move(generation_id, State.SUBMITTED, next_action_at=max(paused_until, timezone.now()))
        return State.SUBMITTED
    try:
        client = get_provider(generation.provider, total_timeout=POLL_READ_BUDGET_S)
    except ProviderNotConfigured as error:
        return generation_provider_gone(
            generation_id=generation_id, reason=str(error), from_states=(State.SUBMITTED,)
        )
    try:
        status = task_status_read(generation=generation, client=client)
    except ProviderError as error:
        return generation_read_failed(generation=generation, error=error)
    if status.is_final:
        generation_finalize(generation_id=generation_id, outcome=Outcome.from_status(status))
        return _state(generation_id)
    _move(
        generation_id,
        State.SUBMITTED,
        provider_state=status.raw_state[:32],
        poll_errors=0,
        not_found_at=None,
        next_action_at=timezone.now() + next_poll_delay(generation),
    )
    return State.SUBMITTED


def poll_backoff(poll_errors: int) -> timedelta:
    """Return the wait after a status read failed transiently for the ``poll_errors + 1``-th
    time in a row: ``POLL_BACKOFF_FLOOR_S`` plus a full-jitter delay whose ceiling is
    ``POLL_BACKOFF_BASE_S`` doubling up to ``POLL_BACKOFF_CAP_S``
    (docs/providers/apixo.md "HTTP errors": exponential backoff with jitter). Unscaled: the
    provider's trouble does not shrink with ``POLL_TIME_SCALE``.
    """
    jitter = backoff_delay(poll_errors, base=POLL_BACKOFF_BASE_S, cap=POLL_BACKOFF_CAP_S)
    return timedelta(seconds=POLL_BACKOFF_FLOOR_S + jitter)


def generation_read_failed(*, generation: Generation, error: ProviderError) -> str:
    """Act on a failed status read of a ``submitted`` job (poll or callback confirmation).

    The taxonomy is ``errors.status_read_fault``:

    - ``NOT_FOUND`` (documented "task does not exist"): the first answer only records
      ``not_found_at`` and looks again ``NOT_FOUND_RECHECK_S`` (scaled) later; a second one
      at least that long after the first fails the job with a release (``TASK_NOT_FOUND``).
    - ``CREDENTIALS`` (401, 402, 403, spend limit): a provider alert, the provider's circuit
      opens (``services.circuit``); the job and its hold stay, its next poll waits for the
      next probe.
    - ``TRANSIENT``: counted in ``poll_errors``, next poll after :func:`poll_backoff`. A 400
      (or another 4xx) is a bug on one side or the other: it also raises a provider alert so
      that managers see it, and never releases money.

    Args:
        generation: the job, as read before the request (``submitted``, with a task id).
        error: what the status read raised.

    Returns:
        The job's state afterwards.
    """
    fault = status_read_fault(error)
    pk = generation.pk
    now = timezone.now()
    if fault == ReadFault.NOT_FOUND:
        return _task_not_found(generation, error)
    logger.warning("Status read of generation %s failed (%s): %r", pk, fault, error)
    if fault == ReadFault.CREDENTIALS:
        provider_alert_raise(provider=generation.provider, error=error)
        circuit = provider_circuit_open(provider=generation.provider, error=error)
        next_at = circuit.next_probe_at
    else:
        if isinstance(error, ProviderRequestRejected):
            provider_alert_raise(provider=generation.provider, error=error)
        next_at = now + poll_backoff(generation.poll_errors)
    _move(
        pk,
        State.SUBMITTED,
        poll_errors=F("poll_errors") + 1,
        next_action_at=next_at,
    )
    return _state(pk)


def _task_not_found(generation: Generation, error: ProviderError) -> str:
    """Record a first "task does not exist", or fail the job when it is confirmed."""
    now = timezone.now()
    recheck = _scaled(NOT_FOUND_RECHECK_S)
    first = generation.not_found_at
    if first is None:
        logger.warning(
            "Provider says generation %s's task does not exist: %r", generation.pk, error
        )
        _move(
            generation.pk,
            State.SUBMITTED,
            not_found_at=now,
            next_action_at=now + recheck,
        )
        return _state(generation.pk)
    if now < first + recheck:  # asked again too soon (e.g. after a callback): wait
        _move(generation.pk, State.SUBMITTED, next_action_at=first + recheck)
        return _state(generation.pk)
    outcome = Outcome(
        State.FAILED,
        fail_code="TASK_NOT_FOUND",
        fail_message="The video service says this task does not exist; refunded.",
    )
    generation_finalize(
        generation_id=generation.pk, outcome=outcome, from_states=(State.SUBMITTED,)
    )
    return _state(generation.pk)


def late_look_delay(generation: Generation, *, now) -> timedelta:
    """Return the wait before the next late look at an expired job: half its age since
    expiry, between ``LATE_LOOK_MIN_S`` and ``LATE_LOOK_MAX_S`` (scaled), so a day of looks
    costs about a dozen status requests."""
    age = (now - (generation.finished_at or now)).total_seconds()
    low, high = _scaled(LATE_LOOK_MIN_S), _scaled(LATE_LOOK_MAX_S)
    return min(high, max(low, timedelta(seconds=age / 2)))


def generation_late_look(*, generation: Generation) -> str:
    """Look once more at an expired job's task; record a late success for managers.

    A job expires with a release when no final answer came by its deadline
    (``services.sweeper``), yet the provider may still finish (and bill) the task. So an
    expired job with a task id is looked at when it expires and then at growing intervals
    (:func:`late_look_delay`) for ``LATE_LOOK_WINDOW`` after expiry, unless its provider is
    paused (the look waits for the probe). A success is recorded by
    :func:`generation_late_record`; a failure, a "not found" or the end of the window
    ends the looks. No money moves here.

    Returns:
        ``expired`` (the state never changes).
    """
    pk = generation.pk
    now = timezone.now()
    looking = Generation.objects.filter(pk=pk, state=State.EXPIRED, late_state="")
    if generation.late_state or now > (generation.finished_at or now) + LATE_LOOK_WINDOW:
        looking.update(next_action_at=None)
        return State.EXPIRED
    paused_until = provider_paused_until(provider=generation.provider)
    if paused_until is not None:
        looking.update(next_action_at=max(paused_until, now))
        return State.EXPIRED
    try:
        client = get_provider(generation.provider, total_timeout=POLL_READ_BUDGET_S)
        status = task_status_read(generation=generation, client=client)
    except ProviderNotConfigured:
        if provider_served_elsewhere(provider=generation.provider, this_node=node_name()):
            # This node lacks a key another live node has: that node looks instead.
            looking.update(next_action_at=now + ELSEWHERE_RECHECK)
        else:
            looking.update(next_action_at=None)
        return State.EXPIRED
    except ProviderError as error:
        fault = status_read_fault(error)
        if fault == ReadFault.NOT_FOUND:
            looking.update(next_action_at=None)
        elif fault == ReadFault.CREDENTIALS:
            provider_alert_raise(provider=generation.provider, error=error)
            circuit = provider_circuit_open(provider=generation.provider, error=error)
            looking.update(next_action_at=circuit.next_probe_at)
        else:
            looking.update(next_action_at=now + late_look_delay(generation, now=now))
        return State.EXPIRED
    if status.succeeded:
        generation_late_record(generation_id=pk, status=status)
    elif status.is_final:
        looking.update(next_action_at=None, provider_state=status.raw_state[:32])
    else:
        looking.update(
            next_action_at=now + late_look_delay(generation, now=now),
            provider_state=status.raw_state[:32],
        )
    return State.EXPIRED


def generation_late_record(*, generation_id: int, status: TaskStatus) -> bool:
    """Record that an expired job's task succeeded after all ("finished after expiry").

    The job expired and its hold was released; the provider finished the task later and
    probably billed it. Nothing is charged or refunded automatically: the success is stored
    (``late_state``, ``late_result_url``, ``late_finished_at``) and listed for managers (the
    admin's "finished after expiry" filter), who decide, e.g. to download the video for the
    member or to adjust credits. On the locked row: only an ``expired`` job without a late
    state is changed, so duplicates change nothing and no ledger entry is ever written.
    Managers also get a provider alert of kind ``finished_after_expiry`` (the banner on
    every page, counted per job, e-mailed at most hourly).

    Args:
        generation_id: the job.
        status: a well-formed, successful status (its first result URL is kept).

    Returns:
        True if this call recorded it.
    """
    with transaction.atomic():
        locked = Generation.objects.select_for_update().get(pk=generation_id)
        if locked.state != State.EXPIRED or locked.late_state or not status.succeeded:
            return False
        locked.late_state = State.SUCCEEDED
        locked.late_result_url = status.result_urls[0]
        locked.late_finished_at = timezone.now()
        locked.provider_state = status.raw_state[:32]
        locked.next_action_at = None
        locked.save(
            update_fields=[
                "late_state",
                "late_result_url",
                "late_finished_at",
                "provider_state",
                "next_action_at",
                "updated_at",
            ]
        )
    logger.warning("Generation %s finished after it expired; listed for managers", generation_id)
    provider_alert_raise(
        provider=locked.provider,
        error=ProviderError(
            "A job finished at the video service after it had expired and been refunded; "
            'see Generations, filter "finished after expiry", and decide.',
            code="finished_after_expiry",
            alert_admin=True,
            detail=f"generation #{generation_id}, task {locked.provider_task_id or '-'}",
        ),
    )
    return True


def generation_finalize(
    *,
    generation_id: int,
    outcome: Outcome,
    from_states: tuple[str, ...] | None = None,
    actor: User | None = None,
) -> bool:
    """Move a generation to its final state and settle its hold, exactly once.

    Runs on the generation row locked FOR UPDATE; a generation already final is left as it
    is (late or duplicate reports change nothing). Success captures the hold and queues the
    result download (re-driven by the dispatcher after ``download_lease()`` if that task is
    lost); any other outcome releases it (the refund). The capture or release is
    written in the same transaction as the state, and the ledger's unique constraint allows
    only one per hold (docs/architecture.md "Two-phase charging"). An expiry of a job with a task at
    the provider schedules a late look (:func:`generation_late_look`).

    Args:
        generation_id: the generation.
        outcome: the final answer.
        from_states: when given, act only if the locked row is still in one of these states
            (e.g. a submit's refusal applies only to a job still ``submitting``: a callback
            may have moved it on meanwhile).
        actor: the person who ended the job (a manager's cancel or expire), recorded on
            the capture or release entry; None when the provider's answer or a deadline did.

    Returns:
        True if this call finalized the generation, False if it was already final (or not
        in ``from_states``).

    A job in flight whose latest hold is already captured or released disagrees with the
    ledger (``ledger_check`` reports it): it is not finalized, but parked
    (:func:`_park_ledger_mismatch`: no further automatic action, a manager alert), and this
    returns False, so a sweep or a poll batch goes on with the other jobs.

    Raises:
        HoldAlreadySettled: only if the hold was settled between the check and the write,
            which the locked generation row rules out; everything rolls back.
    """
    with transaction.atomic():
        generation = Generation.objects.select_for_update().get(pk=generation_id)
        if generation.is_final:
            return False
        if from_states is not None and generation.state not in from_states:
            return False
        # The latest hold: a failover released the first provider's hold and held anew.
        hold = CreditEntry.objects.filter(generation=generation, kind=CreditEntry.Kind.HOLD).latest(
            "pk"
        )
        if CreditEntry.objects.filter(hold=hold).exists():
            _park_ledger_mismatch(generation, hold=hold)
            return False
        generation.state = outcome.state
        generation.finished_at = timezone.now()
        generation.next_action_at = None
        generation.cost_time_ms = outcome.cost_time_ms
        generation.provider_completed_at = outcome.completed_at
        if outcome.state == State.SUCCEEDED:
            generation.next_action_at = generation.finished_at + download_lease()
            generation.result_url = outcome.result_url
            generation.result_state = Generation.ResultState.PENDING
            generation.fail_code = generation.fail_message = ""
            settlement = credits_capture(
                hold=hold, actor=actor, memo=f"Generation #{generation.pk} succeeded"
            )
            transaction.on_commit(lambda: _enqueue_store_result(generation.pk))
        else:
            if outcome.state == State.EXPIRED and generation.provider_task_id:
                generation.next_action_at = generation.finished_at  # a last look at once
            generation.fail_code = outcome.fail_code[:64]
            generation.fail_message = outcome.fail_message or "The generation failed."
            settlement = credits_release(
                hold=hold,
                actor=actor,
                memo=f"Refund: generation #{generation.pk} {outcome.state}",
                outcome=outcome.state,
            )
            transaction.on_commit(lambda: _enqueue_notify(generation.pk))
        if settlement is None:
            raise HoldAlreadySettled(
                f"Generation #{generation.pk} is {generation.state} but its hold "
                f"{hold.pk} was already settled; nothing was changed."
            )
        generation.save()
        inputs_expire_later(generation=generation)
    return True


LEDGER_MISMATCH = "LEDGER_MISMATCH"


def _park_ledger_mismatch(generation: Generation, *, hold: CreditEntry) -> None:
    """Stop all automatic work on a job whose latest hold is already settled; alert managers.

    Called on the locked row. The job keeps its state; ``next_action_at`` is cleared (no
    submit or poll) and ``fail_code`` becomes ``LEDGER_MISMATCH``, which the sweeper skips,
    so the dispatcher is not stopped by one broken job and money does not move again. A
    manager decides (the job shows in the admin and in ``ledger_check``).
    """
    logger.error(
        "Generation %s is %s but its hold %s is already settled; parked for a manager",
        generation.pk,
        generation.state,
        hold.pk,
    )
    Generation.objects.filter(pk=generation.pk).update(
        next_action_at=None, fail_code=LEDGER_MISMATCH, updated_at=timezone.now()
    )
    provider_alert_raise(
        provider=generation.provider,
        error=ProviderError(
            f"Generation #{generation.pk} is {generation.state} but its credits were already "
            "settled; it was stopped for a manager to check (see ledger_check).",
            code="ledger_mismatch",
            alert_admin=True,
        ),
    )


def _enqueue_store_result(generation_id: int) -> None:
    enqueue("store_result", generation_id, group="results", name=f"store-result-{generation_id}")


def generation_store_result(*, generation_id: int) -> str:
    """Download a succeeded job's video into the portal's storage.

    The provider's URL may expire within 24 hours (docs/providers.md "Stricter reading"), so
    the video is copied at once through the guarded downloader (HTTP(S) only, public addresses only
    except the configured simulator, ``RESULT_MAX_BYTES`` bytes, ``RESULT_DOWNLOAD_TIMEOUT``
    seconds, video content checked).

    Each attempt is counted when it starts (``download_attempts``, claimed by a conditional
    UPDATE that also pushes ``next_action_at`` past ``download_lease()``), so a worker that
    dies mid-download costs an attempt too and nothing retries forever. A retryable failure
    (network, 429/5xx, time limit) is retried by the dispatcher with backoff; a refused one
    (address, type, size, 4xx) or the ``DOWNLOAD_MAX_ATTEMPTS``-th failure gives up:
    ``result_state`` ``failed`` with the reason in ``fail_message``. The job stays
    succeeded (the provider delivered and the hold is captured) and its page says so.

    Returns:
        The result state afterwards ("stored", "pending" or "failed"; "" if nothing to do).
    """
    now = timezone.now()
    claimed = Generation.objects.filter(
        pk=generation_id,
        state=State.SUCCEEDED,
        result_state=Generation.ResultState.PENDING,
    ).update(
        download_attempts=F("download_attempts") + 1,
        next_action_at=now + download_lease(),
        updated_at=now,
    )
    if not claimed:
        return ""
    generation = Generation.objects.get(pk=generation_id)
    attempts = generation.download_attempts
    if attempts > DOWNLOAD_MAX_ATTEMPTS:
        return _download_given_up(generation_id, "The video could not be saved after retries.")
    try:
        allow_hosts = get_provider(generation.provider).download_allow_hosts()
    except ProviderNotConfigured:  # removed since: its result URL may still be public
        allow_hosts = frozenset()
    with tempfile.TemporaryFile() as spool:
        try:
            result = download_to_file(
                generation.result_url,
                spool,
                max_bytes=settings.RESULT_MAX_BYTES,
                timeout_total_s=settings.RESULT_DOWNLOAD_TIMEOUT,
                allowed_content_types=RESULT_CONTENT_TYPES,
                allow_loopback_hosts=allow_hosts,
            )
        except ProviderError as error:
            logger.warning("Download of generation %s failed: %r", generation_id, error)
            if not error.retryable or attempts >= DOWNLOAD_MAX_ATTEMPTS:
                return _download_given_up(generation_id, error.message)
            delay = timedelta(seconds=backoff_delay(attempts, base=10.0))
            Generation.objects.filter(pk=generation_id).update(
                next_action_at=timezone.now() + delay, updated_at=timezone.now()
            )
            return Generation.ResultState.PENDING
        spool.seek(0)
        extension = {"video/webm": "webm", "video/quicktime": "mov"}.get(result.content_type, "mp4")
        generation.result_file.save(
            f"generation-{generation.pk}.{extension}", File(spool), save=False
        )
    stored = Generation.objects.filter(
        pk=generation_id, result_state=Generation.ResultState.PENDING
    ).update(
        result_file=generation.result_file.name,
        result_bytes=result.size_bytes,
        result_state=Generation.ResultState.STORED,
        next_action_at=None,
        updated_at=timezone.now(),
    )
    if stored:  # the member hears of success once the video can be watched
        _enqueue_notify(generation_id)
        # The poster is its own task: decoding a frame (PyAV) must not spend this download's
        # time budget, and a file that crashes or hangs the decoder must not cost the
        # download an attempt (services.posters; the card falls back to the video).
        enqueue("make_poster", generation_id, group="results", name=f"poster-{generation_id}")
    return Generation.ResultState.STORED


def _enqueue_notify(generation_id: int) -> None:
    enqueue(
        "notify_generation_finished", generation_id, group="notify", name=f"notify-{generation_id}"
    )


def _download_given_up(generation_id: int, message: str) -> str:
    """Mark a result download failed for good, with ``message`` for the member."""
    Generation.objects.filter(pk=generation_id).update(
        result_state=Generation.ResultState.FAILED,
        fail_message=message,
        next_action_at=None,
        updated_at=timezone.now(),
    )
    return Generation.ResultState.FAILED


def generation_download_retry(*, generation_id: int) -> bool:
    """Give a succeeded job whose result download failed a fresh set of attempts.

    A manager's action (admin), e.g. after fixing storage; the provider's URL may have
    expired by then (24 hours, docs/providers.md "Stricter reading"), in which case it fails
    again.

    Returns:
        True if the job was in ``result_state`` ``failed`` and is now queued for download.
    """
    now = timezone.now()
    return bool(
        Generation.objects.filter(
            pk=generation_id, state=State.SUCCEEDED, result_state=Generation.ResultState.FAILED
        ).update(
            result_state=Generation.ResultState.PENDING,
            download_attempts=0,
            fail_message="",
            next_action_at=now,
            updated_at=now,
        )
    )
