"""Running the team: invitations to join, and the audit log of managers' actions.

docs/architecture.md "Users and their jobs": a manager invites members, grants and revokes credits,
sets monthly caps; every such action is recorded with who, when, and the values before and
after, so a team can always tell why a balance or a limit is what it is.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


def token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a secret token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet):
    def usable(self, *, now=None) -> "InvitationQuerySet":
        """Return invitations that can still be accepted: unused, not expired, not revoked."""
        now = now or timezone.now()
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


class Invitation(models.Model):
    """A single-use link that lets one e-mail address join the team.

    The link's token is an HMAC of the invitation under ``SECRET_KEY`` (``services.team``, as
    Django's password-reset links), and only its SHA-256 digest is stored, so a copy of the
    database cannot be used to join. Changing ``SECRET_KEY`` invalidates pending links.
    """

    email = models.EmailField(verbose_name=_("email"))
    token_hash = models.CharField(verbose_name=_("token hash"), max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        on_delete=models.PROTECT,
        related_name="invitations_sent",
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(verbose_name=_("expires at"))
    accepted_at = models.DateTimeField(verbose_name=_("accepted at"), null=True, blank=True)
    accepted_by = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("accepted by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invitation",
    )
    revoked_at = models.DateTimeField(verbose_name=_("revoked at"), null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return gettext("Invitation for %(email)s") % {"email": self.email}

    @staticmethod
    def new_token() -> str:
        """Return a fresh secret token (256 random bits, URL-safe)."""
        return secrets.token_urlsafe(32)

    @property
    def status(self) -> str:
        """Return "accepted", "revoked", "expired" or "pending"."""
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= timezone.now() else "pending"


class AuditEntry(models.Model):
    """One manager action, with the values before and after it (append-only by convention:
    no service updates or deletes these rows, and the admin shows them read-only).

    Written by ``services.audit.audit_record`` in the transaction of the change it records
    (issue #12 item 9): team actions, price publishing, the admin's generation actions,
    alert resolution and superusers' account edits in the admin.
    """

    class Action(models.TextChoices):
        GRANT = "grant", _("Credits granted")
        REVOKE = "revoke", _("Credits revoked")
        CAP = "cap", _("Monthly cap changed")
        PRICE = "price", _("Prices changed")
        INVITE = "invite", _("Member invited")
        INVITE_REVOKE = "invite_revoke", _("Invitation withdrawn")
        DEACTIVATE = "deactivate", _("Member deactivated")
        REACTIVATE = "reactivate", _("Member reactivated")
        MANAGER_ADD = "manager_add", _("Made a manager")
        MANAGER_REMOVE = "manager_remove", _("No longer a manager")
        ACCOUNT_CHANGE = "account_change", _("Account changed in the admin")
        CANCEL = "cancel", _("Generation canceled")
        EXPIRE = "expire", _("Generation expired")
        POLL = "poll", _("Generation polled")
        DOWNLOAD_RETRY = "download_retry", _("Result download retried")
        ALERT_RESOLVE = "alert_resolve", _("Provider alert resolved")
        TOKEN_REVOKE = "token_revoke", _("API token revoked")
        # A member's bulk actions on their own generations (services.bulk_actions).
        HIDE = "hide", _("Generations hidden")
        UNHIDE = "unhide", _("Generations shown again")
        DELETE = "delete", _("Generation videos deleted")
        FAVOURITE = "favourite", _("Generations marked favourite")
        AGAIN = "again", _("Generations made again")
        # Sharing with the team library (services.sharing; docs/gallery.md "Team library").
        SHARE = "share", _("Video shared with the team")
        UNSHARE = "unshare", _("Video unshared")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_actions",
        help_text=_("Who did it (empty: a command or the system)."),
    )
    action = models.CharField(verbose_name=_("action"), max_length=16, choices=Action.choices)
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("target user"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_subject_of",
    )
    subject = models.CharField(
        verbose_name=_("subject"),
        max_length=200,
        blank=True,
        help_text=_('What was acted on when it is not a member, e.g. "Generation #12".'),
    )
    before = models.JSONField(verbose_name=_("before"), default=dict, blank=True)
    after = models.JSONField(verbose_name=_("after"), default=dict, blank=True)
    memo = models.CharField(verbose_name=_("memo"), max_length=500, blank=True)
    created_at = models.DateTimeField(
        verbose_name=_("created at"), default=timezone.now, db_index=True
    )

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        from ..formats import moment

        return gettext("%(action)s by %(actor)s, %(when)s") % {
            "action": self.get_action_display(),
            "actor": self.actor or gettext("the system"),
            "when": moment(self.created_at),
        }
