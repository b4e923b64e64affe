"""Creating generations: price, hold and enqueue in one transaction.

docs/architecture.md "Money" (two-phase charging: the price is held at submission) and "Generation
lifecycle" (submission runs in a django-q2 task enqueued on commit).
"""

from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..catalog import Mode, Provider
from ..models import Generation, User
from ..queue import enqueue
from .inputs import InputSpec, inputs_create, inputs_discard, inputs_store
from .ledger import credits_hold
from .pricing import Quote, price_quote

# A job whose submit task was lost (e.g. the broker died before it ran) is re-driven by the
# dispatcher after this grace period.
SUBMIT_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class GenerationSpec:
    """What a member asks for; validated by ``forms.GenerationForm`` before it gets here.

    Durations are seconds; ``camera_fixed`` is the form's "camera lock", sent as
    ``fixed_lens`` (docs/providers/apixo.md "Parameters") or ``camera_fixed``
    (docs/providers/apixo.md "Parameters") by the client.
    """

    mode: str
    prompt: str
    resolution: str
    duration: int
    sound: bool
    aspect_ratio: str = ""
    camera_fixed: bool = False
    seed: int | None = None
    watermark: bool = False
    provider: str = Provider.APIXO
    source_generation: Generation | None = None
    inputs: tuple[InputSpec, ...] = ()


def generation_create(*, user: User, spec: GenerationSpec, client_token: str = "") -> Generation:
    """Price ``spec``, hold its credits and queue its submission, all or nothing.

    Args:
        user: the member paying for the job.
        spec: the validated request.
        client_token: the form's one-time key; a second call with the same key returns the
            generation the first call created (double clicks, resubmitted forms).

    Returns:
        The new (or, for a repeated ``client_token``, the existing) generation, ``queued``.

    Raises:
        InsufficientCredits: the member's available balance is short; nothing is written.
        MonthlyCapExceeded: the job would take the member over their monthly cap.
        UnsupportedRequest: no provider model or price for the mode and resolution.
        InputsNotConfigured: an uploaded or stored input and no public address to serve it.
    """
    quote = price_quote(
        provider=spec.provider,
        mode=spec.mode,
        resolution=spec.resolution,
        sound=spec.sound,
        duration=spec.duration,
    )
    if client_token:
        existing = Generation.objects.filter(user=user, client_token=client_token).first()
        if existing is not None:
            return existing
    # Uploads go to the media storage first: with object storage that is HTTP, which must
    # not run inside the transaction below (it locks the member's account row).
    stored = inputs_store(inputs=spec.inputs)
    try:
        with transaction.atomic():
            generation = _create_and_hold(
                user=user, spec=replace(spec, inputs=stored), quote=quote, token=client_token
            )
    except BaseException as error:
        inputs_discard(inputs=spec.inputs, stored=stored)
        if not isinstance(error, IntegrityError):
            raise
        # A concurrent request with the same one-time key won the unique constraint
        # (generation_unique_client_token); this one wrote nothing. Anything else re-raises.
        existing = Generation.objects.filter(user=user, client_token=client_token).first()
        if not client_token or existing is None:
            raise
        return existing
    return generation


def _create_and_hold(*, user: User, spec: GenerationSpec, quote: Quote, token: str) -> Generation:
    """Create the queued generation, hold its price and enqueue its submit on commit."""
    now = timezone.now()
    generation = Generation.objects.create(
        user=user,
        mode=spec.mode,
        provider=spec.provider,
        model_id=quote.model_id,
        prompt=spec.prompt,
        resolution=spec.resolution,
        duration=spec.duration,
        sound=spec.sound,
        aspect_ratio=spec.aspect_ratio if spec.mode != Mode.VIDEO_EXTEND else "",
        camera_fixed=spec.camera_fixed,
        seed=spec.seed,
        watermark=spec.watermark,
        source_generation=spec.source_generation,
        price_credits=quote.credits,
        price_table=quote.price_table,
        client_token=token,
        created_at=now,
        next_action_at=now + SUBMIT_GRACE,
        deadline_at=now + timedelta(seconds=settings.GENERATION_DEADLINE_SECONDS),
    )
    credits_hold(user=user, amount=quote.credits, generation=generation, actor=user)
    inputs_create(generation=generation, inputs=spec.inputs)  # files already stored
    transaction.on_commit(lambda: _enqueue_submit(generation.pk))
    return generation


def _enqueue_submit(generation_id: int) -> None:
    enqueue("submit_generation", generation_id, group="submit", name=f"submit-{generation_id}")
