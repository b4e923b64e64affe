"""Account pages beyond Django's own auth views."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.generic import UpdateView
from django.views.i18n import set_language

from ..forms import NotificationSettingsForm
from ..forms.api import ApiTokenForm, WebhookEndpointForm
from ..selectors.api import api_tokens_of, webhook_deliveries_of, webhook_endpoints_of
from ..services.preferences import user_language_set


class ProfileView(UpdateView):
    """Show the signed-in user's details and credits; edit their language and notifications."""

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
        messages.success(self.request, _("Your settings are saved."))
        return super().form_valid(form)


@method_decorator(login_not_required, name="dispatch")
class LanguageSetView(View):
    """Switch the language: Django's ``set_language`` (the cookie), and for a signed-in user
    the saved preference too, so pages on other devices and e-mails follow it.

    docs/i18n.md "Choosing the language". POST ``language`` (a code of ``LANGUAGES``) and
    ``next`` (where to go back to, same host only); a GET changes nothing and goes back.
    """

    http_method_names = ["get", "post"]

    def get(self, request):
        return set_language(request)

    def post(self, request):
        response = set_language(request)
        language = request.POST.get("language", "")
        if request.user.is_authenticated and language in dict(settings.LANGUAGES):
            user_language_set(user=request.user, language=language)
        return response
