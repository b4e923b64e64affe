"""Reads over a member's generations: the gallery's cards, recognising an accidental
resubmission."""

from datetime import datetime, timedelta

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import CreditEntry, Generation, User
from ..services.generations import GenerationSpec

# A second identical request within this time is most likely the browser's Back button and
# a second click, not a wish for another video: the form asks first (issue #12 item 5).
DUPLICATE_WINDOW = timedelta(minutes=10)


def generation_duplicate_find(
    *,
    user: User,
    spec: GenerationSpec,
    client_token: str = "",
    within: timedelta = DUPLICATE_WINDOW,
    now: datetime | None = None,
) -> Generation | None:
    """Return ``user``'s newest generation identical to ``spec`` created within ``within``.

    Identical: same mode, provider, prompt, resolution, duration (seconds), sound, aspect
    ratio, camera lock, seed, watermark, source generation, and the same inputs by
    position and digest (``GenerationInput.digest``: the bytes of an upload, a URL, a
    stored result). Any state counts: a failed or finished twin is a resubmission too.

    A ``client_token`` that already names one of ``user``'s generations is the same form
    posted twice (a double click); ``generation_create`` returns that job and nothing is
    charged, so this returns None rather than asking.

    Two queries (three with a token); no network.
    """
    owned = Generation.objects.filter(user=user)
    if client_token and owned.filter(client_token=client_token).exists():
        return None
    candidates = (
        owned.filter(
            created_at__gte=(now or timezone.now()) - within,
            mode=spec.mode,
            provider=spec.provider,
            prompt=spec.prompt,
            resolution=spec.resolution,
            duration=spec.duration,
            sound=spec.sound,
            aspect_ratio=spec.aspect_ratio,
            camera_fixed=spec.camera_fixed,
            seed=spec.seed,
            watermark=spec.watermark,
            source_generation=spec.source_generation,
        )
        .prefetch_related("inputs")
        .order_by("-created_at", "-pk")
    )
    wanted = sorted((i.kind, i.position, i.digest) for i in spec.inputs)
    for candidate in candidates:
        if sorted((i.kind, i.position, i.digest) for i in candidate.inputs.all()) == wanted:
            return candidate
    return None


def gallery_generations(*, user: User) -> QuerySet[Generation]:
    """Return ``user``'s generations for the gallery's cards, newest first.

    Each carries ``released_credits``: the credits its ``release`` ledger entries returned
    to the balance (the "Refunded" line of a failed, canceled or expired card; 0 when
    nothing was released). A subquery, so a page of cards is one query.
    """
    released = (
        CreditEntry.objects.filter(generation=OuterRef("pk"), kind=CreditEntry.Kind.RELEASE)
        .order_by()
        .values("generation")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Generation.objects.for_user(user).annotate(
        released_credits=Coalesce(Subquery(released, output_field=IntegerField()), 0)
    )


def running_count(*, user: User) -> int:
    """Return how many of ``user``'s generations are in flight (the gallery's tab title)."""
    return Generation.objects.for_user(user).in_flight().count()
