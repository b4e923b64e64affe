"""The last known balance of each provider account, shared by every node through the database."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..catalog import Provider


class ProviderBalanceReading(models.Model):
    """One provider account's balance as last read by a worker, or why it could not be read.

    Written only by ``services.provider_balances.provider_balances_refresh`` (a worker task);
    pages read it (``selectors.balances``) and never call the provider themselves.
    """

    provider = models.CharField(max_length=20, choices=Provider.choices, primary_key=True)
    usd = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True, help_text=_("US dollars.")
    )
    credits = models.BigIntegerField(
        null=True, blank=True, help_text=_("The provider's own credits, when it counts in them.")
    )
    error = models.TextField(
        blank=True, help_text=_("Why the last read failed; empty if it worked.")
    )
    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.get_provider_display()}: {self.usd if self.error == '' else self.error}"
