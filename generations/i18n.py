"""Languages: which one a user's e-mails are written in, and the plural of "credits".

docs/i18n.md. Pages follow the request (``LocaleMiddleware``, then
``middleware.UserLanguageMiddleware`` for a saved preference); e-mails are sent by workers,
outside any request, so each is rendered inside ``translation.override(language_of(user))``.
"""

import re

from django.conf import settings
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_noop, ngettext


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


def _state(code: str) -> str:
    """A job state's name in the active language, lower case ("failed": "ошибка")."""
    from .models import Generation

    try:
        return str(Generation.State(code).label).lower()
    except ValueError:
        return code


# The memos the portal itself writes on ledger and audit entries (services.lifecycle,
# services.ledger, services.failover, the admin, the management commands), as stored: in
# English, whoever was looking (docs/i18n.md "What is not translated, and why").
_MEMOS = [
    (re.compile(r"Generation #(?P<pk>\d+)"), lambda m: gettext("Generation #%(pk)s") % m),
    (
        re.compile(r"Generation #(?P<pk>\d+) succeeded"),
        lambda m: gettext("Generation #%(pk)s succeeded") % m,
    ),
    (re.compile(r"Generation succeeded"), lambda m: gettext("Generation succeeded")),
    (re.compile(r"Refund"), lambda m: gettext("Refund")),
    (
        re.compile(r"Refund: generation #(?P<pk>\d+) (?P<state>\w+)"),
        lambda m: (
            gettext("Refund: generation #%(pk)s %(state)s")
            % {"pk": m["pk"], "state": _state(m["state"])}
        ),
    ),
    (
        re.compile(r"Failover of generation #(?P<pk>\d+): (?P<provider>.+) hold released"),
        lambda m: gettext("Failover of generation #%(pk)s: %(provider)s hold released") % m,
    ),
    (
        re.compile(r"Failover of generation #(?P<pk>\d+): (?P<provider>.+) price held"),
        lambda m: gettext("Failover of generation #%(pk)s: %(provider)s price held") % m,
    ),
    (re.compile(r"Password set in the admin\."), lambda m: gettext("Password set in the admin.")),
    (
        re.compile(r"Password disabled in the admin\."),
        lambda m: gettext("Password disabled in the admin."),
    ),
    (
        re.compile(r"Account created in the admin\."),
        lambda m: gettext("Account created in the admin."),
    ),
    (
        re.compile(r"Granted from the command line"),
        lambda m: gettext("Granted from the command line"),
    ),
    (re.compile(r"Demo credits"), lambda m: gettext("Demo credits")),
]


def memo_text(memo: str) -> tuple[str, bool]:
    """Return a ledger or audit memo for a page, and whether it is the portal's own words.

    The memos the portal writes are stored in English (stored text must not depend on who
    was looking when it was written) and shown in the active language; a memo a person
    typed ("monthly budget") comes back as written, with False, so the page can mark it as
    not to be translated (docs/i18n.md "What is not translated, and why").
    """
    for pattern, text in _MEMOS:
        match = pattern.fullmatch(memo)
        if match:
            return text(match.groupdict()), True
    return memo, False


# What the portal itself writes into ``Generation.fail_message`` and
# ``ProviderAlert.message``: the messages of services.sweeper, services.console,
# services.owner_actions and services.lifecycle, ``providers.fields.GENERIC_FAIL_MESSAGE``
# and the provider errors' ``default_message`` (providers/errors.py, providers/http.py).
# They are stored in English and translated when shown; anything else there is the
# provider's own words, shown as sent (docs/i18n.md "What is not translated, and why").
PORTAL_MESSAGES = frozenset(
    {
        gettext_noop("No final answer came from the video service in time; refunded."),
        gettext_noop("The job could not be sent to the video service; refunded."),
        gettext_noop("Canceled by a manager before it was sent; the credits were returned."),
        gettext_noop("Stopped by a manager; the reserved credits were returned."),
        gettext_noop("Canceled before it was sent; the credits were returned."),
        gettext_noop(
            "Waiting: the video service refused the portal's account; an administrator has "
            "been alerted. Your credits stay reserved and are returned if it cannot run."
        ),
        gettext_noop("The video service of this job is no longer configured; refunded."),
        gettext_noop("The video service says this task does not exist; refunded."),
        gettext_noop("The generation failed."),
        gettext_noop("The video service could not generate this video."),
        gettext_noop("The file could not be downloaded."),
        gettext_noop("The file was refused."),
        gettext_noop(
            "The video service refused the portal's credentials. An administrator must check them."
        ),
        gettext_noop("The video service account is out of funds. An administrator must top it up."),
        gettext_noop("Could not reach the video service."),
        gettext_noop("The video service returned an error."),
        gettext_noop("The video service does not know this model or task."),
        gettext_noop("The connection to the video service dropped before it answered."),
        gettext_noop("The video service is busy right now."),
        gettext_noop("The video service rejected the request."),
        gettext_noop("The video service sent an answer that could not be understood."),
        gettext_noop("The video service had a temporary error."),
        gettext_noop(
            "The video service key reached its spending limit. An administrator must raise it."
        ),
        gettext_noop("The video service does not know this task."),
        gettext_noop("The video service address is misconfigured."),
        gettext_noop(
            "The video service refused this job (HTTP 403) although the portal's access works: "
            "the request may break the service's content policy, or the key may not be allowed "
            "this model or route. Your credits were returned."
        ),
        gettext_noop(
            "A worker stopped answering while it sent jobs to the video service; they wait for "
            "its callback and are refunded if none comes."
        ),
        gettext_noop(
            "The sweep could not settle a generation; it is tried again at the next sweep. "
            "See the alert's detail and the server log."
        ),
    }
)
# providers.errors.provider_error quotes the provider after its own message.
_QUOTE = " The service said: "


def message_parts(message: str) -> tuple[str, str]:
    """Split a stored job or alert message into the portal's words and the provider's.

    Returns:
        ``(ours, theirs)``: the portal's part in the active language ("" if none), and the
        provider's own words as sent ("" if none). A message the portal does not know is
        all the provider's.
    """
    if message in PORTAL_MESSAGES:
        return gettext(message), ""
    ours, quote, theirs = message.partition(_QUOTE)
    if quote and ours in PORTAL_MESSAGES:
        return gettext("%(message)s The service said:") % {"message": gettext(ours)}, theirs
    return "", message
