"""Filter forms of the spend reports: date range, entry kinds, period, member and provider.

The query-string names are part of the CSV links
(``?from=&to=&kind=&period=&member=&provider=``),
so ``from`` and ``to`` are added in ``__init__`` (``from`` is a Python keyword). Dates are
local calendar days (``settings.TIME_ZONE``), both ends included.
"""

from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..catalog import Provider
from ..models import CreditEntry
from ..selectors.reports import Period, local_today

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class KindsField(forms.MultipleChoiceField):
    """Entry kinds; blank values (the "All kinds" option) are ignored."""

    def to_python(self, value) -> list[str]:
        return [kind for kind in super().to_python(value) if kind]


class DateRangeForm(forms.Form):
    """A range of local days, ``from`` to ``to`` inclusive; either end may be left empty.

    With ``default_days``, a missing ``from`` is ``to`` (default: today) minus
    ``default_days - 1`` days; without it, an empty end leaves the range open on that side.
    """

    EARLIEST = date(2000, 1, 1)
    LATEST = date(2100, 12, 31)
    MAX_DAYS = 3660  # ten years: a day-by-day report stays a few thousand rows

    error_messages = {
        "reversed": _("The start date must be on or before the end date."),
        "out_of_range": _("Choose a date between 2000 and 2100."),
        "too_long": _("Choose a range of at most ten years."),
    }

    def __init__(self, *args, default_days: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_days = default_days
        self.fields["from"] = forms.DateField(label=_("From"), required=False, widget=DATE_INPUT)
        self.fields["to"] = forms.DateField(label=_("To"), required=False, widget=DATE_INPUT)
        self.order_fields(["from", "to"])

    def clean(self) -> dict:
        cleaned = super().clean()
        for name in ("from", "to"):
            value = cleaned.get(name)
            if value and not self.EARLIEST <= value <= self.LATEST:
                self.add_error(
                    name,
                    ValidationError(self.error_messages["out_of_range"], code="out_of_range"),
                )
        first, last = cleaned.get("from"), cleaned.get("to")
        if first and last and first > last:
            raise ValidationError(self.error_messages["reversed"], code="reversed")
        if first and (last or local_today()) - first >= timedelta(days=self.MAX_DAYS):
            raise ValidationError(self.error_messages["too_long"], code="too_long")
        return cleaned

    def date_range(self) -> tuple[date | None, date | None]:
        """Return ``(first, last)``: the valid range, or the defaults when it is invalid."""
        data = self.cleaned_data if self.is_valid() else {}
        first, last = data.get("from"), data.get("to")
        if self.default_days is not None:
            last = last or local_today()
            first = first or last - timedelta(days=self.default_days - 1)
        return first, last


class StatementFilterForm(DateRangeForm):
    """Filter a member's statement by local days and entry kinds (``?kind=`` repeated)."""

    kind = KindsField(label=_("Kind"), choices=CreditEntry.Kind.choices, required=False)

    def kinds(self) -> list[str]:
        """Return the kinds to show; empty means every kind."""
        return self.cleaned_data.get("kind", []) if self.is_valid() else []


class TeamSpendFilterForm(DateRangeForm):
    """Filter the team report: local days (default: the last 30), period, member and
    provider (empty: every provider)."""

    DEFAULT_DAYS = 30

    period = forms.ChoiceField(
        label=_("Group by"), choices=Period.choices, required=False, initial=Period.DAY
    )
    # Rendered as a select of the report's members; an unknown id just shows nobody.
    member = forms.IntegerField(label=_("Member"), required=False, min_value=1)
    # Every provider, configured or not: past spend stays reportable after a key is removed.
    provider = forms.ChoiceField(
        label=_("Provider"), choices=[("", _("All providers")), *Provider.choices], required=False
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default_days", self.DEFAULT_DAYS)
        super().__init__(*args, **kwargs)

    def chosen_period(self) -> str:
        return (self.cleaned_data.get("period") if self.is_valid() else "") or Period.DAY

    def chosen_member(self) -> int | None:
        return self.cleaned_data.get("member") if self.is_valid() else None

    def chosen_provider(self) -> str | None:
        """Return the provider to report on (a ``catalog.Provider`` value), None for all."""
        return (self.cleaned_data.get("provider") if self.is_valid() else "") or None
