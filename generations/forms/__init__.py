"""Forms: the new-generation form (``generation``) and the managers' team forms (``team``)."""

from .generation import MODE_FIELDS, GenerationForm
from .team import (
    CapForm,
    InvitationAcceptForm,
    InvitationForm,
    NotificationSettingsForm,
    TeamCreditsForm,
)

__all__ = [
    "MODE_FIELDS",
    "CapForm",
    "GenerationForm",
    "InvitationAcceptForm",
    "InvitationForm",
    "NotificationSettingsForm",
    "TeamCreditsForm",
]
