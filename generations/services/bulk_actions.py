"""A member's bulk actions on their own generations: hide, show again, favourite, delete
the stored video, generate again (issue #15 item 4; docs/storage.md "Bulk actions").

Every function takes the ids the gallery's form posted and works only on the member's own
generations among them; the others (another member's, unknown) are counted as ``skipped``
and never named back, so the answer tells nothing about other members' jobs. A refused
action (``BulkRefused``) writes nothing. Each action that changes something records one
``AuditEntry`` in its transaction.

The bulk ZIP download is a read: ``selectors.generations.bulk_zip_generations`` and
``generations.archives``.
"""

import hashlib
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Case, Value, When
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from ..catalog import UnsupportedRequest
from ..models import AuditEntry, Generation, GenerationInput, User
from ..selectors.limits import spending_limits
from .audit import audit_record
from .generations import GenerationSpec, generation_create
from .inputs import InputsNotConfigured, input_spec_copy, stored_inputs_available
from .ledger import LedgerError, locked_account
from .pricing import price_quote

logger = logging.getLogger(__name__)

# The most generations one bulk action (and one ZIP) takes: a page of the gallery is 24, and
# "select all" over a few pages stays far below (docs/storage.md "Bulk actions").
BULK_MAX = 100


class BulkRefused(Exception):
    """The action cannot be done for the selection as a whole; nothing was written.

    ``str(error)`` is the message for the member.
    """


class BulkAlreadySubmitted(BulkRefused):
    """Generate again was already done with this form (its one-time token); nothing was written.

    A double click or a resent form, possibly on another web process or node: the jobs the
    first post made stand and nothing more is held (docs/storage.md "Bulk actions").
    """

    def __init__(self) -> None:
        super().__init__(gettext("These jobs were already submitted; nothing more was charged."))


def again_client_token(*, token: str, source_id: int) -> str:
    """Return the ``Generation.client_token`` (64 characters) of the job Generate again makes.

    Derived from the gallery form's one-time ``token`` and the repeated job's id, so the
    same form posted twice gives the same tokens, which the database's unique constraint
    ``generation_unique_client_token`` (per member) admits once. Prefixed apart from the
    form's and the API's tokens (``api:``).
    """
    return "again:" + hashlib.sha256(f"{token}\n{source_id}".encode()).hexdigest()[:58]


@dataclass
class BulkOutcome:
    """What a bulk action did.

    Attributes:
        done: the member's generations the action changed (or created, for "again").
        skipped: selected ids that were not acted on: not the member's own, unknown, or
            already in the wanted state / not applicable (e.g. hiding a hidden job).
    """

    done: list[Generation] = field(default_factory=list)
    skipped: int = 0


def _owned(*, user: User, ids: list[int], lock: bool = False) -> tuple[list[Generation], int]:
    """Return ``user``'s not-deleted generations among ``ids`` and how many ids were not."""
    wanted = set(ids)
    queryset = Generation.objects.for_user(user).filter(pk__in=wanted, deleted_at__isnull=True)
    if lock:
        queryset = queryset.select_for_update().order_by("pk")
    rows = list(queryset)
    return rows, len(wanted) - len(rows)


def _check_size(ids: list[int]) -> None:
    if not ids:
        raise BulkRefused(gettext("Select at least one video."))
    if len(set(ids)) > BULK_MAX:
        raise BulkRefused(gettext("Select at most %(max)d videos at a time.") % {"max": BULK_MAX})


def _nothing_submitted(error: Exception) -> str:
    """Return ``error``'s message followed by "Nothing was submitted." in the active language."""
    return gettext("%(reason)s Nothing was submitted.") % {"reason": error}


def _audit(user: User, action: str, generations: list[Generation], **after) -> None:
    audit_record(
        actor=user,
        action=action,
        target_user=user,
        subject=", ".join(f"#{g.pk}" for g in generations)[:200],
        after={"generations": [g.pk for g in generations], **after},
    )


def generations_hide(*, user: User, ids: list[int], hidden: bool = True) -> BulkOutcome:
    """Hide ``user``'s selected generations from the gallery, or show them again.

    Hidden jobs are listed only under the gallery's "Hidden" filter; nothing else about
    them changes (no money moves; the video stays stored and downloadable).

    Args:
        user: the member.
        ids: generation ids as posted (at most ``BULK_MAX``).
        hidden: True to hide, False to show again.

    Returns:
        The jobs whose mark changed; ``skipped`` counts the rest.

    Raises:
        BulkRefused: no id, or more than ``BULK_MAX``.
    """
    _check_size(ids)
    with transaction.atomic():
        rows, skipped = _owned(user=user, ids=ids, lock=True)
        changing = [g for g in rows if (g.hidden_at is None) == hidden]
        stamp = timezone.now() if hidden else None
        Generation.objects.filter(pk__in=[g.pk for g in changing]).update(
            hidden_at=stamp, updated_at=timezone.now()
        )
        for generation in changing:
            generation.hidden_at = stamp
        if changing:
            _audit(user, AuditEntry.Action.HIDE if hidden else AuditEntry.Action.UNHIDE, changing)
    return BulkOutcome(done=changing, skipped=skipped + len(rows) - len(changing))


def generations_favourite(*, user: User, ids: list[int]) -> BulkOutcome:
    """Mark ``user``'s selected generations as favourites (setting, never toggling).

    Raises:
        BulkRefused: no id, or more than ``BULK_MAX``.
    """
    _check_size(ids)
    with transaction.atomic():
        rows, skipped = _owned(user=user, ids=ids, lock=True)
        changing = [g for g in rows if not g.favourite]
        Generation.objects.filter(pk__in=[g.pk for g in changing]).update(favourite=True)
        for generation in changing:
            generation.favourite = True
        if changing:
            _audit(user, AuditEntry.Action.FAVOURITE, changing)
    return BulkOutcome(done=changing, skipped=skipped + len(rows) - len(changing))


def generations_delete(*, user: User, ids: list[int]) -> BulkOutcome:
    """Delete the stored video and poster of ``user``'s selected generations.

    docs/storage.md "Bulk actions": the files leave the media storage; the ``Generation``
    row stays (``deleted_at`` set, ``result_state`` ``deleted``, out of the gallery) and so
    does every ledger entry (the ledger is append-only: docs/architecture.md "Money").
    A job still running, or one whose video is the source of a job still running, cannot
    be deleted: the whole action is then refused and nothing changes.

    The rows are marked in one transaction; the files are deleted after it commits (object
    storage is HTTP, never inside a transaction). A file that cannot be deleted is logged;
    the row already says deleted and the file is unreachable through the portal.

    Args:
        user: the member.
        ids: generation ids as posted (at most ``BULK_MAX``).

    Returns:
        The deleted jobs; ``skipped`` counts ids that are not the member's own or were
        already deleted.

    Raises:
        BulkRefused: no id, more than ``BULK_MAX``, or a selected job is in flight (or
            still downloading its video, or the source of a job in flight). The message
            names the running job by number only when it is the member's own; a video
            shared with the team and being extended by another member is refused without
            their job's number (docs/storage.md "Bulk actions").
    """
    _check_size(ids)
    with transaction.atomic():
        rows, skipped = _owned(user=user, ids=ids, lock=True)
        running = [g for g in rows if g.is_in_flight or g.result_state == "pending"]
        if running:
            raise BulkRefused(
                gettext(
                    "Generation #%(pk)s is still running; a job can be deleted once it has"
                    " finished. Nothing was deleted."
                )
                % {"pk": running[0].pk}
            )
        names = [g.result_file.name for g in rows if g.result_file]
        # The member's own running extension first: its number helps them. Another member's
        # (extending a video shared with the team) is not theirs to know: no number then.
        busy = (
            GenerationInput.objects.filter(
                file__in=names, generation__state__in=Generation.State.in_flight()
            )
            .annotate(own=Case(When(generation__user=user, then=Value(0)), default=Value(1)))
            .order_by("own", "generation_id")
            .values_list("generation_id", "own")
            .first()
        )
        if busy is not None and busy[1] == 0:
            raise BulkRefused(
                gettext(
                    "A selected video is the source of generation #%(pk)s, still running;"
                    " delete it once that job has finished. Nothing was deleted."
                )
                % {"pk": busy[0]}
            )
        if busy is not None:
            raise BulkRefused(
                gettext(
                    "A selected video is being extended by another member; delete it once"
                    " that job has finished. Nothing was deleted."
                )
            )
        files = [(g.result_file.storage, g.result_file.name) for g in rows if g.result_file]
        files += [(g.poster.storage, g.poster.name) for g in rows if g.poster]
        now = timezone.now()
        for generation in rows:
            generation.deleted_at = now
            # Whatever it was (stored, or a failed download a manager might retry): deleted,
            # so no later download or poster task writes a file back onto the row.
            generation.result_state = Generation.ResultState.DELETED
            generation.result_file = ""
            generation.poster = ""
            generation.save(
                update_fields=["deleted_at", "result_state", "result_file", "poster", "updated_at"]
            )
        if rows:
            _audit(user, AuditEntry.Action.DELETE, rows, files=[name for _, name in files])
    for storage, name in files:
        try:
            storage.delete(name)
        except Exception:  # a storage outage must not undo the member's decision
            logger.exception("Could not delete %s from the media storage", name)
    return BulkOutcome(done=rows, skipped=skipped)


def _again_spec(generation: Generation, *, user: User) -> GenerationSpec:
    """Return the request of ``generation`` again: same settings, same inputs (by reference).

    An extension's source must still be extendable by ``user`` (their own stored video, or one
    still shared with the team: docs/gallery.md "Extending a shared video"), as on the form.

    Raises:
        BulkRefused: the source was deleted or is no longer the member's to extend.
    """
    source = generation.source_generation
    if source is not None and source.deleted_at is not None:
        raise BulkRefused(
            gettext(
                "The source video of #%(pk)s (#%(source)s) was deleted; it cannot be extended"
                " again. Nothing was submitted."
            )
            % {"pk": generation.pk, "source": source.pk}
        )
    if (
        source is not None
        and not Generation.objects.extendable_by(user).filter(pk=source.pk).exists()
    ):
        raise BulkRefused(
            gettext(
                "The source video of #%(pk)s (#%(source)s) is no longer shared with you; it"
                " cannot be extended again. Nothing was submitted."
            )
            % {"pk": generation.pk, "source": source.pk}
        )
    return GenerationSpec(
        mode=generation.mode,
        prompt=generation.prompt,
        resolution=generation.resolution,
        duration=generation.duration,
        sound=generation.sound,
        aspect_ratio=generation.aspect_ratio,
        camera_fixed=generation.camera_fixed,
        seed=generation.seed,
        watermark=generation.watermark,
        provider=generation.provider,
        source_generation=source,
        inputs=tuple(input_spec_copy(i) for i in generation.inputs.all()),
    )


def generations_again(*, user: User, ids: list[int], token: str = "") -> BulkOutcome:
    """Submit each of ``user``'s selected generations again: one new job each, all or none.

    Each new job is priced now (``price_quote``) and held on its own through
    ``generation_create`` (docs/architecture.md "Money": two-phase charging). The jobs are
    created in one transaction: when the balance or the monthly cap does not cover them
    all, none is created and the message gives the total and what is available.

    With the gallery form's one-time ``token`` the call is made at most once, durably: each
    new job carries ``again_client_token(token, source)``, unique per member in the
    database. The member's account row is locked before the tokens are looked up, so a
    second post of the same form (another gunicorn process or node, the cache cleared)
    waits for the first and then finds its jobs; the unique constraint backs that up.

    Args:
        user: the member paying for the jobs.
        ids: generation ids as posted (at most ``BULK_MAX``); deleted jobs can be repeated
            (their request is kept), except an extension of a deleted video.
        token: the form's one-time token (up to 64 characters); empty: no replay guard.

    Returns:
        The new generations, ``queued``, in the order of the originals' ids.

    Raises:
        BulkAlreadySubmitted: a job of this token and one of the selected ids exists
            already (a resent form). Nothing is created or held.
        BulkRefused: no id, more than ``BULK_MAX``, none of the member's own, a price
            the balance or cap does not cover, an unavailable mode or provider, or stored
            inputs without a public address. Nothing is held then.
    """
    _check_size(ids)
    wanted = set(ids)
    rows = list(
        Generation.objects.for_user(user)
        .filter(pk__in=wanted)
        .select_related("source_generation")
        .prefetch_related("inputs")
        .order_by("pk")
    )
    if not rows:
        raise BulkRefused(gettext("None of the selected videos is yours. Nothing was submitted."))
    tokens = [again_client_token(token=token, source_id=g.pk) if token else "" for g in rows]
    if token and _already_made(user=user, tokens=tokens):
        raise BulkAlreadySubmitted
    specs = [_again_spec(g, user=user) for g in rows]
    if any(i.stored_name for s in specs for i in s.inputs) and not stored_inputs_available():
        raise BulkRefused(InputsNotConfigured.message)
    try:
        total = sum(
            price_quote(
                provider=s.provider,
                mode=s.mode,
                resolution=s.resolution,
                sound=s.sound,
                duration=s.duration,
            ).credits
            for s in specs
        )
    except UnsupportedRequest as error:
        raise BulkRefused(_nothing_submitted(error)) from None
    if refusal := spending_limits(user=user).refusal(total):
        raise BulkRefused(
            ngettext(
                "%(count)d new job: %(refusal)s Nothing was submitted; select fewer videos.",
                "%(count)d new jobs: %(refusal)s Nothing was submitted; select fewer videos.",
                len(specs),
            )
            % {"count": len(specs), "refusal": refusal}
        )
    try:
        with transaction.atomic():
            if token:
                # One post of this form at a time per member: the second waits here for the
                # first to commit, then finds its jobs (nothing created, nothing held).
                locked_account(user.pk)
                if _already_made(user=user, tokens=tokens):
                    raise BulkAlreadySubmitted
            created = [
                generation_create(user=user, spec=spec, client_token=client_token)
                for spec, client_token in zip(specs, tokens, strict=True)
            ]
            _audit(
                user,
                AuditEntry.Action.AGAIN,
                rows,
                created=[g.pk for g in created],
                credits=total,
            )
    except (LedgerError, UnsupportedRequest, InputsNotConfigured) as error:
        # The balance changed since the check above: the transaction rolled every hold back.
        raise BulkRefused(_nothing_submitted(error)) from None
    return BulkOutcome(done=created, skipped=len(wanted) - len(rows))


def _already_made(*, user: User, tokens: list[str]) -> bool:
    """Return whether ``user`` has a job carrying any of the client ``tokens``."""
    return Generation.objects.filter(user=user, client_token__in=tokens).exists()
