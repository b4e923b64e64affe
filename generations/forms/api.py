"""Forms of the profile's API section: a new personal access token, a new webhook endpoint."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..models import WebhookEvent
from ..services.api_tokens import EXPIRES_MAX_DAYS, NAME_MAX_CHARS
from ..services.webhooks import WebhookTargetRefused, webhook_target_check


class ApiTokenForm(forms.Form):
    """A name and an optional expiry (whole days) for a new token."""

    name = forms.CharField(
        label=_("Name"),
        max_length=NAME_MAX_CHARS,
        strip=True,
        help_text=_("What the token is for, e.g. 'batch bot'."),
    )
    expires_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=EXPIRES_MAX_DAYS,
        label=_("Expires after (days)"),
        help_text=_("Empty: never expires. You can revoke it any time."),
    )


class WebhookEndpointForm(forms.Form):
    """A URL that receives signed events, and the events it wants.

    The URL passes the same address guard as downloads (docs/architecture.md "What must hold"):
    public http(s) only, no private, loopback or link-local address.
    """

    error_messages = {"url_refused": _("%(reason)s Give a public http(s) address.")}

    url = forms.URLField(max_length=2000, assume_scheme="https", label=_("Endpoint URL"))
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        label=_("Events"),
        widget=forms.CheckboxSelectMultiple,
        initial=[WebhookEvent.SUCCEEDED, WebhookEvent.FAILED],
    )
    description = forms.CharField(label=_("Description"), max_length=100, required=False)

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            webhook_target_check(url)
        except WebhookTargetRefused as error:
            raise ValidationError(
                self.error_messages["url_refused"],
                code="url_refused",
                params={"reason": str(error)},
            ) from error
        return url
