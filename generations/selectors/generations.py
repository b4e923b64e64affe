"""Reads over a member's generations: the gallery's cards, recognising an accidental
resubmission, and what changed since a browser last asked (live updates)."""

from datetime import datetime, timedelta

from django.db.models import IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
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
    Variations: any job of an earlier group matches a request without a seed, since the
    group's seeds were drawn by the portal (docs/prices.md "Variations").

    A ``client_token`` that already names one of ``user``'s generations is the same form
    posted twice (a double click); ``generation_create`` returns that job and nothing is
    charged, so this returns None rather than asking.

    Two queries (three with a token); no network.
    """
    owned = Generation.objects.filter(user=user)
    # A variation's seed may be one the portal drew (docs/prices.md "Variations"): a request
    # without a seed repeats any job of a group; one with a seed, the job that has it.
    seed_match = Q(seed=spec.seed) if spec.seed is not None else Q(seed__isnull=True)
    if spec.seed is None:
        seed_match |= Q(variation_group__isnull=False)
    if client_token and owned.filter(client_token=client_token).exists():
        return None
    candidates = (
        owned.filter(
            seed_match,
            created_at__gte=(now or timezone.now()) - within,
            mode=spec.mode,
            provider=spec.provider,
            prompt=spec.prompt,
            resolution=spec.resolution,
            duration=spec.duration,
            sound=spec.sound,
            aspect_ratio=spec.aspect_ratio,
            camera_fixed=spec.camera_fixed,
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


# A change is looked for this far before the browser's cursor too: a transaction that stamped
# ``updated_at`` just before the previous answer's time but committed just after it would
# otherwise never be seen. Rows seen twice are told apart by the browser (``updated``).
UPDATES_OVERLAP = timedelta(seconds=5)
UPDATES_LIMIT = 100


def generation_updates(*, user: User, since: datetime | None, now: datetime) -> dict:
    """Return what changed in ``user``'s generations since ``since``, for live pages.

    Two indexed queries whatever the size of the history: the jobs whose ``updated_at`` is
    after ``since - UPDATES_OVERLAP`` (index ``generation_user_updated``; at most
    ``UPDATES_LIMIT``, newest first) and the count of jobs still running (in flight, or
    succeeded with the video still downloading; partial index ``generation_user_active``).

    Args:
        user: the member whose jobs are read.
        since: the ``cursor`` of the previous answer; None for the first call (nothing is
            listed, only the count and a cursor).
        now: the time the answer is made; becomes its ``cursor``.

    Returns:
        ``{"cursor": ISO 8601, "running": int, "changed": [{"id", "state",
        "result_state", "final", "updated", "url"}...]}``.
    """
    changed = []
    if since is not None:
        rows = (
            Generation.objects.filter(user=user, updated_at__gt=since - UPDATES_OVERLAP)
            .order_by("-updated_at")
            .values_list("pk", "state", "result_state", "updated_at")[:UPDATES_LIMIT]
        )
        changed = [
            {
                "id": pk,
                "state": state,
                "result_state": result_state,
                "final": state in Generation.State.final()
                and result_state != Generation.ResultState.PENDING,
                "updated": updated_at.isoformat(),
                "url": reverse("generations:detail", args=[pk]),
            }
            for pk, state, result_state, updated_at in rows
        ]
    running = Generation.objects.filter(Generation.active_q(), user=user).count()
    return {"cursor": now.isoformat(), "running": running, "changed": changed}


def gallery_generations(*, user: User, hidden: bool | None = None) -> QuerySet[Generation]:
    """Return ``user``'s generations for the gallery's cards, newest first.

    ``hidden``: None for every job (a card fetched by id); False for the gallery (neither
    hidden nor deleted); True for its "Hidden" filter (hidden, not deleted). docs/storage.md
    "Bulk actions".

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
    queryset = Generation.objects.for_user(user)
    if hidden is not None:
        queryset = queryset.filter(deleted_at__isnull=True, hidden_at__isnull=not hidden)
    return queryset.annotate(
        released_credits=Coalesce(Subquery(released, output_field=IntegerField()), 0)
    )


def bulk_zip_generations(*, user: User, ids: list[int], limit: int) -> tuple[list[Generation], int]:
    """Return the generations a bulk ZIP takes from ``ids``, and how many ids it leaves out.

    Only ``user``'s own jobs with a stored video (succeeded, not deleted), in id order, at
    most ``limit`` (``services.bulk_actions.BULK_MAX``; docs/storage.md "Bulk actions").
    Another member's job, an unknown id or a job without a video is left out and counted.
    One query.
    """
    wanted = set(ids)
    rows = list(
        Generation.objects.for_user(user)
        .filter(
            pk__in=wanted,
            state=Generation.State.SUCCEEDED,
            result_state=Generation.ResultState.STORED,
            deleted_at__isnull=True,
        )
        .exclude(result_file="")
        .order_by("pk")[:limit]
    )
    return rows, len(wanted) - len(rows)
