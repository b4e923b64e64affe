"""Webhook deliveries: recognise them by token, confirm with a fresh status read, finalize.

docs/providers/apixo.md "Webhooks": APIXO POSTs the ``statusTask`` envelope to ``callback_url`` when
a task reaches a final state; the receiver must answer 200 within 30 s, else it retries after 30 s,
2 min and 10 min; duplicates happen; nothing is signed. aivideoapi.ai
(docs/providers/aivideoapi.md "Callback") POSTs the task object with ``X-Event``, ``X-Task-Id`` and
``X-Timestamp`` headers, retries non-2xx answers immediately, after 3 and after 10 minutes, and
signs nothing either. So, for both (docs/architecture.md "Generation lifecycle",
docs/style.md practice 9):

- the per-attempt token in the URL (``services.callback_tokens``) is the only proof of who
  sent it; a wrong or unknown token is refused (404) and writes nothing;
- the body is a signal, never the truth: it is parsed strictly and only its ``taskId`` may be
  used, and only when the submit answer was never stored: to confirm with ``statusTask``, or,
  when that cannot be done now, to adopt the task for the poller to confirm. Such a job's
  delivery that names no task at all is answered 503, so that the provider sends it again;
- the outcome comes from a fresh ``statusTask`` answer and goes through the same
  ``generation_finalize`` as the poller and the sweeper, so duplicate, late and out-of-order
  deliveries change nothing.

The confirming status read runs inside the webhook request, so it has a short total budget
(``WEBHOOK_STATUS_CONNECT_TIMEOUT`` + ``WEBHOOK_STATUS_READ_TIMEOUT``, 2 + 3 s by default,
well under APIXO's 30 s): the view answers within a few seconds whatever the provider does,
and a read that does not make it hands the job to the queue at once (:func:`_poll_now`).

The entry point is :func:`generation_callback_receive`; the webhook view
(``views.webhooks.GenerationWebhookView``) is a thin wrapper around it, and tests or a state
machine may call it directly.
"""

import json
import logging
from collections.abc import Mapping

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Generation
from ..providers import ProviderNotConfigured, TaskStatus, get_provider
from ..providers.errors import (
    ProviderError,
    ProviderResponseError,
    ProviderTaskNotFound,
    ReadFault,
    status_read_fault,
)
from ..queue import enqueue
from ..selectors.callbacks import generation_for_callback
from ..selectors.circuits import provider_paused_until
from .alerts import provider_alert_raise
from .callback_tokens import callback_token_matches
from .circuit import provider_circuit_open
from .dispatch import JOB_LEASE
from .lifecycle import (
    Outcome,
    generation_finalize,
    generation_late_record,
    generation_read_failed,
    task_adopted_changes,
)
from .poll_schedule import next_poll_delay
from .status_reads import task_status_read

logger = logging.getLogger(__name__)
State = Generation.State

# States in which the submit answer (the taskId) may be missing while the task exists: the
# submit is in flight, its answer was lost, or an earlier attempt's answer was an error.
ADOPTABLE_STATES = (State.QUEUED, State.SUBMITTING, State.UNKNOWN)
# Longest task id stored (``Generation.provider_task_id``).
TASK_ID_MAX_LENGTH = 128


class CallbackRetryLater(Exception):
    """A recognised delivery for a task-less job names no task: ask the provider to retry.

    The job's submit answer was lost (``unknown``) or is still out, and this delivery is the
    only place its ``taskId`` can come from; acknowledging it with 200 would end the
    provider's retries and leave the job to expire with a release although the provider ran
    (and bills) the task (docs/architecture.md "Generation lifecycle"). The view answers 503,
    which both providers retry (docs/providers/apixo.md "Webhooks": 30 s, 2 min, 10 min;
    docs/providers/aivideoapi.md "Callback": at once, 3 and 10 min). Nothing was written.
    """


def generation_callback_receive(
    *, generation_id: int, token: str, body: bytes, headers: Mapping[str, str] | None = None
) -> bool:
    """Handle one webhook delivery for ``generation_id``; tell whether it was recognised.

    Recognised means: the generation exists and ``token`` is its current webhook token
    (compared in constant time with the stored sha256). Anything else returns False, after
    reading one row and writing nothing (the view answers 404).

    For a recognised delivery, in order:
    - a generation already final is left alone (late or duplicate delivery);
    - the body's ``taskId`` is first read leniently (:func:`callback_task_id`), then the
      body is parsed strictly (``ProviderClient.parse_callback``); a malformed body is
      logged and only the stored or the leniently read ``taskId`` is used;
    - the task to confirm is the stored ``provider_task_id``; if none is stored yet (the job
      is ``submitting``, ``unknown`` or back in ``queued``: an early callback or a lost
      submit answer), the body's ``taskId``: :func:`generation_callback_confirm` reads its
      status, checks no other generation uses it, stores it and finalizes. Whenever the
      status cannot be read here (provider paused or not configured on this node, a read
      that fails other than with a documented "task does not exist"), the id is still
      adopted for the poller to confirm: the token proved the sender, the provider will not
      deliver again after a 200, and adopting moves no money (docs/architecture.md
      "Generation lifecycle"). If such a job's delivery names no task at all,
      :class:`CallbackRetryLater` is raised so that the provider retries.
    The status read happens in this call, outside any transaction, so the outcome is visible
    as soon as the 200 goes back (docs/architecture.md "Performance targets": within a second). It
    has a total budget of ``WEBHOOK_STATUS_CONNECT_TIMEOUT + WEBHOOK_STATUS_READ_TIMEOUT`` seconds
    (5 s by default; APIXO allows 30 s); a read that fails or runs out of time enqueues a
    poll at once. A generation whose provider is not configured on this node, or paused
    (``services.circuit``), is left to the workers' poller (after adopting the body's task,
    see above), which resumes after the circuit closes. An ``expired`` job's
    delivery is confirmed too: a success is recorded as "finished after expiry" for
    managers (``lifecycle.generation_late_record``), never charged.

    Args:
        generation_id: from the webhook URL.
        token: from the webhook URL.
        body: the raw request body (the view caps its size).
        headers: the delivery's provider headers, e.g. aivideoapi.ai's ``X-Event``,
            ``X-Task-Id`` and ``X-Timestamp`` (docs/providers/aivideoapi.md "Callback"); checked
            against the body by the client's ``parse_callback``, never trusted either.

    Returns:
        True if the delivery was recognised (answer 200), False if not (answer 404).

    Raises:
        CallbackRetryLater: recognised, but the job has no task id yet and the delivery names
            none; nothing was written (the view answers 503 and the provider retries).
        django.db.DatabaseError: the database failed; the view answers 500 and APIXO retries.
    """
    generation = generation_for_callback(generation_id)
    stored_hash = generation.callback_token_hash if generation is not None else ""
    if not callback_token_matches(token, stored_hash):
        return False
    expired_late = generation.state == State.EXPIRED and not generation.late_state
    if generation.is_final and not expired_late:
        # Counted in /metrics (seedance_webhook_deliveries_total); a log line per duplicate
        # would cost more than the rest of the delivery.
        logger.debug("Late or duplicate callback for final generation %s", generation_id)
        return True
    # Read before anything else may fail: for a job without a stored task id this is the
    # only copy of its taskId, and the token already proved who sent it. A job that has its
    # task id (every ordinary delivery) skips this second parse of the body.
    body_task_id = (
        callback_task_id(body, headers or {}) if generation.provider_task_id is None else ""
    )
    adoptable = generation.provider_task_id is None and generation.state in ADOPTABLE_STATES
    try:
        client = get_provider(generation.provider)
    except ProviderNotConfigured:
        # This web node's environment lacks the provider (a rolling deploy, a missing key in
        # its env file): that says nothing about the task, so no money moves here. A job
        # still waiting for its submit answer adopts the body's taskId for the workers'
        # polls to confirm; anything else is acknowledged and left to the workers.
        logger.warning(
            "Callback for generation %s: provider %s not configured on this node; left to "
            "the workers",
            generation_id,
            generation.provider,
        )
        if adoptable:
            _adopt_or_retry(generation, task_id=body_task_id)
        return True
    claimed = _parse(client, generation, body, headers or {})
    task_id = generation.provider_task_id
    if task_id is None:
        task_id = claimed.task_id if claimed is not None else body_task_id
        if adoptable and not task_id:
            raise CallbackRetryLater(f"callback for generation {generation_id} names no task")
    elif claimed is not None and claimed.task_id != task_id:
        logger.warning(
            "Callback for generation %s names task %r, not its task %r; confirming its own",
            generation_id,
            claimed.task_id,
            task_id,
        )
    if task_id and expired_late:
        _confirm_after_expiry(generation, task_id=task_id)
    elif task_id:
        generation_callback_confirm(generation_id=generation_id, task_id=task_id)
    return True


def callback_task_id(body: bytes, headers: Mapping[str, str]) -> str:
    """Return the ``taskId`` a callback names, read leniently, or "" if it names none.

    Unlike ``ProviderClient.parse_callback`` this accepts any JSON object that carries a
    task id where either provider puts it: APIXO's envelope ``data.taskId``
    (docs/providers/apixo.md "Webhooks"), aivideoapi.ai's task object ``id`` or its
    ``X-Task-Id`` header (docs/providers/aivideoapi.md "Callback"). Used only to adopt a task
    for the poller to confirm, never to finalize. A value that is not a non-empty string of
    at most ``TASK_ID_MAX_LENGTH`` characters without whitespace does not count.
    """
    candidates = []
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if isinstance(parsed, dict):
        data = parsed.get("data")
        if isinstance(data, dict):
            candidates.append(data.get("taskId"))
        candidates += [parsed.get("taskId"), parsed.get("id")]
    candidates += [value for name, value in headers.items() if name.lower() == "x-task-id"]
    for candidate in candidates:
        if (
            isinstance(candidate, str)
            and 0 < len(candidate) <= TASK_ID_MAX_LENGTH
            and candidate.isprintable()
            and not any(char.isspace() for char in candidate)
        ):
            return candidate
    return ""


def _adopt_or_retry(generation: Generation, *, task_id: str) -> None:
    """Adopt ``task_id`` unconfirmed for the poller, or raise :class:`CallbackRetryLater`."""
    if not task_id:
        raise CallbackRetryLater(f"callback for generation {generation.pk} names no task")
    if _held_by_another(generation, task_id):
        return
    _adopt(generation, task_id=task_id, status=None)


def _held_by_another(generation: Generation, task_id: str) -> bool:
    """Tell whether another generation of the same provider already holds ``task_id``."""
    taken = (
        Generation.objects.filter(provider=generation.provider, provider_task_id=task_id)
        .exclude(pk=generation.pk)
        .exists()
    )
    if taken:
        logger.warning(
            "Callback for generation %s names another job's task %r", generation.pk, task_id
        )
    return taken


def _parse(
    client, generation: Generation, body: bytes, headers: Mapping[str, str]
) -> TaskStatus | None:
    """Return the body's claim, or None if it is not a well-formed callback."""
    try:
        return client.parse_callback(body, headers=headers)
    except ProviderResponseError as error:
        logger.warning("Malformed callback for generation %s: %r", generation.pk, error)
        return None


def generation_callback_confirm(*, generation_id: int, task_id: str) -> str:
    """Read ``task_id``'s status from the provider and apply it to the generation.

    With the generation's own ``provider_task_id``: a final status is finalized through
    ``generation_finalize``; a running one (the callback ran ahead of the status endpoint)
    brings the next poll forward to the polling-mode pace. A failed read is classified by
    ``errors.status_read_fault``: a transient one (timeout, unreadable answer, 429, 5xx)
    hands the job to the queue at once (:func:`_poll_now`); a documented "not found" counts
    as the poller's would (``lifecycle.generation_read_failed``: confirmed after a delay);
    401/402/403 raise a provider alert and pause the provider, keeping the job and its hold.
    Nothing is read while the provider is paused.

    Without a stored task id (states ``ADOPTABLE_STATES``; the token proved which generation
    this is), ``task_id`` is adopted if the provider knows it and no other generation holds it
    (the ``generation_unique_provider_task`` constraint decides): on the locked row it is
    stored, the job becomes ``submitted`` and, if the status is final, is finalized in the
    same transaction. The submit worker, if still waiting for its answer, then finds the job
    no longer ``submitting`` and does nothing. When no status can be read here (the provider
    is paused or not configured on this node, or the read fails with anything but a
    documented "task does not exist", ``errors.ProviderTaskNotFound``) the id is still
    adopted, unconfirmed, for the poller to confirm: the token proved the sender, and
    adopting moves no money. Only the documented "task does not exist" adopts nothing.

    Args:
        generation_id: the generation the webhook token proved.
        task_id: its stored ``provider_task_id``, or the ``taskId`` of the callback body.

    Returns:
        The generation's state afterwards.
    """
    generation = Generation.objects.get(pk=generation_id)
    if generation.is_final:
        return generation.state
    adopting = generation.provider_task_id is None
    if not adopting:
        task_id = generation.provider_task_id
    elif generation.state not in ADOPTABLE_STATES or _held_by_another(generation, task_id):
        return generation.state
    if provider_paused_until(provider=generation.provider) is not None:
        # Calls to the provider are paused: nothing is read now. A task-less job adopts the
        # id unconfirmed (no money moves); the poller reads it once the circuit closes.
        if adopting:
            return _adopt(generation, task_id=task_id, status=None)
        return generation.state
    try:
        status = task_status_read(
            generation=generation, client=webhook_client(generation.provider), task_id=task_id
        )
    except ProviderNotConfigured:
        # Not configured on this node: left to the workers, which confirm an adopted id.
        if adopting:
            return _adopt(generation, task_id=task_id, status=None)
        return generation.state
    except ProviderError as error:
        logger.warning("Confirming the callback of generation %s failed: %r", generation_id, error)
        fault = status_read_fault(error)
        if fault == ReadFault.CREDENTIALS:
            provider_alert_raise(provider=generation.provider, error=error)
            provider_circuit_open(provider=generation.provider, error=error)
        if adopting and isinstance(error, ProviderTaskNotFound):
            return generation.state
        if not adopting:
            if fault == ReadFault.TRANSIENT:
                _poll_now(generation)
            elif fault == ReadFault.NOT_FOUND:
                generation_read_failed(generation=generation, error=error)
            return _state(generation_id)
        status = None
    if adopting:
        return _adopt(generation, task_id=task_id, status=status)
    if status.is_final:
        generation_finalize(generation_id=generation_id, outcome=Outcome.from_status(status))
    else:
        _poll_soon(generation, provider_state=status.raw_state)
    return _state(generation_id)


def _adopt(generation: Generation, *, task_id: str, status: TaskStatus | None) -> str:
    """Store ``task_id`` on the locked, still task-less generation; finalize if ``status`` is."""
    now = timezone.now()
    with transaction.atomic():
        locked = Generation.objects.select_for_update().get(pk=generation.pk)
        if locked.is_final:
            return locked.state
        if locked.provider_task_id is None:
            if locked.state not in ADOPTABLE_STATES:
                return locked.state
            changes = task_adopted_changes(
                locked,
                task_id=task_id,
                now=now,
                next_action_at=now + next_poll_delay(locked, fast=True),
            )
            changes["provider_state"] = status.raw_state[:32] if status is not None else ""
            try:
                with transaction.atomic():
                    Generation.objects.filter(pk=locked.pk).update(**changes)
            except IntegrityError:
                logger.warning(
                    "Task %r of a callback for generation %s belongs to another generation",
                    task_id,
                    locked.pk,
                )
                return locked.state
            logger.info("Generation %s adopted task %s from a callback", locked.pk, task_id)
        elif locked.provider_task_id != task_id:
            return locked.state
        if status is not None and status.is_final:
            generation_finalize(generation_id=locked.pk, outcome=Outcome.from_status(status))
    return _state(generation.pk)


def webhook_client(provider: str):
    """Return ``provider``'s client with the webhook's short budget (issue #12 item 14).

    ``WEBHOOK_STATUS_CONNECT_TIMEOUT`` (2 s) to connect and ``WEBHOOK_STATUS_READ_TIMEOUT``
    (3 s) to answer, and their sum as the total for the whole call, so the view answers well
    within APIXO's 30 s (docs/providers/apixo.md "Webhooks") and aivideoapi.ai's retries start late.

    Raises:
        ProviderNotConfigured: the provider is not configured.
    """
    connect = settings.WEBHOOK_STATUS_CONNECT_TIMEOUT
    read = settings.WEBHOOK_STATUS_READ_TIMEOUT
    return get_provider(
        provider, connect_timeout=connect, read_timeout=read, total_timeout=connect + read
    )


def _poll_now(generation: Generation) -> None:
    """Hand a submitted job to the queue at once: claim it and enqueue its poll on commit.

    The claim moves ``next_action_at`` one dispatcher lease ahead (as the dispatcher does),
    so the dispatcher does not poll it a second time, and re-drives it if the task is lost.
    """
    now = timezone.now()
    claimed = Generation.objects.filter(pk=generation.pk, state=State.SUBMITTED).update(
        next_action_at=now + JOB_LEASE, updated_at=now
    )
    if claimed:
        pk = generation.pk
        transaction.on_commit(lambda: enqueue("poll_generations", [pk], group="poll"))


def _poll_soon(generation: Generation, *, provider_state: str = "") -> None:
    """Bring a submitted job's next poll forward to the polling-mode interval."""
    now = timezone.now()
    changes = {"next_action_at": now + next_poll_delay(generation, fast=True), "updated_at": now}
    if provider_state:
        changes["provider_state"] = provider_state[:32]
    Generation.objects.filter(pk=generation.pk, state=State.SUBMITTED).update(**changes)


def _confirm_after_expiry(generation: Generation, *, task_id: str) -> None:
    """Confirm a delivery for an ``expired`` job; record a success for managers.

    The task to read is the job's own, or (it expired while its submit outcome was unknown)
    the body's ``taskId`` if no other generation holds it. A success is recorded by
    ``lifecycle.generation_late_record``; no money moves. A failed read schedules the job's
    late look at once, when it has a task of its own.
    """
    if generation.provider_task_id is None and (
        Generation.objects.filter(provider=generation.provider, provider_task_id=task_id)
        .exclude(pk=generation.pk)
        .exists()
    ):
        return
    if provider_paused_until(provider=generation.provider) is not None:
        return
    expired = Generation.objects.filter(pk=generation.pk, state=State.EXPIRED, late_state="")
    try:
        status = task_status_read(
            generation=generation, client=webhook_client(generation.provider), task_id=task_id
        )
    except ProviderError as error:
        logger.warning("Confirming a late callback of %s failed: %r", generation.pk, error)
        if generation.provider_task_id is not None:
            expired.update(next_action_at=timezone.now())
        return
    if status.succeeded:
        generation_late_record(generation_id=generation.pk, status=status)


def _state(generation_id: int) -> str:
    return Generation.objects.values_list("state", flat=True).get(pk=generation_id)
