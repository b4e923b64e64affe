"""Webhook deliveries: recognise them by token, confirm with a fresh status read, finalize.

CONTRACT.md "Webhooks": APIXO POSTs the ``statusTask`` envelope to ``callback_url`` when a task
reaches a final state; the receiver must answer 200 within 30 s, else it retries after 30 s,
2 min and 10 min; duplicates happen; nothing is signed. aivideoapi.ai (CONTRACT.md
"aivideoapi.ai") POSTs the task object with ``X-Event``, ``X-Task-Id`` and ``X-Timestamp``
headers, retries non-2xx answers immediately, after 3 and after 10 minutes, and signs nothing
either. So, for both (DESIGN.md "Generation lifecycle", STYLE.md practice 9):

- the per-attempt token in the URL (``services.callback_tokens``) is the only proof of who
  sent it; a wrong or unknown token is refused (404) and writes nothing;
- the body is a signal, never the truth: it is parsed strictly and only its ``taskId`` may be
  used, and only to confirm with ``statusTask`` when the submit answer was never stored;
- the outcome comes from a fresh ``statusTask`` answer and goes through the same
  ``generation_finalize`` as the poller and the sweeper, so duplicate, late and out-of-order
  deliveries change nothing.

The entry point is :func:`generation_callback_receive`; the webhook view
(``views.webhooks.GenerationWebhookView``) is a thin wrapper around it, and tests or a state
machine may call it directly.
"""

import logging
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Generation
from ..providers import TaskStatus, get_provider
from ..providers.errors import ProviderError, ProviderNotFound, ProviderResponseError
from .callback_tokens import callback_token_matches
from .lifecycle import Outcome, generation_finalize, next_poll_delay

logger = logging.getLogger(__name__)
State = Generation.State

# States in which the submit answer (the taskId) may be missing while the task exists: the
# submit is in flight, its answer was lost, or an earlier attempt's answer was an error.
ADOPTABLE_STATES = (State.QUEUED, State.SUBMITTING, State.UNKNOWN)


def generation_callback_receive(
    *, generation_id: int, token: str, body: bytes, headers: Mapping[str, str] | None = None
) -> bool:
    """Handle one webhook delivery for ``generation_id``; tell whether it was recognised.

    Recognised means: the generation exists and ``token`` is its current webhook token
    (compared in constant time with the stored sha256). Anything else returns False, after
    reading one row and writing nothing (the view answers 404).

    For a recognised delivery, in order:
    - a generation already final is left alone (late or duplicate delivery);
    - the body is parsed strictly (``ProviderClient.parse_callback``); a malformed body is
      logged and only the stored ``taskId`` is used;
    - the task to confirm is the stored ``provider_task_id``; if none is stored yet (the job
      is ``submitting``, ``unknown`` or back in ``queued``: an early callback or a lost
      submit answer), the body's ``taskId``: :func:`generation_callback_confirm` reads its
      status, checks no other generation uses it, stores it and finalizes.
    The status read happens in this call, outside any transaction, so the outcome is visible
    as soon as the 200 goes back (DESIGN.md performance target: within a second). It waits
    at most ``PROVIDER_READ_TIMEOUT`` seconds, within APIXO's 30 s; a failed read leaves the
    job to the poller, which is brought forward.

    Args:
        generation_id: from the webhook URL.
        token: from the webhook URL.
        body: the raw request body (the view caps its size).
        headers: the delivery's provider headers, e.g. aivideoapi.ai's ``X-Event``,
            ``X-Task-Id`` and ``X-Timestamp`` (CONTRACT.md "aivideoapi.ai"); checked against
            the body by the client's ``parse_callback``, never trusted either.

    Returns:
        True if the delivery was recognised (answer 200), False if not (answer 404).

    Raises:
        django.db.DatabaseError: the database failed; the view answers 500 and APIXO retries.
    """
    generation = (
        Generation.objects.filter(pk=generation_id)
        .only("id", "state", "provider", "provider_task_id", "callback_token_hash")
        .first()
    )
    stored_hash = generation.callback_token_hash if generation is not None else ""
    if not callback_token_matches(token, stored_hash):
        return False
    if generation.is_final:
        logger.info("Late or duplicate callback for final generation %s", generation_id)
        return True
    claimed = _parse(generation, body, headers or {})
    task_id = generation.provider_task_id
    if task_id is None:
        task_id = claimed.task_id if claimed is not None else None
    elif claimed is not None and claimed.task_id != task_id:
        logger.warning(
            "Callback for generation %s names task %r, not its task %r; confirming its own",
            generation_id,
            claimed.task_id,
            task_id,
        )
    if task_id:
        generation_callback_confirm(generation_id=generation_id, task_id=task_id)
    return True


def _parse(generation: Generation, body: bytes, headers: Mapping[str, str]) -> TaskStatus | None:
    """Return the body's claim, or None if it is not a well-formed callback."""
    try:
        return get_provider(generation.provider).parse_callback(body, headers=headers)
    except ProviderResponseError as error:
        logger.warning("Malformed callback for generation %s: %r", generation.pk, error)
        return None


def generation_callback_confirm(*, generation_id: int, task_id: str) -> str:
    """Read ``task_id``'s status from the provider and apply it to the generation.

    With the generation's own ``provider_task_id``: a final status is finalized through
    ``generation_finalize``; a running one (the callback ran ahead of the status endpoint)
    brings the next poll forward to the polling-mode pace. A failed read brings the next
    poll forward; the poller's own error handling (backoff, 401/402 alerts) takes over.

    Without a stored task id (states ``ADOPTABLE_STATES``; the token proved which generation
    this is), ``task_id`` is adopted if the provider knows it and no other generation holds it
    (the ``generation_unique_provider_task`` constraint decides): on the locked row it is
    stored, the job becomes ``submitted`` and, if the status is final, is finalized in the
    same transaction. The submit worker, if still waiting for its answer, then finds the job
    no longer ``submitting`` and does nothing. A status read that fails with a retryable or
    operator error still adopts the id, for the poller to confirm; a 404 or a garbled answer
    (the provider does not know that task) adopts nothing.

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
    elif generation.state not in ADOPTABLE_STATES:
        return generation.state
    elif (
        Generation.objects.filter(provider=generation.provider, provider_task_id=task_id)
        .exclude(pk=generation_id)
        .exists()
    ):
        logger.warning(
            "Callback for generation %s names another job's task %r", generation_id, task_id
        )
        return generation.state
    client = get_provider(generation.provider)
    try:
        status = client.fetch_status(task_id, model=generation.model_id)
    except ProviderError as error:
        logger.warning("Confirming the callback of generation %s failed: %r", generation_id, error)
        if adopting and isinstance(error, (ProviderNotFound, ProviderResponseError)):
            return generation.state
        if not adopting:
            _poll_soon(generation, fast=False)
            return _state(generation_id)
        status = None
    if adopting:
        return _adopt(generation, task_id=task_id, status=status)
    if status.is_final:
        generation_finalize(generation_id=generation_id, outcome=Outcome.from_status(status))
    else:
        _poll_soon(generation, fast=True, provider_state=status.raw_state)
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
            changes = {
                "state": State.SUBMITTED,
                "provider_task_id": task_id,
                "submitted_at": locked.submitted_at or now,
                "provider_state": status.raw_state[:32] if status is not None else "",
                "next_action_at": now + next_poll_delay(locked, fast=True),
                "fail_message": "",
                "updated_at": now,
            }
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


def _poll_soon(generation: Generation, *, fast: bool, provider_state: str = "") -> None:
    """Bring a submitted job's next poll forward (now, or the polling-mode interval)."""
    changes = {"next_action_at": timezone.now(), "updated_at": timezone.now()}
    if fast:
        changes["next_action_at"] += next_poll_delay(generation, fast=True)
    if provider_state:
        changes["provider_state"] = provider_state[:32]
    Generation.objects.filter(pk=generation.pk, state=State.SUBMITTED).update(**changes)


def _state(generation_id: int) -> str:
    return Generation.objects.values_list("state", flat=True).get(pk=generation_id)
