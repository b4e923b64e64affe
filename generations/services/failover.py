"""Failover: a job the first provider keeps refusing goes to the other configured provider.

Issue #7 "Failover" (an operator setting, ``PROVIDER_FAILOVER``, off by default): when the
first provider refuses a submit with a retryable error (5xx, aivideoapi.ai's 503
``upstream_error``, a network failure before anything was sent) after its retries, the job is
submitted to the other configured provider at that provider's price, only if the member can
pay it. Never after a submit whose outcome is unknown: the first task may exist and be billed
(docs/architecture.md "Generation lifecycle"); ``generation_submit`` sends those to ``unknown``,
not here.

Money (docs/architecture.md "Money"): in one transaction, on the locked generation, the first hold
is released and the other provider's price is held under its own idempotency key, so the
ledger shows the difference where it happened and ``ledger_check`` sees exactly one open
hold. If the member's balance (or monthly cap) does not cover the new price, the whole
transaction rolls back and the caller fails the job with a release, saying why.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..catalog import Provider, UnsupportedRequest
from ..models import CreditEntry, Generation
from ..providers import GenerationRequest, get_provider, providers_for
from ..providers.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderServerError,
    submit_outcome_unknown,
)
from ..queue import enqueue
from .ledger import InsufficientCredits, MonthlyCapExceeded, credits_hold, credits_release
from .pricing import price_quote

logger = logging.getLogger(__name__)
State = Generation.State

# Errors that say the provider is down or unreachable, and nothing was created there:
# 500/503 in the provider's own error body (docs/providers/apixo.md "HTTP errors"; a gateway's
# 502/504 or a CDN's or proxy's 5xx never gets here, it is an unknown outcome:
# errors.submit_outcome_unknown;
# docs/providers/aivideoapi.md "Error Reference": 500 internal_error, 503 upstream_error) and a
# connection that failed before the request was sent. 429 is left out: the account is busy, not the
# provider down, and aivideoapi.ai's ``spend_limit_exceeded`` is a limit the operator set.
FAILOVER_ERRORS = (ProviderServerError, ProviderConnectionError)


@dataclass(frozen=True)
class FailoverResult:
    """What :func:`generation_failover` did.

    Attributes:
        moved: True when the job now waits, ``queued``, for the other provider.
        target: the provider it moved to, or would have ("" when none offers the job).
        reason: why a possible failover was skipped, for the member; "" otherwise.
    """

    moved: bool
    target: str = ""
    reason: str = ""


def failover_target(generation: Generation) -> str | None:
    """Return the other configured provider that offers the job's mode and resolution.

    None when failover is off (``PROVIDER_FAILOVER``), the job already failed over once (no
    ping-pong), or no other provider offers it: video-extend is APIXO's only
    (docs/providers/aivideoapi.md "Input Object": no ``video_urls``), 1080p text/image-to-video
    aivideoapi.ai's only.
    """
    if not getattr(settings, "PROVIDER_FAILOVER", False) or generation.failover_from:
        return None
    others = [
        name
        for name in providers_for(mode=generation.mode, resolution=generation.resolution)
        if name != generation.provider
    ]
    return others[0] if others else None


def generation_failover(
    *, generation_id: int, error: ProviderError, request: GenerationRequest, attempts: int
) -> FailoverResult:
    """Move a job whose submit kept failing to the other provider, re-pricing its hold.

    Call it from the submit worker once the first provider's retries are spent (after
    ``SUBMIT_MAX_ATTEMPTS`` failed connections, or from the ``SUBMIT_MAX_ATTEMPTS``-th 5xx
    refusal on: ``lifecycle.generation_submit``), with the
    job still ``submitting`` on attempt ``attempts``. It does nothing (``moved`` False, no
    reason) for an error that is not a retryable one of ``FAILOVER_ERRORS`` (a misconfigured
    address is not retryable) or when :func:`failover_target` finds no provider. Otherwise,
    on the generation row locked FOR UPDATE and only if it is still ``submitting`` on the
    same attempt:

    - the current hold is released and the target's price (``price_quote``, credits) held;
    - the job takes the target's provider, model, price and price table version, records
      ``failover_from``, goes back to ``queued`` with fresh attempt and refusal counts, and
      its submit is enqueued on commit.

    Args:
        generation_id: the job.
        error: the last error of the first provider.
        request: the provider-neutral request; the target's client must accept it (e.g.
            aivideoapi.ai takes no video, APIXO's text-to-video no seed) or it is skipped.
        attempts: the job's ``submit_attempts`` when the error happened.

    Returns:
        The :class:`FailoverResult`; ``reason`` explains a skip (short balance, monthly cap,
        a request the target refuses, no price) to the member.
    """
    if (
        not isinstance(error, FAILOVER_ERRORS)
        or not error.retryable
        or submit_outcome_unknown(error)
    ):
        return FailoverResult(moved=False)
    generation = Generation.objects.get(pk=generation_id)
    target = failover_target(generation)
    if target is None:
        return FailoverResult(moved=False)
    target_label = Provider(target).label
    try:
        get_provider(target).build_request(request)
        quote = price_quote(
            provider=target,
            mode=generation.mode,
            resolution=generation.resolution,
            sound=generation.sound,
            duration=generation.duration,
        )
    except (UnsupportedRequest, ValueError) as refused:
        return FailoverResult(False, target, f"{target_label} cannot take this job: {refused}")
    source_label = Provider(generation.provider).label
    try:
        with transaction.atomic():
            locked = Generation.objects.select_for_update().get(pk=generation_id)
            if locked.state != State.SUBMITTING or locked.submit_attempts != attempts:
                return FailoverResult(moved=False)  # another actor moved it meanwhile
            first_hold = CreditEntry.objects.filter(
                generation=locked, kind=CreditEntry.Kind.HOLD
            ).latest("pk")
            now = timezone.now()
            locked.failover_from = locked.provider
            locked.provider = target
            locked.model_id = quote.model_id
            locked.price_credits = quote.credits
            locked.price_table = quote.price_table
            locked.state = State.QUEUED
            locked.submit_attempts = 0
            locked.submit_refusals = 0
            locked.submit_sent_at = None
            locked.callback_token_hash = ""
            locked.next_action_at = now
            locked.fail_message = (
                f"{source_label} kept failing ({error.message}); "
                f"moved to {target_label} at its price."
            )
            # The job is the other provider's from here on; the release below is filed under
            # it in the spend rollup, as every report and ledger_check group a job's money by
            # its current provider (docs/architecture.md "Stored figures").
            locked.save()
            credits_release(
                hold=first_hold,
                memo=f"Failover of generation #{locked.pk}: {source_label} hold released",
            )
            credits_hold(
                user=locked.user,
                amount=quote.credits,
                generation=locked,
                memo=f"Failover of generation #{locked.pk}: {target_label} price held",
                idempotency_key=f"hold:generation:{locked.pk}:failover:{target}",
            )
            transaction.on_commit(lambda: _enqueue_submit(generation_id))
    except (InsufficientCredits, MonthlyCapExceeded) as short:
        logger.info("Failover of generation %s skipped: %s", generation_id, short)
        return FailoverResult(
            False, target, f"Failover to {target_label} at its price was skipped: {short}"
        )
    logger.warning(
        "Generation %s failed over from %s to %s after %r",
        generation_id,
        source_label,
        target_label,
        error,
    )
    return FailoverResult(moved=True, target=target)


def _enqueue_submit(generation_id: int) -> None:
    enqueue("submit_generation", generation_id, group="submit", name=f"submit-{generation_id}")
