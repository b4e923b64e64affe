"""The gallery's toolbar: search, filter chips, a date range and the sort, read from the URL.

docs/gallery.md "Filters and sort". The form only parses the query string (no I/O); its
choices come from ``Generation.State`` and the catalog, so a new mode, provider or resolution
gets its chip without touching this module. ``filters()`` returns the
``selectors.gallery.GalleryFilters`` that the selector applies.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..catalog import MODEL_SPECS, Mode, Provider
from ..models import Generation
from ..selectors.gallery import RUNNING, GalleryFilters, Sort

# The state chips: the jobs still running under one chip, then each final state.
STATE_CHOICES = [
    (RUNNING, _("In progress")),
    *[(v, label) for v, label in Generation.State.choices if v in Generation.State.final()],
]
# Older links name a single running state (``?state=queued``); they still work.
STATE_ALIASES = {state: RUNNING for state in Generation.State.in_flight()}


def resolution_choices() -> list[tuple[str, str]]:
    """Return every resolution some model of the catalog offers, lowest first."""
    found = {r for spec in MODEL_SPECS for r in spec.resolutions}
    return [(r, r) for r in sorted(found, key=lambda r: int(r.rstrip("p")))]


class GalleryFilterForm(forms.Form):
    """Parse the gallery's query string (``q``, ``state``, ``mode``, ``resolution``,
    ``provider``, ``favourite=1``, ``from``, ``to`` as YYYY-MM-DD, ``sort``).

    Bind it to ``request.GET``. A value it does not know is an error on its field and that
    field is left out of ``filters()``; the rest still apply, so the page shows an honest,
    less filtered result with the reason, never a 500 (docs/gallery.md "Filters and sort").

    ``library=True`` drops the chips that make no sense across members (state: the team
    library holds finished videos only; favourite: a mark of the owner's own).
    """

    error_messages = {
        "invalid_choice": _("“%(value)s” is not one of the choices; it is ignored."),
        "invalid_date": _("Enter a date as YYYY-MM-DD; it is ignored."),
        "dates_reversed": _("The start date is after the end date; the date range is ignored."),
    }

    q = forms.CharField(
        label=_("Search prompts"),
        required=False,
        max_length=200,
        strip=True,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Search prompts")}),
    )
    state = forms.MultipleChoiceField(
        label=_("State"), required=False, choices=STATE_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    mode = forms.MultipleChoiceField(
        label=_("Mode"), required=False, choices=Mode.choices, widget=forms.CheckboxSelectMultiple
    )
    resolution = forms.MultipleChoiceField(
        label=_("Resolution"),
        required=False,
        choices=resolution_choices,
        widget=forms.CheckboxSelectMultiple,
    )
    provider = forms.MultipleChoiceField(
        label=_("Provider"),
        required=False,
        choices=Provider.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    favourite = forms.BooleanField(label=_("Favourites"), required=False)
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=_("To"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=Sort.CHOICES)

    # URL names that are Python keywords or clash with other names.
    PARAMS = {"date_from": "from", "date_to": "to"}

    def __init__(self, data=None, *, library: bool = False, **kwargs):
        data = self._normalised(data) if data is not None else None
        super().__init__(data, **kwargs)
        self.library = library
        if library:
            del self.fields["state"]
            del self.fields["favourite"]
        for field in self.fields.values():
            if isinstance(field, forms.ChoiceField):
                field.error_messages["invalid_choice"] = self.error_messages["invalid_choice"]
            if isinstance(field, forms.DateField):
                field.error_messages["invalid"] = self.error_messages["invalid_date"]

    def add_prefix(self, field_name: str) -> str:
        """Name ``date_from`` and ``date_to`` ``from`` and ``to`` in the URL."""
        return self.PARAMS.get(field_name, field_name)

    @staticmethod
    def _normalised(data):
        """Return ``data`` with old single-state links (``state=queued``) mapped to their chip."""
        if "state" not in data:
            return data
        data = data.copy()
        data.setlist(
            "state", list(dict.fromkeys(STATE_ALIASES.get(v, v) for v in data.getlist("state")))
        )
        return data

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error(
                "date_to",
                ValidationError(self.error_messages["dates_reversed"], code="dates_reversed"),
            )
            cleaned.pop("date_from", None)
        return cleaned

    def filters(self) -> GalleryFilters:
        """Return the valid part of the query string (call after ``is_valid``)."""
        data = self.cleaned_data if self.is_bound else {}
        return GalleryFilters(
            query=data.get("q") or "",
            states=tuple(data.get("state") or ()),
            modes=tuple(data.get("mode") or ()),
            resolutions=tuple(data.get("resolution") or ()),
            providers=tuple(data.get("provider") or ()),
            favourite=bool(data.get("favourite")),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            sort=data.get("sort") or Sort.NEWEST,
        )

    def ignored(self) -> list[str]:
        """Return one sentence per ignored parameter, naming its label (for the page's notice)."""
        return [
            # Translators: a filter's label, then why its value is ignored.
            gettext("%(label)s: %(reasons)s")
            % {"label": self.fields[name].label, "reasons": " ".join(errors)}
            for name, errors in self.errors.items()
            if name in self.fields
        ]
