"""Languages: which one a user's e-mails are written in, and the plural of "credits".

docs/i18n.md. Pages follow the request (``LocaleMiddleware``, then
``middleware.UserLanguageMiddleware`` for a saved preference); e-mails are sent by workers,
outside any request, so each is rendered inside ``translation.override(language_of(user))``.
"""

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import ngettext


def language_of(user) -> str:
    """Return the language code for ``user``'s e-mails.

    Their saved ``User.language`` when set, else ``settings.LANGUAGE_CODE`` (a worker has no
    browser to ask). ``user`` may be None (then the site's default).
    """
    return (getattr(user, "language", "") if user is not None else "") or settings.LANGUAGE_CODE


def credits_text(amount: int) -> str:
    """Return ``amount`` credits in words in the active language: "1 credit", "2 кредита".

    The number is grouped the active language's way ("20,000" in English, "20 000" in
    Russian); the noun takes the language's plural form (Russian has three: 1 кредит,
    2 кредита, 5 кредитов).
    """
    return ngettext("%(count)s credit", "%(count)s credits", amount) % {
        "count": number_format(amount, force_grouping=True)
    }
