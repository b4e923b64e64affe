"""The portal's user model: members, and managers who run the team."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower

MANAGE_TEAM_PERMISSION = "generations.manage_team"
MANAGERS_GROUP = "Managers"


class User(AbstractUser):
    """A team member. Managers hold ``generations.manage_team`` (via the Managers group).

    Users keep Django's unique ``username`` (the management commands take it) and a required,
    case-insensitively unique e-mail address (invitations and password resets use it).
    """

    email = models.EmailField("email address")
    monthly_cap_credits = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most credits this member may spend (captured plus reserved) in a calendar "
        "month; empty for no cap.",
    )
    low_balance_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="E-mail me when my available credits fall below this; empty for never.",
    )
    low_balance_notified = models.BooleanField(
        default=False, help_text="Set when the low-balance e-mail went out; reset on a top-up."
    )
    credits_requested_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When this member last asked the managers for credits from the new-video page.",
    )
    notify_on_finish = models.BooleanField(
        default=True, help_text="E-mail me when one of my videos succeeds or fails."
    )

    objects = UserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        permissions = [("manage_team", "Can manage the team's credits and see its spend")]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_manager(self) -> bool:
        """Return True for superusers and holders of ``generations.manage_team``."""
        return self.is_active and (self.is_superuser or self.has_perm(MANAGE_TEAM_PERMISSION))
