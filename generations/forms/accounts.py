"""Account forms: the password reset that writes in the user's language (docs/i18n.md)."""

from django.contrib.auth.forms import PasswordResetForm
from django.utils import translation

from ..i18n import language_of


class LanguagePasswordResetForm(PasswordResetForm):
    """Django's password reset, each e-mail in its recipient's saved language.

    docs/i18n.md "E-mails": a user who saved a language gets the reset link in it, whatever
    the language of the page that asked for the reset; without one, the page's language.
    """

    def send_mail(self, subject_template_name, email_template_name, context, *args, **kwargs):
        """Render and send one reset e-mail inside the recipient's language."""
        user = context.get("user")
        language = getattr(user, "language", "") or translation.get_language()
        with translation.override(language or language_of(None)):
            super().send_mail(subject_template_name, email_template_name, context, *args, **kwargs)
