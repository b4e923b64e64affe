"""Running the team: invitations, member status, monthly caps, credits for many members.

Every manager action writes an ``AuditEntry`` with who, when and the values before and
after, in the same transaction as the change (issue #6 "Credit administration", issue #12
item 9). Who may act on whom is decided in one place, ``team_action_authorize`` (issue #12
item 8): a manager who is not a superuser acts on members only.
"""

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.http.request import validate_host
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext, gettext_lazy

from ..i18n import language_of
from ..models import AuditEntry, CreditAccount, CreditEntry, Invitation, User
from ..models.team import token_digest
from ..models.users import MANAGE_TEAM_PERMISSION, MANAGERS_GROUP
from ..queue import enqueue
from ..selectors.users import manager_ranks
from .audit import audit_record
from .ledger import credits_grant, credits_revoke

Action = AuditEntry.Action


class TeamError(Exception):
    """A team action that cannot be done; the message says why.

    Attributes:
        field: the form field the message belongs next to, or None for the whole form.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class TeamPermissionDenied(TeamError):
    """The actor may not do this to that member (issue #12 item 8); nothing was written."""


class TeamRequestRepeated(TeamError):
    """The same credits form was sent again (a double click); nothing more was written."""


# How each team operation reads in a refusal: "Only a superuser can <verb> <member> ...".
# Each phrase is followed by a user name ("Only a superuser can grant credits to ann").
_VERBS = {
    "grant": gettext_lazy("grant credits to"),
    "revoke": gettext_lazy("revoke credits from"),
    "adjust": gettext_lazy("adjust the credits of"),
    "cap": gettext_lazy("set the monthly cap of"),
    "deactivate": gettext_lazy("deactivate"),
    "reactivate": gettext_lazy("reactivate"),
    "manager": gettext_lazy("change the role of"),
    "cancel": gettext_lazy("cancel the jobs of"),
    "expire": gettext_lazy("stop the jobs of"),
    "token": gettext_lazy("revoke the API tokens of"),
}
_OWN_JOBS = {
    "cancel": gettext_lazy("Only a superuser can cancel your own jobs."),
    "expire": gettext_lazy("Only a superuser can expire your own jobs."),
}
# Operations on a member's jobs from the admin console (``services.console``): the right to
# act at all is ``generations.act_on_generation``, checked there; only the rank rule is here.
_JOB_OPERATIONS = frozenset({"cancel", "expire"})


def team_action_authorize(*, actor: User | None, users: list[User], operation: str) -> None:
    """Refuse a team ``operation`` the ``actor`` may not do to one of ``users``.

    The hierarchy rule, in one place for the team pages, the admin and the commands (issue
    #12 item 8): a superuser may act on anyone; a manager who is not a superuser may act on
    members only, never on a superuser, another manager or themselves (so a manager cannot
    grant credits to themselves, nor raise a fellow manager's budget in exchange); whoever
    is not a manager may do nothing here. The console's ``cancel`` and ``expire``, which
    release a job's hold, follow the same rule for the job's owner (a manager expiring their
    own job would get the credits back while the admin shows them its late result); the
    right to use them is ``act_on_generation``, checked by ``services.console``. ``actor``
    None is an operator's management command, which runs with the machine's authority.
    Ranks are read afresh, one query for all users.

    Args:
        actor: the person acting, or None for a management command.
        users: the members the operation touches.
        operation: one of ``grant``, ``revoke``, ``adjust``, ``cap``, ``deactivate``,
            ``reactivate``, ``manager``; ``cancel``, ``expire`` (jobs of ``users``).

    Raises:
        TeamPermissionDenied: with a message naming the first member refused.
    """
    verb = _VERBS[operation]
    if actor is None or (actor.is_active and actor.is_superuser):
        return
    if operation == "manager":
        raise TeamPermissionDenied(gettext("Only a superuser can make or remove managers."))
    if operation not in _JOB_OPERATIONS and not actor.is_manager:
        raise TeamPermissionDenied(gettext("Only managers can do this."))
    for user in users:
        if user.pk == actor.pk:
            if operation == "grant":
                raise TeamPermissionDenied(gettext("You cannot grant credits to yourself."))
            if operation in _JOB_OPERATIONS:
                raise TeamPermissionDenied(str(_OWN_JOBS[operation]))
            raise TeamPermissionDenied(
                gettext("Only a superuser can %(verb)s you: ask one.") % {"verb": verb}
            )
    ranks = manager_ranks(user_ids=[user.pk for user in users])
    for user in users:
        rank = ranks.get(user.pk)
        if rank == "superuser":
            raise TeamPermissionDenied(
                gettext("Only a superuser can %(verb)s %(user)s, a superuser.")
                % {"verb": verb, "user": user}
            )
        if rank == "manager":
            raise TeamPermissionDenied(
                gettext("Only a superuser can %(verb)s %(user)s, a manager.")
                % {"verb": verb, "user": user}
            )


def _balances(user: User) -> dict:
    """Return ``user``'s balance and held credits, on the account row locked FOR UPDATE.

    Read before a grant or revoke (inside its transaction), the lock keeps any other change
    to the account out until the audit row is written, so "before" is what the action
    really started from and "after" minus "before" is its own amount.
    """
    account = (
        CreditAccount.objects.select_for_update().filter(user=user).values("balance", "held")
    ).first()
    return account or {"balance": 0, "held": 0}


def _request_key(operation: str, request_token: str, user: User) -> str | None:
    """Return the ledger idempotency key of ``operation`` for ``user`` in one sent form."""
    return f"team-{operation}:{request_token}:{user.pk}" if request_token else None


def _refuse_repeat(key: str | None) -> None:
    """Refuse a form already applied: its entry exists (checked on the locked account)."""
    if key is not None and CreditEntry.objects.filter(idempotency_key=key).exists():
        raise TeamRequestRepeated(
            gettext("Those credits were already applied (the form was sent twice).")
        )


@transaction.atomic
def team_credits_grant(
    *, users: list[User], amount: int, actor: User | None, memo: str, request_token: str = ""
) -> int:
    """Grant ``amount`` credits (> 0) to each of ``users``, all or nothing.

    Each grant's ledger entry carries ``actor``; each member gets an audit row.

    Args:
        request_token: the sent form's token (``TeamCreditsForm``); the same token twice
            grants once. Empty: no such protection (commands).

    Returns:
        The number of members credited.

    Raises:
        ValueError: ``amount`` is not a positive whole number.
        TeamPermissionDenied: ``actor`` may not grant to one of ``users``; nothing is written.
        TeamRequestRepeated: ``request_token`` was already applied; nothing more is written.
    """
    team_action_authorize(actor=actor, users=users, operation="grant")
    for user in users:
        before = _balances(user)
        key = _request_key("grant", request_token, user)
        _refuse_repeat(key)
        credits_grant(user=user, amount=amount, actor=actor, memo=memo, idempotency_key=key)
        audit_record(
            actor=actor,
            action=Action.GRANT,
            target_user=user,
            before=before,
            after=_balances(user),
            memo=memo,
        )
    return len(users)


@transaction.atomic
def team_credits_revoke(
    *,
    users: list[User],
    amount: int | None,
    actor: User | None,
    memo: str,
    request_token: str = "",
) -> int:
    """Take back ``amount`` unused credits from each of ``users`` (None: all available).

    Credits reserved by jobs in flight are never revoked: those jobs still finish.
    ``request_token``: as for :func:`team_credits_grant` (the same form twice revokes once).

    Returns:
        The number of members debited (members with nothing available are skipped).

    Raises:
        InsufficientCredits: a member has fewer than ``amount`` credits available; nothing
            is revoked from anyone.
        TeamPermissionDenied: ``actor`` may not revoke from one of ``users``; nothing is
            written.
        TeamRequestRepeated: ``request_token`` was already applied; nothing more is written.
    """
    team_action_authorize(actor=actor, users=users, operation="revoke")
    done = 0
    for user in users:
        before = _balances(user)
        key = _request_key("revoke", request_token, user)
        _refuse_repeat(key)
        take = before["balance"] if amount is None else amount
        if take <= 0:
            continue
        credits_revoke(user=user, amount=take, actor=actor, memo=memo, idempotency_key=key)
        audit_record(
            actor=actor,
            action=Action.REVOKE,
            target_user=user,
            before=before,
            after=_balances(user),
            memo=memo,
        )
        done += 1
    return done


@transaction.atomic
def member_cap_set(*, user: User, cap: int | None, actor: User | None) -> None:
    """Set ``user``'s monthly spending cap in credits (None: no cap), audited.

    Raises:
        TeamPermissionDenied: ``actor`` may not cap ``user``; nothing is written.
    """
    team_action_authorize(actor=actor, users=[user], operation="cap")
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.monthly_cap_credits == cap:
        return
    audit_record(
        actor=actor,
        action=Action.CAP,
        target_user=user,
        before={"monthly_cap_credits": locked.monthly_cap_credits},
        after={"monthly_cap_credits": cap},
    )
    User.objects.filter(pk=user.pk).update(monthly_cap_credits=cap)
    user.monthly_cap_credits = cap


@transaction.atomic
def member_active_set(*, user: User, active: bool, actor: User | None) -> None:
    """Deactivate (or reactivate) a member: they cannot sign in; jobs in flight finish.

    Raises:
        TeamError: a manager tried to deactivate themselves.
        TeamPermissionDenied: ``actor`` may not (de)activate ``user``; nothing is written.
    """
    if actor is not None and user.pk == actor.pk and not active:
        raise TeamPermissionDenied(gettext("You cannot deactivate yourself."))
    team_action_authorize(
        actor=actor, users=[user], operation="reactivate" if active else "deactivate"
    )
    changed = User.objects.filter(pk=user.pk, is_active=not active).update(is_active=active)
    if changed:
        audit_record(
            actor=actor,
            action=Action.REACTIVATE if active else Action.DEACTIVATE,
            target_user=user,
            before={"is_active": not active},
            after={"is_active": active},
        )
    user.is_active = active


@transaction.atomic
def member_manager_set(*, user: User, manager: bool, actor: User | None) -> None:
    """Make ``user`` a manager (or a member again): the Managers group and ``is_staff``.

    ``is_staff`` opens the admin, whose pages the Managers group's permissions then decide
    (issue #12 item 7); the two change together here, so a manager always reaches the
    admin and a former manager no longer does (a superuser keeps ``is_staff``). Superusers
    only (``team_action_authorize``); audited with before and after. Removing a manager
    also takes ``manage_team`` if they hold it directly (``User.is_manager`` counts it).

    Raises:
        TeamPermissionDenied: ``actor`` is not a superuser, or demotes themselves.
    """
    team_action_authorize(actor=actor, users=[user], operation="manager")
    if actor is not None and user.pk == actor.pk and not manager:
        raise TeamPermissionDenied(gettext("You cannot remove yourself from the managers."))
    locked = User.objects.select_for_update().get(pk=user.pk)
    group = Group.objects.get(name=MANAGERS_GROUP)
    app_label, codename = MANAGE_TEAM_PERMISSION.split(".")
    direct = locked.user_permissions.filter(content_type__app_label=app_label, codename=codename)
    was = {
        "managers_group": locked.groups.filter(pk=group.pk).exists(),
        "manage_team_direct": direct.exists(),
        "is_staff": locked.is_staff,
    }
    is_staff = manager or locked.is_superuser
    # A removed manager loses ``manage_team`` held directly too, or they would still be one.
    now = {
        "managers_group": manager,
        "manage_team_direct": manager and was["manage_team_direct"],
        "is_staff": is_staff,
    }
    if was == now:
        return
    if manager:
        locked.groups.add(group)
    else:
        locked.groups.remove(group)
        locked.user_permissions.remove(*direct)
    User.objects.filter(pk=user.pk).update(is_staff=is_staff)
    user.is_staff = is_staff
    audit_record(
        actor=actor,
        action=Action.MANAGER_ADD if manager else Action.MANAGER_REMOVE,
        target_user=user,
        before=was,
        after=now,
    )


@dataclass(frozen=True)
class SentInvitation:
    """An invitation and the link its e-mail carries (the token itself is not stored)."""

    invitation: Invitation
    url: str


def invitation_create(*, email: str, actor: User, base_url: str) -> SentInvitation:
    """Invite ``email`` to join: a single-use link, valid ``INVITATION_TTL_DAYS`` days.

    The e-mail is sent by the ``send_invitation`` task, queued when the invitation is
    committed, never inside the manager's request (issue #12 item 13).

    Args:
        email: the invitee's address.
        actor: the manager inviting.
        base_url: the address the manager's request came to, e.g. ``https://studio.example/``.
            The link starts with ``PUBLIC_BASE_URL`` when it is set; only otherwise with
            ``base_url``, and only if its host is one of ``ALLOWED_HOSTS`` (a ``*`` entry
            does not count): a forged Host header must not end up in an e-mailed link.

    A usable invitation to the same address is replaced (withdrawn, audited) when ``actor``
    may withdraw it (:func:`invitation_revoke_allowed`); otherwise nothing is written.

    Raises:
        TeamError: a member already uses that address, another manager's invitation to it
            is pending, or no trusted portal address.
    """
    base_url = _invitation_base_url(base_url)
    # The invitee has no preference yet: the e-mail is in the language of the manager's page
    # (docs/i18n.md "E-mails").
    language = translation.get_language() or settings.LANGUAGE_CODE
    email = User.objects.normalize_email(email.strip())
    if User.objects.filter(email__iexact=email).exists():
        raise TeamError(
            gettext("%(email)s already belongs to a member.") % {"email": email}, field="email"
        )
    with transaction.atomic():
        pending = list(
            Invitation.objects.select_for_update()
            .filter(email__iexact=email)
            .usable()
            .select_related("invited_by")
        )
        for earlier in pending:
            if not invitation_revoke_allowed(invitation=earlier, actor=actor):
                raise TeamError(
                    gettext(
                        "%(manager)s has already invited %(email)s; only they or a "
                        "superuser can replace that invitation."
                    )
                    % {"manager": earlier.invited_by, "email": email},
                    field="email",
                )
        for earlier in pending:  # replaced: the old link stops working, audited
            invitation_revoke(invitation=earlier, actor=actor)
        invitation = Invitation.objects.create(
            email=email,
            token_hash=token_digest(Invitation.new_token()),  # replaced below, once pk is known
            invited_by=actor,
            expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
        )
        invitation.token_hash = token_digest(_invitation_token(invitation))
        invitation.save(update_fields=["token_hash"])
        audit_record(actor=actor, action=Action.INVITE, after={"email": email})
        transaction.on_commit(
            lambda: enqueue(
                "send_invitation",
                invitation.pk,
                base_url,
                language,
                group="notify",
                name=f"invitation-{invitation.pk}",
            )
        )
    return SentInvitation(invitation, _invitation_url(invitation, base_url))


def invitation_send(*, invitation_id: int, base_url: str, language: str | None = None) -> bool:
    """E-mail a usable invitation's link (the ``send_invitation`` task).

    The link's token is rebuilt from the invitation and ``SECRET_KEY`` (as Django's
    password-reset links are), so no secret travels through the task queue and sending
    twice sends the same link. ``language`` is the inviting manager's page language
    (default: the inviter's saved language, else ``LANGUAGE_CODE``; docs/i18n.md "E-mails").

    Returns:
        True if a message was sent; False if the invitation is gone, used, withdrawn or
        expired.
    """
    invitation = Invitation.objects.usable().filter(pk=invitation_id).first()
    if invitation is None:
        return False
    url = _invitation_url(invitation, base_url)
    context = {"invitation": invitation, "url": url, "days": settings.INVITATION_TTL_DAYS}
    with translation.override(language or language_of(invitation.invited_by)):
        subject = render_to_string("emails/invitation_subject.txt", context).strip()
        body = render_to_string("emails/invitation.txt", context)
    send_mail(subject, body, None, [invitation.email])
    return True


def _invitation_base_url(request_base_url: str) -> str:
    """Return the address invitation links start with, without a trailing slash.

    Raises:
        TeamError: no ``PUBLIC_BASE_URL`` and the request's host is not an allowed host.
    """
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL.rstrip("/")
    host = (urlsplit(request_base_url).hostname or "").lower()
    allowed = [h for h in settings.ALLOWED_HOSTS if h != "*"]
    if not host or not validate_host(host, allowed):
        raise TeamError(
            gettext(
                "The portal's public address is not configured, so no invitation link can be "
                "made: the operator must set PUBLIC_BASE_URL (e.g. https://studio.example.com)."
            )
        )
    return request_base_url.rstrip("/")


def _invitation_token(invitation: Invitation) -> str:
    """Return the link's secret token: an HMAC-SHA256 of the invitation under SECRET_KEY."""
    value = f"{invitation.pk}:{invitation.email}:{int(invitation.created_at.timestamp())}"
    return salted_hmac(
        "generations.services.team.invitation", value, algorithm="sha256"
    ).hexdigest()


def _invitation_url(invitation: Invitation, base_url: str) -> str:
    token = _invitation_token(invitation)
    return base_url.rstrip("/") + reverse("invitation_accept", kwargs={"token": token})


def invitation_revoke_allowed(*, invitation: Invitation, actor: User) -> bool:
    """Return whether ``actor`` may withdraw ``invitation``.

    The hierarchy rule of :func:`team_action_authorize` applied to invitations: a superuser
    may withdraw any; a manager who is not a superuser only the ones they sent (another
    manager's invitation is that manager's action to undo).
    """
    if actor.is_active and actor.is_superuser:
        return True
    return actor.is_manager and invitation.invited_by_id == actor.pk


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User) -> bool:
    """Withdraw an unused invitation; return whether it was still usable.

    Raises:
        TeamPermissionDenied: ``actor`` may not withdraw it
            (:func:`invitation_revoke_allowed`); nothing was written.
    """
    if not invitation_revoke_allowed(invitation=invitation, actor=actor):
        raise TeamPermissionDenied(
            gettext("Only a superuser or %(manager)s can withdraw the invitation for %(email)s.")
            % {"manager": invitation.invited_by, "email": invitation.email}
        )
    revoked = Invitation.objects.filter(pk=invitation.pk).usable().update(revoked_at=timezone.now())
    if revoked:
        audit_record(actor=actor, action=Action.INVITE_REVOKE, after={"email": invitation.email})
    return bool(revoked)


def invitation_find(token: str) -> Invitation | None:
    """Return the usable invitation for a link's ``token``, or None."""
    return Invitation.objects.usable().filter(token_hash=token_digest(token)).first()


def invitation_accept(*, token: str, username: str, password: str) -> User:
    """Create the invitee's account from a usable invitation and use the invitation up.

    The invitation is claimed with a conditional UPDATE, so a link works exactly once even
    when opened twice at the same moment.

    Raises:
        TeamError: the link is unknown, used, withdrawn or expired, or the user name is taken.
        ValidationError: the password fails the configured validators.
    """
    with transaction.atomic():
        invitation = invitation_find(token)
        if invitation is None:
            raise TeamError(
                gettext("This invitation link is not valid any more. Ask for a new one.")
            )
        if User.objects.filter(username__iexact=username).exists():
            raise TeamError(gettext("That user name is taken; choose another."), field="username")
        user = User(username=username, email=invitation.email)
        validate_password(password, user)
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as error:
            raise TeamError(
                gettext("That user name or e-mail address is already in use.")
            ) from error
        claimed = (
            Invitation.objects.filter(pk=invitation.pk)
            .usable()
            .update(accepted_at=timezone.now(), accepted_by=user)
        )
        if not claimed:
            raise TeamError(gettext("This invitation link was just used."))
        CreditAccount.objects.get_or_create(user=user)
    return user
