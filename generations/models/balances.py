"""The last known balance of each provider account, shared by every node through the database."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..catalog import Provider


class ProviderBalanceReading(models.Model):
    """One provider account's balance as last read by a worker, or why it could not be read.

    Written only by ``services.provider_balances.provider_balances_refresh`` (a worker task);
    pages read it (``selectors.balances``) and never call the provider themselves.
    """

    provider = models.CharField(
        verbose_name=_("provider"), max_length=20, choices=Provider.choices, primary_key=True
    )
    usd = models.DecimalField(
        verbose_name=_("USD"),
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("US dollars."),
    )
    credits = models.BigIntegerField(
        verbose_name=_("credits"),
        null=True,
        blank=True,
        help_text=_("The provider's own credits, when it counts in them."),
    )
    error = models.TextField(
        verbose_name=_("error"),
        blank=True,
        help_text=_("Why the last read failed; empty if it worked."),
    )
    checked_at = models.DateTimeField(verbose_name=_("checked at"))

    class Meta:
        verbose_name = _("provider balance reading")
        verbose_name_plural = _("provider balance readings")

    def __str__(self) -> str:
        return f"{self.get_provider_display()}: {self.usd if self.error == '' else self.error}"
