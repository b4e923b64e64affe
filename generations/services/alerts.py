"""Provider alerts: record trouble only an operator can fix, tell the managers, resolve it.

docs/providers/apixo.md "HTTP errors": 402 (no balance on the provider account) is "no retry (alert
an admin)"; 401 and 403 (key invalid or without access) need an operator too. Those also pause
the provider (``services.circuit``), whose successful probe resolves them; a 400 on a status
read and a provider removed from the configuration are alerted too. The errors carry
``alert_admin`` (``providers.errors``). Managers see unresolved alerts as a banner on every page
(``context_processors.provider_alerts``) and get an e-mail at most once an hour per kind.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from ..i18n import language_of
from ..models import AuditEntry, ProviderAlert, User
from ..providers.errors import ProviderBalanceError, ProviderError
from ..queue import enqueue
from ..selectors.users import manager_emails, managers
from .audit import audit_record

RESOLVE_PERMISSION = "generations.resolve_provideralert"

logger = logging.getLogger(__name__)

ALERT_EMAIL_INTERVAL = timedelta(hours=1)
_DETAIL_CHARS = 1000


def alert_kind(error: ProviderError) -> str:
    """Return the alert kind of ``error``: ``http_<status>``, else its code.

    A balance error is ``http_402`` whatever the status it came with (APIXO may answer
    400 "Insufficient credits", see ``providers.apixo._envelope_error``).
    """
    if isinstance(error, ProviderBalanceError):
        return "http_402"
    if error.status:
        return f"http_{error.status}"
    return error.code[:40]


def provider_alert_raise(*, provider: str, error: ProviderError) -> ProviderAlert:
    """Record that ``provider`` answered with ``error``; e-mail managers once an hour per kind.

    The unresolved alert of the same provider and kind is locked and counted up (one row
    per kind while it lasts: ``provider_alert_one_open_per_kind``); otherwise a new one is
    created. The e-mail is claimed on the locked row (no e-mail of this kind in the last
    ``ALERT_EMAIL_INTERVAL``, resolved alerts included) and sent after commit, outside the
    transaction (docs/style.md practice 3); a failing mail server is logged, not raised.

    Args:
        provider: e.g. ``apixo``.
        error: the error the provider call raised (normally one with ``alert_admin``).

    Returns:
        The unresolved alert, counted.
    """
    kind = alert_kind(error)
    now = timezone.now()
    detail = " ".join(error.detail.split())[:_DETAIL_CHARS]
    with transaction.atomic():
        alert, created = _locked_unresolved(provider=provider, kind=kind, now=now)
        if created:
            alert.message, alert.detail = error.message, detail
        else:
            alert.count += 1
            alert.last_seen = now
            alert.message, alert.detail = error.message, detail or alert.detail
        recent = ProviderAlert.objects.filter(
            provider=provider, kind=kind, emailed_at__gt=now - ALERT_EMAIL_INTERVAL
        ).exists()
        if not recent:
            alert.emailed_at = now
            alert_id = alert.pk
            # Sent by a queued task, never inside the request or poll that raised the alert.
            transaction.on_commit(
                lambda: enqueue(
                    "email_provider_alert", alert_id, group="notify", name=f"alert-{alert_id}"
                ),
                robust=True,
            )
        alert.save()
    logger.warning("Provider alert %s %s (#%s): %s", provider, kind, alert.count, error.message)
    return alert


def _locked_unresolved(*, provider: str, kind: str, now) -> tuple[ProviderAlert, bool]:
    """Return the unresolved alert of ``provider``/``kind`` locked FOR UPDATE, creating it."""
    unresolved = ProviderAlert.objects.unresolved().select_for_update()
    alert = unresolved.filter(provider=provider, kind=kind).first()
    if alert is not None:
        return alert, False
    try:
        with transaction.atomic():
            alert = ProviderAlert.objects.create(
                provider=provider, kind=kind, first_seen=now, last_seen=now, count=1
            )
        return alert, True
    except IntegrityError:
        # Another worker created it first (the partial unique constraint decided).
        return unresolved.get(provider=provider, kind=kind), False


def provider_alert_email(*, alert_id: int) -> None:
    """E-mail the alert to every active manager with an e-mail address.

    Runs in a queued task (``tasks.email_provider_alert``), enqueued when the alert is
    raised or seen again after ``ALERT_EMAIL_INTERVAL``: a slow or broken mail server never
    delays a web request, a poll or a webhook answer.

    Args:
        alert_id: the ``ProviderAlert``'s primary key.

    Raises:
        ProviderAlert.DoesNotExist: no such alert.
    """
    alert = ProviderAlert.objects.get(pk=alert_id)
    recipients = manager_emails()
    if not recipients:
        logger.warning("No manager has an e-mail address for provider alert %s", alert_id)
        return
    link = ""
    if settings.PUBLIC_BASE_URL:
        path = reverse("admin:generations_provideralert_changelist")
        link = f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"
    # One message per language, each to the managers who read it (docs/i18n.md "E-mails").
    # The alert's message and the provider's words stay as recorded.
    by_language: dict[str, list[str]] = {}
    for manager in managers().exclude(email="").order_by("email"):
        by_language.setdefault(language_of(manager), []).append(manager.email)
    for language, emails in by_language.items():
        with translation.override(language):
            send_mail(
                subject=f"[Seedance Studio] {alert.get_provider_display()}: {alert.message}"[:200],
                message=_provider_alert_body(alert, link),
                from_email=None,
                recipient_list=sorted(set(emails)),
            )


def _provider_alert_body(alert: ProviderAlert, link: str) -> str:
    """Return the alert e-mail's text in the active language."""
    body = gettext(
        "%(message)s\n\nProvider: %(provider)s\nKind: %(kind)s\nFirst seen: %(first_seen)s\n"
        "Provider said: %(detail)s\n\n"
        "Calls to this provider are paused for credential and balance refusals: its jobs "
        "keep their reserved credits and resume by themselves once a probe shows the "
        "account works again, or expire with a refund at their deadline. At most one "
        "e-mail an hour is sent per kind of alert."
    ) % {
        "message": alert.message,
        "provider": alert.get_provider_display(),
        "kind": alert.kind,
        "first_seen": f"{alert.first_seen:%Y-%m-%d %H:%M:%S %Z}",
        "detail": alert.detail or "-",
    }
    if link:
        body += "\n\n" + gettext("Alerts: %(url)s") % {"url": link}
    return body


def provider_alert_resolve(*, alert_id: int, actor: User | None) -> bool:
    """Mark an alert resolved (a manager fixed the cause or dismissed it), audited.

    A conditional UPDATE: resolving twice, or concurrently, changes nothing the second time
    and records nothing. The same trouble coming back afterwards opens a new alert.

    Returns:
        True if this call resolved it.

    Raises:
        PermissionDenied: ``actor`` lacks ``generations.resolve_provideralert`` (issue #12
            item 6; the admin and the banner check it too). None: the system.
    """
    if actor is not None and not actor.has_perm(RESOLVE_PERMISSION):
        raise PermissionDenied("You may not resolve provider alerts.")
    now = timezone.now()
    with transaction.atomic():
        resolved = (
            ProviderAlert.objects.unresolved()
            .filter(pk=alert_id)
            .update(resolved_at=now, resolved_by=actor)
        )
        if resolved:
            alert = ProviderAlert.objects.get(pk=alert_id)
            audit_record(
                actor=actor,
                action=AuditEntry.Action.ALERT_RESOLVE,
                subject=f"Provider alert #{alert.pk}: {alert.get_provider_display()} {alert.kind}",
                before={"resolved": False, "count": alert.count},
                after={"resolved": True},
                memo=alert.message,
            )
    return bool(resolved)
