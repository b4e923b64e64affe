"""Reading the provider accounts' balances, in a worker, never in a page's request.

The team spend page shows each configured provider account's balance (issue #7). Asking the
provider takes up to its timeouts (seconds; longer when it is down), so a page reads the last
reading from the database (``selectors.balances``) and, when it is older than
``READING_MAX_AGE``, asks for a fresh one here: one ``refresh_provider_balances`` task, queued at
most once per ``READING_MAX_AGE`` (a cache key; per node without Redis). The task reads every
configured provider and writes one ``ProviderBalanceReading`` row each, visible to every node.
"""

import logging
from datetime import timedelta
from decimal import Decimal

from django.core.cache import cache
from django.utils import timezone

from .. import providers
from ..catalog import Provider
from ..models import ProviderBalanceReading
from ..providers.aivideoapi import USD_PER_PROVIDER_CREDIT
from ..queue import enqueue

logger = logging.getLogger(__name__)

# A reading older than this is refreshed when a page shows it.
READING_MAX_AGE = timedelta(seconds=60)
REFRESH_REQUESTED_KEY = "provider-balances:refresh-requested"


def provider_balances_refresh() -> int:
    """Ask every configured provider for its account balance and store each answer.

    APIXO: ``GET /apikeys/current-balance``, US$ (docs/providers/apixo.md "Balance endpoint").
    aivideoapi.ai: ``GET /credits``, integer provider credits worth ``USD_PER_PROVIDER_CREDIT``
    (US$0.005) each (docs/providers/aivideoapi.md "Pricing"). A ``ProviderError`` is stored as
    that provider's ``error`` (its user message), so one provider being down neither hides the
    others nor is retried by every page load.

    Returns:
        How many providers were read (with or without success).
    """
    now = timezone.now()
    names = providers.configured_providers()
    for name in names:
        usd, credits, error = None, None, ""
        try:
            usd, credits = _fetch_balance(name)
        except providers.ProviderError as exc:
            logger.warning("%s balance unavailable: %r", name, exc)
            error = exc.message
        ProviderBalanceReading.objects.update_or_create(
            provider=name,
            defaults={"usd": usd, "credits": credits, "error": error, "checked_at": now},
        )
    return len(names)


def provider_balances_refresh_request() -> bool:
    """Queue one ``refresh_provider_balances`` task unless one was queued recently.

    Returns:
        True if a task was queued; False if one was already asked for within
        ``READING_MAX_AGE``.
    """
    if not cache.add(REFRESH_REQUESTED_KEY, True, READING_MAX_AGE.total_seconds()):
        return False
    enqueue("refresh_provider_balances", group="balances", name="refresh-provider-balances")
    return True


def _fetch_balance(name: str) -> tuple[Decimal, int | None]:
    """Ask provider ``name`` for its balance: ``(US$, provider credits or None)``.

    Raises:
        ProviderError: the provider did not answer with a balance.
    """
    client = providers.get_provider(name)
    if name == Provider.AIVIDEOAPI:
        # One call for both figures: the US$ value is the credits at the published rate.
        credits = client.account_credits()
        return credits * USD_PER_PROVIDER_CREDIT, credits
    return client.account_balance(), None
