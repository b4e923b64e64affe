"""The portal's user model: members, and managers who run the team."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

MANAGE_TEAM_PERMISSION = "generations.manage_team"
MANAGERS_GROUP = "Managers"


class User(AbstractUser):
    """A team member. Managers hold ``generations.manage_team`` (via the Managers group).

    Users keep Django's unique ``username`` (the management commands take it) and a required,
    case-insensitively unique e-mail address (invitations and password resets use it).
    """

    email = models.EmailField(_("email address"))
    monthly_cap_credits = models.PositiveIntegerField(
        _("monthly cap (credits)"),
        null=True,
        blank=True,
        help_text=_(
            "Most credits this member may spend (captured plus reserved) in a calendar "
            "month; empty for no cap."
        ),
    )
    low_balance_threshold = models.PositiveIntegerField(
        _("low-balance threshold (credits)"),
        null=True,
        blank=True,
        help_text=_("E-mail me when my available credits fall below this; empty for never."),
    )
    low_balance_notified = models.BooleanField(
        _("low-balance e-mail sent"),
        default=False,
        help_text=_("Set when the low-balance e-mail went out; reset on a top-up."),
    )
    credits_requested_at = models.DateTimeField(
        _("credits last requested at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "When this member last asked the managers for credits from the new-video page."
        ),
    )
    notify_on_finish = models.BooleanField(
        _("e-mail when a video finishes"),
        default=True,
        help_text=_("E-mail me when one of my videos succeeds or fails."),
    )
    # docs/i18n.md "Choosing the language": empty follows the browser (Accept-Language);
    # pages and e-mails use a saved language.
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        default="",
        choices=settings.LANGUAGES,
        help_text=_("The portal's pages and e-mails use this language; empty follows the browser."),
    )

    objects = UserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        permissions = [("manage_team", _("Can manage the team's credits and see its spend"))]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_manager(self) -> bool:
        """Return True for superusers and holders of ``generations.manage_team``."""
        return self.is_active and (self.is_superuser or self.has_perm(MANAGE_TEAM_PERMISSION))
