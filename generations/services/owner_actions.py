"""What a member may do to their own generations besides creating them: cancel a queued
one, mark one as a favourite.

docs/architecture.md "Generation lifecycle": a member cancels a job still ``queued`` (never
sent to a provider) and its hold is released. The move is ``generation_finalize``'s, on the
locked row, so a submit that claims the job at the same moment and the cancel cannot both win.
"""

from ..models import Generation, User
from .lifecycle import Outcome, generation_finalize

State = Generation.State

_CANCELED_BY_OWNER = Outcome(
    State.CANCELED,
    fail_code="CANCELED",
    fail_message="Canceled before it was sent; the credits were returned.",
)


class NotCancelable(Exception):
    """The job is no longer queued (it was sent, or it is final); nothing was written."""


def generation_cancel_own(*, user: User, generation_id: int) -> Generation:
    """Cancel ``user``'s queued generation and release its hold, as ``user``.

    Args:
        user: the member; only their own generations are found.
        generation_id: the job.

    Returns:
        The generation, now ``canceled``.

    Raises:
        Generation.DoesNotExist: no such generation of ``user`` (another member's job too).
        NotCancelable: the job is no longer queued; nothing was written.
    """
    generation = Generation.objects.for_user(user).get(pk=generation_id)
    done = generation_finalize(
        generation_id=generation.pk,
        outcome=_CANCELED_BY_OWNER,
        from_states=(State.QUEUED,),
        actor=user,
    )
    generation.refresh_from_db()
    if not done:
        raise NotCancelable(
            f"Generation #{generation.pk} is {generation.get_state_display().lower()}; only a "
            "queued job can be canceled."
        )
    return generation


def generation_favourite_set(*, user: User, generation_id: int, favourite: bool) -> Generation:
    """Mark or unmark ``user``'s generation as a favourite (the gallery card's star).

    Setting, not toggling: a form posted twice leaves the state the member saw. No money
    moves and nothing else changes (one UPDATE of ``favourite``).

    Args:
        user: the member; only their own generations are found.
        generation_id: the job, in any state.
        favourite: the new mark.

    Returns:
        The generation, with ``favourite`` as set.

    Raises:
        Generation.DoesNotExist: no such generation of ``user`` (another member's job too).
    """
    generation = Generation.objects.for_user(user).get(pk=generation_id)
    Generation.objects.filter(pk=generation.pk).update(favourite=favourite)
    generation.favourite = favourite
    return generation
