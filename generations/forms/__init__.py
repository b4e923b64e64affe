"""Forms: the new-generation form (``generation``), the gallery's toolbar (``gallery``) and
the managers' team forms (``team``)."""

from .gallery import GalleryFilterForm
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
    "GalleryFilterForm",
    "GenerationForm",
    "InvitationAcceptForm",
    "InvitationForm",
    "NotificationSettingsForm",
    "TeamCreditsForm",
]
