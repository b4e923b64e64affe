"""The provider accounts' balances as last read by a worker (``services.provider_balances``).

No network here: a page shows the stored reading and its age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from .. import providers
from ..catalog import Provider
from ..models import ProviderBalanceReading


@dataclass(frozen=True)
class ProviderBalance:
    """One provider account's balance in US$ (and in its own credits, when it counts in
    credits), or why it is unavailable, as of ``checked_at`` (None: never read yet)."""

    provider: str
    usd: Decimal | None
    threshold_usd: Decimal
    checked_at: datetime | None
    credits: int | None = None
    error: str = ""
    stale: bool = True

    @property
    def label(self) -> str:
        return Provider(self.provider).label if self.provider in Provider.values else self.provider

    @property
    def available(self) -> bool:
        return self.usd is not None

    @property
    def checked(self) -> bool:
        return self.checked_at is not None

    @property
    def low(self) -> bool:
        """Return True when the balance is known and below the warning threshold."""
        return self.usd is not None and self.usd < self.threshold_usd


def provider_balances() -> list[ProviderBalance]:
    """Return the last reading of every configured provider account, in
    ``providers.configured_providers()`` order.

    A provider never read yet has ``checked_at`` None; a reading older than
    ``services.provider_balances.READING_MAX_AGE`` is ``stale`` (the caller may ask for a
    refresh). The warning threshold is ``settings.PROVIDER_BALANCE_WARNING_USD`` (US$) for
    every provider. One query.
    """
    from ..services.provider_balances import READING_MAX_AGE

    threshold = Decimal(str(getattr(settings, "PROVIDER_BALANCE_WARNING_USD", 20)))
    names = providers.configured_providers()
    readings = ProviderBalanceReading.objects.in_bulk(list(names))
    fresh_after = timezone.now() - READING_MAX_AGE
    balances = []
    for name in names:
        reading = readings.get(name)
        if reading is None:
            balances.append(
                ProviderBalance(provider=name, usd=None, threshold_usd=threshold, checked_at=None)
            )
            continue
        balances.append(
            ProviderBalance(
                provider=name,
                usd=reading.usd,
                threshold_usd=threshold,
                checked_at=reading.checked_at,
                credits=reading.credits,
                error=reading.error,
                stale=reading.checked_at < fresh_after,
            )
        )
    return balances
