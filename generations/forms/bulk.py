"""The gallery's bulk-action form: the selected cards' ids and what to do with them.

Issue #15 item 4; docs/storage.md "Bulk actions". One POST form around the page's cards: a
checkbox per card (``ids``), an action select and a submit button, so it works without
JavaScript. The form checks shapes only (no query): ownership is the service's.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from ..services.bulk_actions import BULK_MAX


class IdListField(forms.Field):
    """A list of positive integer ids, posted as repeated fields (``ids=3&ids=5``)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": _("Select at least one video."),
        "invalid": _("The selection is not valid; reload the page and select again."),
        "too_many": format_lazy(_("Select at most {max} videos at a time."), max=BULK_MAX),
    }

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        try:
            ids = sorted({int(v) for v in value})
        except (TypeError, ValueError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        # Positive and within a 64-bit primary key (SQLite raises OverflowError beyond it).
        if any(i <= 0 or i > 2**63 - 1 for i in ids):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return ids

    def validate(self, value: list[int]) -> None:
        super().validate(value)
        if len(value) > BULK_MAX:
            raise ValidationError(self.error_messages["too_many"], code="too_many")


class BulkActionForm(forms.Form):
    """Validate a bulk action: ``action`` (one of ``ACTIONS``) and ``ids`` (1 to 100).

    ``confirmed`` is set by the delete confirmation (the page without JavaScript, the
    ``<dialog>`` with it); a delete without it is sent to the confirmation first.
    """

    ACTIONS = [
        ("download", _("Download as ZIP")),
        ("favourite", _("Add to favourites")),
        ("again", _("Generate again")),
        ("hide", _("Hide")),
        ("unhide", _("Show again")),
        ("delete", _("Delete video")),
    ]

    action = forms.ChoiceField(
        choices=ACTIONS,
        label=_("With the selected"),
        error_messages={
            "required": _("Choose what to do with the selected videos."),
            "invalid_choice": _("Choose what to do with the selected videos."),
        },
    )
    ids = IdListField()
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
