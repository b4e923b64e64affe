"""The versioned price table: credits per second by provider, model, resolution and sound.

docs/prices.md "Default price table". A price change never edits a row: it publishes a new
``PriceTable`` version (``services.pricing.price_table_publish``); each generation keeps the
version it was priced with, so old jobs are never re-priced.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..catalog import Provider


class PriceTableQuerySet(models.QuerySet):
    def current(self) -> "PriceTable":
        """Return the newest version. Raises ``PriceTable.DoesNotExist`` if there is none."""
        return self.latest("version")


class PriceTable(models.Model):
    """One published version of the whole price table."""

    version = models.PositiveIntegerField(verbose_name=_("version"), unique=True)
    note = models.CharField(verbose_name=_("note"), max_length=255, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = PriceTableQuerySet.as_manager()

    class Meta:
        verbose_name = _("price table")
        verbose_name_plural = _("price tables")
        ordering = ["-version"]
        permissions = [("publish_pricetable", _("Can publish a new price table version"))]

    def __str__(self) -> str:
        return gettext("Price table v%(version)s") % {"version": self.version}


class Price(models.Model):
    """The price of one second of requested video, in whole credits (1 credit = US$0.001)."""

    table = models.ForeignKey(
        PriceTable, verbose_name=_("table"), on_delete=models.PROTECT, related_name="prices"
    )
    provider = models.CharField(verbose_name=_("provider"), max_length=20, choices=Provider.choices)
    model_id = models.CharField(verbose_name=_("model ID"), max_length=64)
    resolution = models.CharField(verbose_name=_("resolution"), max_length=8)
    sound = models.BooleanField(verbose_name=_("sound"))
    credits_per_second = models.PositiveIntegerField(verbose_name=_("credits per second"))

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["provider", "model_id", "resolution", "sound"]
        constraints = [
            models.UniqueConstraint(
                fields=["table", "provider", "model_id", "resolution", "sound"],
                name="price_unique_per_table",
            ),
            models.CheckConstraint(
                condition=models.Q(credits_per_second__gt=0), name="price_positive"
            ),
        ]

    def __str__(self) -> str:
        sound = "sound on" if self.sound else "sound off"
        return f"{self.model_id} {self.resolution} {sound}: {self.credits_per_second}/s"
