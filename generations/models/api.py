"""The REST API's rows: personal access tokens, idempotency keys, outbound webhooks.

docs/api.md: a member's script authenticates with a personal access token (only its SHA-256 is
stored); ``Idempotency-Key`` binds a key to the first body it came with; members register
webhook endpoints that receive signed events (Standard Webhooks) when their jobs end, and each
event's delivery is logged with its attempts.
"""

import base64
import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Personal access tokens start with this, so a leaked one is recognisable (secret scanners).
TOKEN_PREFIX = "sds_"
# Standard Webhooks secrets are "whsec_" and base64 of 24 to 64 random bytes.
WEBHOOK_SECRET_PREFIX = "whsec_"


def api_token_digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, *, now=None) -> "ApiTokenQuerySet":
        """Return the tokens that authenticate now: not revoked, not expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A member's personal access token for ``/api/v1/`` (``Authorization: Bearer``).

    The token itself (``sds_`` and 256 random bits, URL-safe) is shown once when it is made;
    only its SHA-256 digest is kept, so a copy of the database cannot be used to call the
    API. ``prefix`` (its first characters) tells the member which token a row is. A revoked
    or expired token stops working at once: every request looks the digest up afresh.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(
        verbose_name=_("name"),
        max_length=100,
        help_text=_("What the token is for, e.g. 'batch bot'."),
    )
    token_hash = models.CharField(verbose_name=_("token hash"), max_length=64, unique=True)
    prefix = models.CharField(
        verbose_name=_("prefix"), max_length=16, help_text=_("The token's first characters.")
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(verbose_name=_("expires at"), null=True, blank=True)
    last_used_at = models.DateTimeField(verbose_name=_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(verbose_name=_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user_id}"

    @staticmethod
    def new_token() -> str:
        """Return a fresh token: ``sds_`` and 256 random bits, URL-safe."""
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    @property
    def status(self) -> str:
        """Return "revoked", "expired" or "active"."""
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class ApiIdempotencyKey(models.Model):
    """An ``Idempotency-Key`` a member sent with ``POST /api/v1/generations``.

    The key is bound to the first request body it came with (``fingerprint``, SHA-256 of the
    canonical body and of each uploaded file): the same key with another body is refused. The
    unique constraint decides between parallel requests, never a prior read. The job itself is
    made once through ``Generation.client_token`` (derived from the key), whose own unique
    constraint makes parallel creations one job with one hold.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(verbose_name=_("key"), max_length=255)
    fingerprint = models.CharField(verbose_name=_("fingerprint"), max_length=64)
    generation = models.ForeignKey(
        "generations.Generation",
        verbose_name=_("generation"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("API idempotency key")
        verbose_name_plural = _("API idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="api_idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"Idempotency-Key {self.key!r} of {self.user_id}"


class WebhookEvent(models.TextChoices):
    """The events a webhook endpoint may subscribe to (docs/api.md "Webhooks")."""

    SUCCEEDED = "generation.succeeded", _("A generation succeeded (its video is stored)")
    FAILED = "generation.failed", _("A generation failed or expired (credits returned)")
    CANCELED = "generation.canceled", _("A generation was canceled (credits returned)")


def _new_webhook_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookEndpoint(models.Model):
    """A member's URL that receives signed events about their own generations.

    ``secret`` signs every message (HMAC-SHA256, Standard Webhooks); it is shown once, when
    the endpoint is made, and kept here because signing needs it. ``failure_count`` counts
    failed attempts in a row since ``failing_since``; past the limits in settings
    (``WEBHOOK_DISABLE_AFTER_FAILURES`` and ``WEBHOOK_DISABLE_AFTER_HOURS``) the endpoint is
    disabled and its owner e-mailed.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
    )
    url = models.URLField(verbose_name=_("URL"), max_length=2000)
    events = models.JSONField(
        verbose_name=_("events"), default=list, help_text=_("WebhookEvent values.")
    )
    secret = models.CharField(verbose_name=_("secret"), max_length=100, default=_new_webhook_secret)
    description = models.CharField(verbose_name=_("description"), max_length=100, blank=True)
    is_active = models.BooleanField(verbose_name=_("enabled"), default=True)
    disabled_at = models.DateTimeField(verbose_name=_("disabled at"), null=True, blank=True)
    disabled_reason = models.CharField(
        verbose_name=_("disabled reason"), max_length=255, blank=True
    )
    failure_count = models.PositiveIntegerField(verbose_name=_("failure count"), default=0)
    failing_since = models.DateTimeField(verbose_name=_("failing since"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Webhook {self.url} of {self.user_id}"


class WebhookDelivery(models.Model):
    """One event for one endpoint: its message, and how delivering it went (the log).

    Made once per endpoint, generation and event (unique), so a repeated notice makes no
    second message. ``message_id`` is the ``webhook-id`` header, the same on every attempt,
    so the receiver can drop duplicates.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Gave up")

    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("endpoint"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    generation = models.ForeignKey(
        "generations.Generation",
        verbose_name=_("generation"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    event = models.CharField(verbose_name=_("event"), max_length=40, choices=WebhookEvent.choices)
    message_id = models.CharField(verbose_name=_("message ID"), max_length=40, unique=True)
    payload = models.JSONField(verbose_name=_("payload"))
    state = models.CharField(
        verbose_name=_("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveSmallIntegerField(verbose_name=_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(verbose_name=_("next attempt at"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(verbose_name=_("last attempt at"), null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(
        verbose_name=_("last status"), null=True, blank=True
    )
    last_error = models.CharField(verbose_name=_("last error"), max_length=255, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(verbose_name=_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "generation", "event"], name="webhook_delivery_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} #{self.generation_id} to {self.endpoint_id} ({self.state})"
