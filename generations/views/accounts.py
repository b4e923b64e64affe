"""Account pages beyond Django's own auth views."""

from django.contrib import messages
from django.urls import reverse_lazy
from django.views.generic import UpdateView

from ..forms import NotificationSettingsForm


class ProfileView(UpdateView):
    """Show the signed-in user's details and credits; edit their notification settings."""

    template_name = "registration/profile.html"
    form_class = NotificationSettingsForm
    success_url = reverse_lazy("profile")

    def get_object(self, queryset=None):
        return self.request.user

    def form_valid(self, form):
        messages.success(self.request, "Your notification settings are saved.")
        return super().form_valid(form)
