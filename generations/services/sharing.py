"""Sharing a finished video with the team, and taking it back (the team library).

docs/gallery.md "Team library": nothing is shared by default; only the owner shares, and only
a finished video whose result is stored; the owner or any manager (``User.is_manager``)
unshares. Each change is one locked UPDATE plus its audit row, in one transaction; a
request that changes nothing (sharing twice) writes nothing.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from ..models import AuditEntry, Generation, User
from .audit import audit_record


class NotShareable(Exception):
    """The video cannot be shared (not finished, or its file is not stored); nothing written."""


def generation_share_set(*, actor: User, generation_id: int, shared: bool) -> Generation:
    """Share (``shared=True``) or unshare ``generation_id``'s video with the team, as ``actor``.

    Setting, not toggling: a form posted twice leaves the state the person saw. Sharing
    stamps ``shared_at`` (now); unsharing clears it, and from then on nobody but the owner can
    see, download or extend the video (docs/gallery.md "Extending a shared video").

    Args:
        actor: the signed-in person. To share: the owner. To unshare: the owner, or a
            manager for any member's shared video.
        generation_id: the job.
        shared: the new state.

    Returns:
        The generation, with ``shared_at`` as set.

    Raises:
        Generation.DoesNotExist: ``actor`` may not change this generation's sharing (another
            member's job, unless a manager unshares it); the view answers 404.
        NotShareable: sharing a job that has no stored video.
    """
    with transaction.atomic():
        candidates = Generation.objects.select_for_update()
        if not shared and actor.is_manager:
            generation = candidates.get(pk=generation_id)
        else:
            generation = candidates.get(pk=generation_id, user=actor)
        if shared and not generation.has_video:
            raise NotShareable(
                gettext(
                    "Generation #%(pk)s has no stored video yet; only a finished video can be"
                    " shared."
                )
                % {"pk": generation.pk}
            )
        was_shared = generation.shared_at is not None
        if was_shared == shared:
            return generation
        generation.shared_at = timezone.now() if shared else None
        generation.save(update_fields=["shared_at", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditEntry.Action.SHARE if shared else AuditEntry.Action.UNSHARE,
            target_user=generation.user,
            subject=f"Generation #{generation.pk}",
            before={"shared": was_shared},
            after={"shared": shared},
        )
    return generation
