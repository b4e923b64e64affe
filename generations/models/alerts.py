"""Provider alerts: problems only an operator can fix (credentials, provider balance).

Raised by ``generations.services.alerts.provider_alert_raise`` when the provider answers 401,
402 or 403 (docs/providers/apixo.md "HTTP errors": "no (alert an admin)"); shown to managers as a
banner on every page until one of them resolves it, and e-mailed to them at most once an hour per
kind.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..catalog import Provider


class ProviderAlertQuerySet(models.QuerySet):
    def unresolved(self) -> "ProviderAlertQuerySet":
        """Return the alerts no manager has resolved yet."""
        return self.filter(resolved_at__isnull=True)


class ProviderAlert(models.Model):
    """One kind of provider trouble (e.g. ``http_401``), counted while it lasts.

    At most one unresolved alert exists per provider and kind (a partial unique constraint);
    a repeat of the same trouble bumps ``count`` and ``last_seen`` instead of adding rows.
    """

    provider = models.CharField(verbose_name=_("provider"), max_length=20, choices=Provider.choices)
    kind = models.CharField(
        verbose_name=_("kind"), max_length=40, help_text=_("e.g. http_401, http_402.")
    )
    message = models.TextField(verbose_name=_("message"), help_text=_("What managers read."))
    detail = models.TextField(
        verbose_name=_("detail"),
        blank=True,
        help_text=_("The provider's own words, for diagnosis."),
    )
    count = models.PositiveIntegerField(verbose_name=_("count"), default=1)
    first_seen = models.DateTimeField(verbose_name=_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(verbose_name=_("last seen"), default=timezone.now)
    emailed_at = models.DateTimeField(verbose_name=_("e-mailed at"), null=True, blank=True)
    resolved_at = models.DateTimeField(verbose_name=_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = ProviderAlertQuerySet.as_manager()

    class Meta:
        verbose_name = _("provider alert")
        verbose_name_plural = _("provider alerts")
        ordering = ["-last_seen", "-id"]
        permissions = [("resolve_provideralert", _("Can resolve provider alerts"))]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "kind"],
                condition=models.Q(resolved_at__isnull=True),
                name="provider_alert_one_open_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.kind}: {self.message}"

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None
