"""A user's own preferences: the language of their pages and e-mails (docs/i18n.md)."""

from django.conf import settings

from ..models import User


def user_language_set(*, user: User, language: str) -> bool:
    """Save ``language`` as ``user``'s preferred language; return whether it changed.

    Args:
        user: the signed-in user.
        language: a code from ``settings.LANGUAGES`` ("en", "ru"), or "" to follow the
            browser's ``Accept-Language`` again (docs/i18n.md "Choosing the language").

    Raises:
        ValueError: ``language`` is not one of ``settings.LANGUAGES`` nor "".
    """
    if language and language not in dict(settings.LANGUAGES):
        raise ValueError(f"Unknown language {language!r}.")
    changed = User.objects.filter(pk=user.pk).exclude(language=language).update(language=language)
    user.language = language
    return bool(changed)
