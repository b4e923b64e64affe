"""Account pages beyond Django's own auth views."""

from django.contrib import messages
from django.urls import reverse_lazy
from django.views.generic import UpdateView

from ..forms import NotificationSettingsForm
from ..forms.api import ApiTokenForm, WebhookEndpointForm
from ..selectors.api import api_tokens_of, webhook_deliveries_of, webhook_endpoints_of


class ProfileView(UpdateView):
    """Show the signed-in user's details and credits; edit their notification settings."""

    template_name = "registration/profile.html"
    form_class = NotificationSettingsForm
    success_url = reverse_lazy("profile")

    def get_object(self, queryset=None):
        return self.request.user

    def get_context_data(self, **kwargs):
        """Add the API section: tokens, webhook endpoints and their delivery log."""
        user = self.request.user
        kwargs.setdefault("token_form", ApiTokenForm())
        kwargs.setdefault("webhook_form", WebhookEndpointForm())
        return super().get_context_data(
            api_tokens=api_tokens_of(user),
            webhook_endpoints=webhook_endpoints_of(user),
            webhook_deliveries=webhook_deliveries_of(user),
            **kwargs,
        )

    def form_valid(self, form):
        messages.success(self.request, "Your notification settings are saved.")
        return super().form_valid(form)
