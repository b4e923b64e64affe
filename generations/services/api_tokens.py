"""Personal access tokens for the REST API: create, authenticate, revoke.

docs/api.md "Tokens": a member makes a token with a name and an optional expiry and sees it
once; only its SHA-256 digest is stored. Every request looks the digest up afresh, so a
revoked or expired token stops working at once. Managers may revoke team members' tokens
under the team's hierarchy rule (``services.team.team_action_authorize``), audited.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from ..models import ApiToken, AuditEntry, User
from ..models.api import TOKEN_PREFIX, api_token_digest
from .audit import audit_record
from .team import team_action_authorize

# last_used_at is written at most this often per token: a busy script costs no write per call.
LAST_USED_RESOLUTION = timedelta(seconds=60)
NAME_MAX_CHARS = 100
EXPIRES_MAX_DAYS = 3650


class TokenRefused(Exception):
    """Why a bearer token does not authenticate, in a sentence for the caller."""


@dataclass(frozen=True)
class NewToken:
    """A token just made: the row, and the token itself (shown once, never stored)."""

    token: ApiToken
    secret: str


def api_token_create(*, user: User, name: str, expires_days: int | None = None) -> NewToken:
    """Make a personal access token for ``user``.

    Args:
        user: the member the token acts as.
        name: what it is for, 1-100 characters after trimming.
        expires_days: whole days until it stops working (1-3650), or None for never.

    Returns:
        The new row and the token (``sds_`` and 256 random bits); show the token once.

    Raises:
        ValueError: an empty or too long name, or ``expires_days`` out of range; nothing is
            written.
    """
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX_CHARS:
        raise ValueError(
            gettext("Give the token a name of 1-%(max)d characters.") % {"max": NAME_MAX_CHARS}
        )
    if expires_days is not None and (
        isinstance(expires_days, bool) or not 1 <= expires_days <= EXPIRES_MAX_DAYS
    ):
        raise ValueError(
            gettext("The expiry must be 1-%(max)d days, or none.") % {"max": EXPIRES_MAX_DAYS}
        )
    secret = ApiToken.new_token()
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        token_hash=api_token_digest(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        created_at=now,
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    return NewToken(token=token, secret=secret)


def api_token_authenticate(*, secret: str) -> ApiToken:
    """Return the usable token whose secret is ``secret``, with its user loaded.

    Records the use (``last_used_at``, at most once a minute per token, with a conditional
    UPDATE). The lookup is by SHA-256 digest, an indexed equality on a value that reveals
    nothing about the token, so timing tells an attacker nothing useful.

    Raises:
        TokenRefused: unknown, revoked or expired token, or its user is deactivated.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise TokenRefused("The bearer token is not a valid personal access token.")
    token = (
        ApiToken.objects.select_related("user").filter(token_hash=api_token_digest(secret)).first()
    )
    now = timezone.now()
    if token is None:
        raise TokenRefused("The bearer token is not a valid personal access token.")
    if token.revoked_at is not None:
        raise TokenRefused("This token has been revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused("This token has expired.")
    if not token.user.is_active:
        raise TokenRefused("The token's account is deactivated.")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_revoke(*, token_id: int, actor: User) -> bool:
    """Revoke a token at once, as ``actor`` (its owner, or a manager for a team member).

    The owner may revoke their own tokens. Anyone else must be allowed to act on the owner
    by the team's hierarchy rule (a manager on members, a superuser on anyone) and the
    revocation is audited with the token's name, prefix and state before and after.

    Returns:
        True if this call revoked it; False if it was already revoked (nothing written).

    Raises:
        ApiToken.DoesNotExist: no such token.
        TeamPermissionDenied: ``actor`` may not act on the token's owner; nothing written.
    """
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().select_related("user").get(pk=token_id)
        own = token.user_id == actor.pk
        if not own:
            team_action_authorize(actor=actor, users=[token.user], operation="token")
        if token.revoked_at is not None:
            return False
        before = {"token": f"{token.name} ({token.prefix}…)", "status": token.status}
        token.revoked_at = timezone.now()
        token.revoked_by = actor
        token.save(update_fields=["revoked_at", "revoked_by"])
        if not own:
            audit_record(
                actor=actor,
                action=AuditEntry.Action.TOKEN_REVOKE,
                target_user=token.user,
                subject=f"API token #{token.pk}",
                before=before,
                after={"token": before["token"], "status": "revoked"},
            )
    return True
