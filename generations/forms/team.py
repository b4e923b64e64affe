"""Forms of the team pages: invitations, credits for many members, caps, notifications.

Error messages live in each form's ``error_messages`` and carry codes
(docs/style.md "Form error messages").
"""

import re
import uuid

from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..models import User


class InvitationForm(forms.Form):
    """A manager invites one e-mail address."""

    email = forms.EmailField(label=_("E-mail address"))


class TeamCreditsForm(forms.Form):
    """Grant or revoke credits for one member or many at once, with a memo.

    A revoke without an amount takes back everything each member has available (never what
    is reserved by jobs in flight).
    """

    error_messages = {
        "amount_required": _("Enter how many credits to grant."),
        "request_token_invalid": _("This form is out of date: reload the page and try again."),
    }

    ACTIONS = [("grant", _("Grant")), ("revoke", _("Revoke"))]

    action = forms.ChoiceField(
        choices=ACTIONS, initial="grant", label=_("Action"), widget=forms.RadioSelect
    )
    members = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        label=_("Members"),
        error_messages={"required": _("Select at least one member.")},
        widget=forms.CheckboxSelectMultiple,
    )
    amount = forms.IntegerField(
        min_value=1,
        max_value=1_000_000_000,
        required=False,
        label=_("Credits"),
        help_text=_("1 credit = US$0.001. For a revoke, empty takes back all available credits."),
    )
    memo = forms.CharField(
        label=_("Memo"), max_length=200, help_text=_("Why: shown in the ledger and audit log.")
    )
    # One per rendered form: the same form sent twice (a double click, a resent POST) moves
    # credits once (``services.team.team_credits_grant``'s ``request_token``).
    request_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=32)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = User.objects.filter(is_active=True).order_by("username")
        if not self.is_bound:
            self.initial.setdefault("request_token", uuid.uuid4().hex)

    def clean_request_token(self) -> str:
        token = self.cleaned_data["request_token"]
        if token and not re.fullmatch(r"[0-9a-f]{32}", token):
            raise ValidationError(
                self.error_messages["request_token_invalid"], code="request_token_invalid"
            )
        return token

    def clean(self) -> dict:
        cleaned = super().clean()
        missing = cleaned.get("amount") is None and "amount" not in self.errors
        if cleaned.get("action") == "grant" and missing:
            error = ValidationError(self.error_messages["amount_required"], code="amount_required")
            self.add_error("amount", error)
        return cleaned


class CapForm(forms.Form):
    """Set or clear one member's monthly cap (credits)."""

    monthly_cap_credits = forms.IntegerField(
        min_value=0,
        max_value=1_000_000_000,
        required=False,
        label=_("Monthly cap (credits)"),
        help_text=_("Captured plus reserved credits per calendar month; empty for no cap."),
    )


class LanguageSelect(forms.Select):
    """Each language named in its own language ("English", "Русский"; docs/i18n.md), its
    ``<option>`` marked with that ``lang`` so screen readers say it right."""

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        if value:
            option["attrs"]["lang"] = value
        return option


class NotificationSettingsForm(forms.ModelForm):
    """A member's own settings (profile page): language (docs/i18n.md) and notifications."""

    class Meta:
        model = User
        fields = ["language", "notify_on_finish", "low_balance_threshold"]
        labels = {
            "language": _("Language of pages and e-mails"),
            "notify_on_finish": _("E-mail me when a video succeeds or fails"),
            "low_balance_threshold": _("E-mail me when my available credits fall below"),
        }
        widgets = {"language": LanguageSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("As my browser asks")), *settings.LANGUAGES]


class InvitationAcceptForm(forms.Form):
    """The invitee chooses a user name and a password."""

    error_messages = {"password_mismatch": _("The two passwords do not match.")}

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("Letters, digits and @/./+/-/_ only."),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_password2(self) -> str:
        first, second = self.cleaned_data.get("password1"), self.cleaned_data["password2"]
        if first and first != second:
            raise ValidationError(
                self.error_messages["password_mismatch"], code="password_mismatch"
            )
        return second
