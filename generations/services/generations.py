"""Creating generations: price, hold and enqueue in one transaction.

docs/architecture.md "Money" (two-phase charging: the price is held at submission) and "Generation
lifecycle" (submission runs in a django-q2 task enqueued on commit).
"""

import random
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import catalog
from ..catalog import Mode, Provider
from ..models import Generation, User
from ..queue import enqueue
from .inputs import InputSpec, inputs_create, inputs_discard, inputs_store
from .ledger import InsufficientCredits, LedgerError, MonthlyCapExceeded, credits_hold
from .pricing import Quote, price_quote

# A job whose submit task was lost (e.g. the broker died before it ran) is re-driven by the
# dispatcher after this grace period.
SUBMIT_GRACE = timedelta(seconds=60)
# Seeds for variations: unpredictable, from the operating system.
_random = random.SystemRandom()


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

    One job; ``generation_variations_create`` with ``count=1``.

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
    return generation_variations_create(user=user, spec=spec, count=1, client_token=client_token)[0]


def generation_variations_create(
    *, user: User, spec: GenerationSpec, count: int, client_token: str = ""
) -> list[Generation]:
    """Create ``count`` jobs of ``spec`` in one transaction, each with its own hold.

    docs/prices.md "Variations": 1-``VARIATIONS_MAX`` jobs share a ``variation_group`` (a
    single job has none); each is priced and held on its own through ``credits_hold``; where
    the provider and mode take a seed (``catalog.takes_seed``) each gets its own
    (``variation_seeds``). All or nothing: a hold refused for any of them rolls every job
    and hold back. Inputs are stored once and shared by the group's jobs.

    Args:
        user: the member paying for the jobs.
        spec: the validated request; its ``seed`` is the member's (None: not given).
        count: how many jobs, 1-``catalog.VARIATIONS_MAX``.
        client_token: the form's one-time key, kept on the group's first job; a second call
            with the same key returns the group the first call created.

    Returns:
        The group's generations by ``variation_index`` (a list of one for ``count=1``).

    Raises:
        ValueError: ``count`` outside 1-``VARIATIONS_MAX``.
        InsufficientCredits, MonthlyCapExceeded: ``count=1`` and the hold is refused.
        VariationsUnaffordable: ``count>1`` and the member cannot pay for all of them.
        UnsupportedRequest, InputsNotConfigured: as ``generation_create``.
    """
    if not 1 <= count <= catalog.VARIATIONS_MAX:
        raise ValueError(f"count must be 1-{catalog.VARIATIONS_MAX}, got {count!r}")
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
            return _group_of(existing)
    specs = [replace(spec, seed=seed) for seed in variation_seeds(spec=spec, count=count)]
    # Uploads go to the media storage first: with object storage that is HTTP, which must
    # not run inside the transaction below (it locks the member's account row).
    stored = inputs_store(inputs=spec.inputs)
    group = uuid.uuid4() if count > 1 else None
    try:
        with transaction.atomic():
            now = timezone.now()
            generations = []
            for index, one in enumerate(specs):
                try:
                    generation = _create_and_hold(
                        user=user,
                        spec=replace(one, inputs=stored),
                        quote=quote,
                        token=client_token if index == 0 else "",
                        now=now,
                        variation=(group, index + 1, count) if group else None,
                    )
                except (InsufficientCredits, MonthlyCapExceeded) as error:
                    if count == 1:
                        raise
                    raise VariationsUnaffordable(
                        count=count, each=quote.credits, held=index, refused=error
                    ) from error
                generations.append(generation)
    except BaseException as error:
        inputs_discard(inputs=spec.inputs, stored=stored)
        if not isinstance(error, IntegrityError):
            raise
        # A concurrent request with the same one-time key won the unique constraint
        # (generation_unique_client_token); this one wrote nothing. Anything else re-raises.
        existing = Generation.objects.filter(user=user, client_token=client_token).first()
        if not client_token or existing is None:
            raise
        return _group_of(existing)
    return generations


class VariationsUnaffordable(LedgerError):
    """Raised when the member cannot pay for every job of a group; nothing was created.

    docs/prices.md "Variations" (all or nothing). The figures are the member's before the
    group's first hold, in credits.

    Attributes:
        count: jobs asked for; ``each``: one job's price; ``total``: ``count * each``;
        refused: the ledger's own error for the hold that failed.
    """

    def __init__(self, *, count: int, each: int, held: int, refused: LedgerError):
        self.count, self.each, self.total, self.refused = count, each, count * each, refused
        cost = f"{count} variations cost {self.total:,} credits ({each:,} each)"
        if isinstance(refused, InsufficientCredits):
            # The refused hold saw the balance after this group's earlier holds.
            reason = f"you have {refused.available + held * each:,} available"
        else:
            left = max(refused.cap - (refused.used - held * each), 0)
            reason = f"your monthly cap leaves {left:,} this month"
        super().__init__(
            f"{cost}; {reason}. Nothing was created: choose fewer variations or ask a manager."
        )


def variation_seeds(*, spec: GenerationSpec, count: int) -> list[int | None]:
    """Return the seed of each of ``count`` variations of ``spec``.

    docs/prices.md "Variations": one job keeps the member's seed (or none). Several jobs on a
    provider and mode that take a seed (``catalog.takes_seed``) get distinct seeds in
    ``catalog.SEED_MIN``-``SEED_MAX`` (0-2147483647, inside both providers' documented
    ranges): the member's seed, seed+1, ... wrapping to 0 past the top; without a seed,
    distinct random ones. Elsewhere every job keeps ``spec.seed`` (None).
    """
    if count == 1 or not catalog.takes_seed(provider=spec.provider, mode=spec.mode):
        return [spec.seed] * count
    if spec.seed is None:
        return _random.sample(range(catalog.SEED_MIN, catalog.SEED_MAX + 1), count)
    span = catalog.SEED_MAX - catalog.SEED_MIN + 1
    return [catalog.SEED_MIN + (spec.seed - catalog.SEED_MIN + i) % span for i in range(count)]


def _group_of(generation: Generation) -> list[Generation]:
    """Return ``generation``'s variation group by index, or ``[generation]`` alone."""
    if generation.variation_group is None:
        return [generation]
    return list(
        Generation.objects.filter(
            user_id=generation.user_id, variation_group=generation.variation_group
        ).order_by("variation_index")
    )


def _create_and_hold(
    *,
    user: User,
    spec: GenerationSpec,
    quote: Quote,
    token: str,
    now: datetime,
    variation: tuple[uuid.UUID, int, int] | None = None,
) -> Generation:
    """Create the queued generation, hold its price and enqueue its submit on commit.

    ``variation``: (group, 1-based index, count) for a job of a group.
    """
    group, index, count = variation or (None, None, None)
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
        variation_group=group,
        variation_index=index,
        variation_count=count,
        created_at=now,
        next_action_at=now + SUBMIT_GRACE,
        deadline_at=now + timedelta(seconds=settings.GENERATION_DEADLINE_SECONDS),
    )
    credits_hold(user=user, amount=quote.credits, generation=generation, actor=user)
    inputs_create(generation=generation, inputs=spec.inputs)  # files already stored
    claim = generation.next_action_at
    transaction.on_commit(lambda: _enqueue_submit(generation.pk, claim))
    return generation


def _enqueue_submit(generation_id: int, claimed_until) -> None:
    """Enqueue the submit with its claim (``lifecycle.generation_submit``'s ``claimed_until``)."""
    enqueue(
        "submit_generation",
        generation_id,
        claimed_until,
        group="submit",
        name=f"submit-{generation_id}",
    )
