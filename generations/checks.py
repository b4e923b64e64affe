"""Django system checks of the portal's configuration (docs/deploy.md "Environment").

``seedance.W002`` (``manage.py check --deploy``): with ``DEBUG`` off and no ``EMAIL_URL``
no e-mail is sent (``generations.mail.NoMailServerBackend``): invitations, password resets
and alerts fail and are logged.

``seedance.W001`` (``manage.py check --deploy``): with ``DEBUG`` off and no
``APIXO_API_KEY`` the portal silently talks to its built-in provider simulator, which makes
no real video: members are charged credits for test clips. A deployment that means it (a
demo, a load test) says so with ``SIMULATOR_IN_PRODUCTION=true``. ``/readyz`` shows the same
finding in its ``provider`` check (``generations.health.check_provider``).
"""

from django.conf import settings
from django.core.checks import Warning, register

SIMULATOR_IN_PRODUCTION = "seedance.W001"
NO_MAIL_SERVER = "seedance.W002"


def simulator_in_production() -> bool:
    """Return True when DEBUG is off, the simulator answers for APIXO, and nobody opted in."""
    return (
        not settings.DEBUG
        and settings.USE_SIMULATOR
        and not getattr(settings, "SIMULATOR_IN_PRODUCTION", False)
    )


@register("seedance", deploy=True)
def check_simulator_in_production(app_configs=None, **kwargs) -> list[Warning]:
    """Warn when production runs on the provider simulator (``seedance.W001``).

    Returns:
        One ``Warning`` when ``simulator_in_production()``, else none.
    """
    if not simulator_in_production():
        return []
    return [
        Warning(
            "DEBUG is off but APIXO_API_KEY is not set: the portal talks to the built-in "
            "provider simulator, which makes no real video.",
            hint="Set APIXO_API_KEY (and AIVIDEOAPI_API_KEY if you use it); or, for a demo "
            "or a load test on purpose, SIMULATOR_IN_PRODUCTION=true.",
            id=SIMULATOR_IN_PRODUCTION,
        )
    ]


@register("seedance", deploy=True)
def check_mail_server(app_configs=None, **kwargs) -> list[Warning]:
    """Warn when production has no mail server (``seedance.W002``).

    Returns:
        One ``Warning`` when ``EMAIL_CONFIGURED`` is false, else none.
    """
    if getattr(settings, "EMAIL_CONFIGURED", True):
        return []
    from .mail import NO_MAIL_SERVER as message

    return [
        Warning(
            message,
            hint="Invitations, password resets and alerts fail and are logged until it is set.",
            id=NO_MAIL_SERVER,
        )
    ]
