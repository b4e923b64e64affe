"""E-mail notifications: to members (a job finished, the balance fell under their threshold)
and to managers (a member asks for credits from the new-video page).

Each is sent by a django-q2 task (``generations.tasks``: ``notify_generation_finished``,
``check_low_balance``) queued after the transaction that caused it has committed, never
inside a web request or ``transaction.atomic`` (docs/style.md practice 3; issue #12 item 13). Each
at most once: the job's final state happens once, and the low-balance flag is set with a
conditional UPDATE before the message goes out.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from ..i18n import language_of
from ..models import CreditAccount, Generation, User
from ..queue import enqueue

logger = logging.getLogger(__name__)


def _absolute(path: str) -> str:
    base = settings.PUBLIC_BASE_URL or f"http://{settings.PORTAL_ADDRESS}"
    return base.rstrip("/") + path


def _send(*, user: User, template: str, context: dict) -> bool:
    # In the recipient's language (docs/i18n.md "E-mails"), whoever's request queued it.
    with translation.override(language_of(user)):
        subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
        body = render_to_string(f"emails/{template}.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except OSError:  # SMTP trouble must not fail the job that triggered the notice
        logger.exception("Could not e-mail %s about %s", user.pk, template)
        return False
    return True


def generation_finished_notify(*, generation_id: int) -> bool:
    """E-mail the owner that their job succeeded or failed, unless they opted out.

    Called once per job, after ``generation_finalize`` commits (issue #6 "Notifications").
    Canceled jobs are the member's own doing and send nothing.

    Returns:
        True if a message was sent.
    """
    generation = Generation.objects.select_related("user").get(pk=generation_id)
    user = generation.user
    wanted = generation.state in (
        Generation.State.SUCCEEDED,
        Generation.State.FAILED,
        Generation.State.EXPIRED,
    )
    if not (wanted and user.notify_on_finish and user.email and user.is_active):
        return False
    _send(
        user=user,
        template="generation_finished",
        context={
            "generation": generation,
            "url": _absolute(generation.get_absolute_url()),
            "profile_url": _absolute(reverse("profile")),
        },
    )
    return True


def low_balance_check(*, user_id: int) -> bool:
    """E-mail the member once when their available balance falls under their threshold.

    The flag ``User.low_balance_notified`` is claimed with a conditional UPDATE, so two
    workers never send the same notice; it is cleared once the balance is back at or above
    the threshold (after a grant), so the next fall notifies again.

    Returns:
        True if a message was sent.
    """
    user = User.objects.filter(pk=user_id).first()
    if user is None or user.low_balance_threshold is None:
        return False
    balance = CreditAccount.objects.filter(user_id=user_id).values_list("balance", flat=True)
    balance = balance.first() or 0
    threshold = user.low_balance_threshold
    if balance >= threshold:
        if user.low_balance_notified:
            User.objects.filter(pk=user_id).update(low_balance_notified=False)
        return False
    claimed = User.objects.filter(pk=user_id, low_balance_notified=False).update(
        low_balance_notified=True
    )
    if not claimed or not user.email or not user.is_active:
        return False
    _send(
        user=user,
        template="low_balance",
        context={
            "user": user,
            "balance": balance,
            "threshold": threshold,
            "profile_url": _absolute(reverse("profile")),
        },
    )
    return True


# A member may ask the managers for credits once in this time (docs/architecture.md "Asking a
# manager for credits"): a request is a message to people, not a button to press repeatedly.
CREDITS_REQUEST_INTERVAL = timedelta(hours=1)


def credits_request(*, user: User, credits: int | None, now: datetime | None = None) -> bool:
    """Ask the active managers, by e-mail, for credits or a higher monthly cap for ``user``.

    The member never sees the managers' addresses: the portal writes to them
    (docs/architecture.md "Asking a manager for credits"). ``User.credits_requested_at`` is
    claimed with a conditional UPDATE, so one request goes out per member per
    ``CREDITS_REQUEST_INTERVAL`` whatever the number of clicks, tabs or web nodes; the e-mails
    are sent by a worker task (``email_credits_request``) queued after this transaction commits.

    Args:
        user: the member asking.
        credits: the price (credits) of the job they could not submit, or None.
        now: the time of the request (tests); default ``timezone.now()``.

    Returns:
        True when the request was queued; False when the member already asked within the
        interval (nothing is queued again).
    """
    now = now or timezone.now()
    claimed = (
        User.objects.filter(pk=user.pk)
        .filter(
            Q(credits_requested_at__isnull=True)
            | Q(credits_requested_at__lte=now - CREDITS_REQUEST_INTERVAL)
        )
        .update(credits_requested_at=now)
    )
    if not claimed:
        return False
    transaction.on_commit(
        lambda: enqueue(
            "email_credits_request", user.pk, credits, group="notify", name=f"credits-{user.pk}"
        )
    )
    return True


def credits_request_email(*, user_id: int, credits: int | None) -> int:
    """E-mail each active manager (one message each) that ``user_id`` asks for credits.

    The message gives the member's name, available balance and what their cap leaves this
    month (credits), the price of the job they wanted (credits, when known) and a link to the
    team page where managers grant credits and set caps.

    Returns:
        How many managers were e-mailed (0 when none has an address).
    """
    from ..selectors.limits import spending_limits
    from ..selectors.users import managers

    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return 0
    limits = spending_limits(user=user)
    context = {
        "member": user,
        "credits": credits,
        "limits": limits,
        "team_url": _absolute(reverse("team:members")),
    }
    sent = 0
    for manager in managers().exclude(email="").exclude(pk=user.pk):
        sent += _send(user=manager, template="credits_request", context=context)
    return sent
