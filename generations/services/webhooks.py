"""Outbound webhooks: signed events to members' endpoints when their jobs end.

docs/api.md "Webhooks". When a job ends (``tasks.notify_generation_finished``, queued once
its video is stored, or once it failed, expired or was canceled), one delivery is made per
active endpoint of the owner that wants the event (a unique constraint makes a repeated notice
add nothing), and queued after commit. Each attempt POSTs the event, signed by the Standard
Webhooks scheme:

- ``webhook-id``: the delivery's message id (the same on every attempt);
- ``webhook-timestamp``: the attempt's Unix time in seconds;
- ``webhook-signature``: ``v1,`` and base64 of HMAC-SHA256 under the endpoint's secret
  (the base64 after ``whsec_``) of ``"<id>.<timestamp>.<body>"``.

A 2xx answer delivers it. Anything else (another status, a redirect, a timeout, no
connection, an address the guard refuses) is retried with backoff for about a day
(``RETRY_DELAYS``); the schedule ``generations-webhooks`` picks up due retries every minute.
An endpoint whose attempts failed ``WEBHOOK_DISABLE_AFTER_FAILURES`` times in a row over at
least ``WEBHOOK_DISABLE_AFTER_HOURS`` is disabled, its pending deliveries given up, and its
owner e-mailed (a queued task, after commit). Targets pass the download guard
(``providers.addresses``): public http(s) addresses only, re-checked on every attempt, as DNS
may change; ``WEBHOOK_ALLOW_LOOPBACK`` lets tests use 127.0.0.1.

Every attempt is claimed with a conditional UPDATE (docs/style.md "Claiming work"), and no
transaction is open during the HTTP request (docs/style.md practice 3).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from ..i18n import language_of
from ..models import Generation, User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..models.api import WEBHOOK_SECRET_PREFIX
from ..providers.addresses import resolve_target
from ..providers.errors import DownloadError, DownloadRefused
from ..providers.http import post_guarded
from ..queue import enqueue

logger = logging.getLogger(__name__)
State = Generation.State

# Waits after failed attempts 1, 2, ...: 8 attempts over about 24 hours (Standard Webhooks
# senders retry on a similar schedule), each wait up to 10% longer at random.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=6, minutes=30),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A claimed attempt is re-driven after this if its worker died.
ATTEMPT_LEASE = timedelta(seconds=90)
MAX_ENDPOINTS_PER_MEMBER = 10
_EVENT_OF_STATE = {
    State.SUCCEEDED: WebhookEvent.SUCCEEDED,
    State.FAILED: WebhookEvent.FAILED,
    State.EXPIRED: WebhookEvent.FAILED,
    State.CANCELED: WebhookEvent.CANCELED,
}


class WebhookTargetRefused(ValueError):
    """The URL may not receive webhooks (not public http(s)); the message says why."""


class WebhookLimitReached(ValueError):
    """The member already has ``MAX_ENDPOINTS_PER_MEMBER`` endpoints."""


def _allow_loopback(url: str) -> frozenset[str]:
    if not settings.WEBHOOK_ALLOW_LOOPBACK:
        return frozenset()
    return frozenset({(urlsplit(url).hostname or "").lower()})


def webhook_target_check(url: str) -> None:
    """Refuse a webhook URL that is not public http(s), by the download guard's rules.

    Raises:
        WebhookTargetRefused: bad scheme or URL, a private, loopback or link-local address
            (loopback allowed with ``WEBHOOK_ALLOW_LOOPBACK``), or a host name that does not
            resolve.
    """
    try:
        resolve_target(url, allow_loopback_hosts=_allow_loopback(url))
    except DownloadRefused as error:
        raise WebhookTargetRefused(error.message) from error
    except DownloadError as error:
        raise WebhookTargetRefused(
            gettext("The host name in this URL could not be found.")
        ) from error


def webhook_endpoint_create(
    *, user: User, url: str, events: list[str], description: str = ""
) -> WebhookEndpoint:
    """Register an endpoint of ``user`` for ``events``; its secret is shown once.

    Args:
        user: the member whose jobs it hears about.
        url: a public http(s) URL (checked again here).
        events: ``WebhookEvent`` values, at least one.
        description: a note for the member, up to 100 characters.

    Raises:
        WebhookTargetRefused: the URL is not allowed.
        WebhookLimitReached: the member has ``MAX_ENDPOINTS_PER_MEMBER`` endpoints already.
        ValueError: no event, or an unknown one.
    """
    chosen = sorted(set(events))
    if not chosen or not set(chosen) <= set(WebhookEvent.values):
        raise ValueError(gettext("Choose at least one of the events."))
    webhook_target_check(url)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one at a time per member
        if WebhookEndpoint.objects.filter(user=user).count() >= MAX_ENDPOINTS_PER_MEMBER:
            raise WebhookLimitReached(
                gettext("You can have at most %(count)d endpoints.")
                % {"count": MAX_ENDPOINTS_PER_MEMBER}
            )
        return WebhookEndpoint.objects.create(
            user=user, url=url, events=chosen, description=description[:100]
        )


def webhook_endpoint_delete(*, user: User, endpoint_id: int) -> bool:
    """Delete ``user``'s endpoint with its delivery log; False if there is no such endpoint."""
    deleted, _ = WebhookEndpoint.objects.filter(user=user, pk=endpoint_id).delete()
    return bool(deleted)


def webhook_endpoint_enable(*, user: User, endpoint_id: int) -> bool:
    """Turn ``user``'s disabled endpoint on again with a clean failure count.

    Deliveries given up while it was off stay given up. Returns False if there is no such
    disabled endpoint.
    """
    return bool(
        WebhookEndpoint.objects.filter(user=user, pk=endpoint_id, is_active=False).update(
            is_active=True,
            disabled_at=None,
            disabled_reason="",
            failure_count=0,
            failing_since=None,
        )
    )


def webhook_sign(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value of a message (Standard Webhooks ``v1``).

    Args:
        secret: ``whsec_`` and the base64 key.
        message_id: the ``webhook-id``.
        timestamp: the ``webhook-timestamp``, Unix seconds.
        body: the exact bytes sent.
    """
    key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _portal_base_url() -> str:
    base = settings.PUBLIC_BASE_URL or f"http://{settings.PORTAL_ADDRESS}"
    return base.rstrip("/")


def webhook_events_create(*, generation_id: int) -> list[int]:
    """Make the deliveries announcing that a job ended, and queue them after commit.

    One per active endpoint of the owner subscribed to the job's event; a second call for the
    same job adds nothing (unique endpoint, job and event). Jobs not final, or succeeded
    without a stored video yet, announce nothing.

    Returns:
        The ids of the deliveries made by this call.
    """
    from ..api.schemas import generation_data  # the API's own shape of a job

    generation = Generation.objects.prefetch_related("inputs").get(pk=generation_id)
    event = _EVENT_OF_STATE.get(generation.state)
    if event is None or (event == WebhookEvent.SUCCEEDED and not generation.has_video):
        return []
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(user_id=generation.user_id, is_active=True)
        if event in e.events
    ]
    if not endpoints:
        return []
    now = timezone.now()
    data = generation_data(generation, base_url=_portal_base_url())
    payload = json.loads(
        json.dumps({"type": event, "timestamp": now, "data": data}, cls=DjangoJSONEncoder)
    )
    made = []
    for endpoint in endpoints:
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    endpoint=endpoint,
                    generation=generation,
                    event=event,
                    message_id=f"msg_{uuid.uuid4().hex}",
                    payload=payload,
                    next_attempt_at=now,
                )
        except IntegrityError:
            continue  # announced already
        made.append(delivery.pk)
    for pk in made:
        transaction.on_commit(lambda pk=pk: _enqueue_delivery(pk))
    return made


def _enqueue_delivery(delivery_id: int) -> None:
    enqueue("deliver_webhook", delivery_id, group="webhooks", name=f"webhook-{delivery_id}")


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Queue the attempts that are due (retries, and first attempts whose task was lost).

    Returns:
        The ids queued. Each attempt claims its delivery itself, so queuing one twice sends
        it once.
    """
    now = now or timezone.now()
    ids = list(
        WebhookDelivery.objects.filter(
            state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        _enqueue_delivery(pk)
    return ids


def webhook_deliver(*, delivery_id: int) -> str:
    """Make one attempt at a due delivery and record how it went.

    Returns:
        The delivery's state afterwards ("succeeded", "pending" or "failed"), or "" when it
        was not due (another worker has it, or it is settled).
    """
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id,
        state=WebhookDelivery.State.PENDING,
        next_attempt_at__lte=now,
        endpoint__is_active=True,
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + ATTEMPT_LEASE, last_attempt_at=now)
    if not claimed:
        return ""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "SeedanceStudio-Webhooks/1.0",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_sign(
            secret=endpoint.secret, message_id=delivery.message_id, timestamp=timestamp, body=body
        ),
    }
    status, error = None, ""
    try:
        result = post_guarded(
            endpoint.url,
            body=body,
            headers=headers,
            timeout_total_s=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_loopback_hosts=_allow_loopback(endpoint.url),
        )
        status = result.status
        if not 200 <= status <= 299:
            error = f"HTTP {status}" + (
                " (redirects are not followed)" if 300 <= status < 400 else ""
            )
    except (DownloadRefused, DownloadError) as exc:
        error = exc.message
    if not error:
        return _delivered(delivery, status=status)
    return _attempt_failed(delivery, status=status, error=error)


def _delivered(delivery: WebhookDelivery, *, status: int | None) -> str:
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.SUCCEEDED,
        delivered_at=now,
        next_attempt_at=None,
        last_status=status,
        last_error="",
    )
    WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(
        failure_count=0, failing_since=None
    )
    return WebhookDelivery.State.SUCCEEDED


def _attempt_failed(delivery: WebhookDelivery, *, status: int | None, error: str) -> str:
    """Schedule the next attempt (or give up), and count the failure against the endpoint."""
    now = timezone.now()
    if delivery.attempts >= MAX_ATTEMPTS:
        state, next_at = WebhookDelivery.State.FAILED, None
    else:
        delay = RETRY_DELAYS[delivery.attempts - 1]
        state, next_at = WebhookDelivery.State.PENDING, now + delay * (1 + random.random() / 10)
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=state, next_attempt_at=next_at, last_status=status, last_error=error[:255]
        )
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        endpoint.failure_count += 1
        endpoint.failing_since = endpoint.failing_since or now
        fields = ["failure_count", "failing_since"]
        limit_hours = timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
        if (
            endpoint.is_active
            and endpoint.failure_count >= settings.WEBHOOK_DISABLE_AFTER_FAILURES
            and now - endpoint.failing_since >= limit_hours
        ):
            endpoint.is_active = False
            endpoint.disabled_at = now
            endpoint.disabled_reason = (
                f"Disabled after {endpoint.failure_count} failed attempts in a row; last: {error}"
            )[:255]
            fields += ["is_active", "disabled_at", "disabled_reason"]
            WebhookDelivery.objects.filter(
                endpoint=endpoint, state=WebhookDelivery.State.PENDING
            ).update(
                state=WebhookDelivery.State.FAILED,
                next_attempt_at=None,
                last_error="Endpoint disabled after repeated failures.",
            )
            state = WebhookDelivery.State.FAILED
            transaction.on_commit(
                lambda: enqueue(
                    "email_webhook_disabled",
                    endpoint.pk,
                    group="notify",
                    name=f"webhook-disabled-{endpoint.pk}",
                )
            )
        endpoint.save(update_fields=fields)
    logger.info("Webhook delivery %s failed (%s): %s", delivery.pk, state, error)
    return state


def webhook_disabled_notify(*, endpoint_id: int) -> bool:
    """E-mail the owner that their endpoint was disabled after repeated failures.

    Returns:
        True if a message was sent.
    """
    endpoint = WebhookEndpoint.objects.select_related("user").filter(pk=endpoint_id).first()
    if endpoint is None or endpoint.is_active or not endpoint.user.email:
        return False
    context = {
        "endpoint": endpoint,
        "profile_url": _portal_base_url() + reverse("profile"),
    }
    with translation.override(language_of(endpoint.user)):  # docs/i18n.md "E-mails"
        subject = render_to_string("emails/webhook_disabled_subject.txt", context).strip()
        body = render_to_string("emails/webhook_disabled.txt", context)
    try:
        send_mail(subject, body, None, [endpoint.user.email])
    except OSError:
        logger.exception("Could not e-mail %s about webhook %s", endpoint.user_id, endpoint.pk)
        return False
    return True
