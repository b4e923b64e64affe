"""Account pages beyond Django's own auth views."""

from django.views.generic import TemplateView


class ProfileView(TemplateView):
    """Show the signed-in user's details, credits and links to change the password."""

    template_name = "registration/profile.html"
