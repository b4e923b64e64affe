"""Provider account balances (issue #7): one per configured provider, APIXO in US$,
aivideoapi.ai in its credits and their US$ value, each cached on its own for 60 seconds."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from generations.providers import ProviderAuthError, ProviderConnectionError
from generations.selectors.reports import (
    PROVIDER_BALANCE_CACHE_KEY,
    PROVIDER_BALANCE_CACHE_SECONDS,
    provider_balances,
)


def by_name(balances) -> dict:
    return {balance.provider: balance for balance in balances}


def test_every_configured_provider_has_a_balance_in_order(fake_providers):
    apixo, aivideoapi = provider_balances()
    assert (apixo.provider, apixo.label) == ("apixo", "APIXO")
    assert (apixo.usd, apixo.credits, apixo.error) == (Decimal("74.87"), None, "")
    assert (aivideoapi.provider, aivideoapi.label) == ("aivideoapi", "aivideoapi.ai")
    assert (aivideoapi.credits, aivideoapi.usd) == (9800, Decimal("49.000"))
    assert all(b.available and not b.low for b in (apixo, aivideoapi))


def test_aivideoapi_credits_are_worth_half_a_cent_exactly(fake_providers):
    fake_providers.aivideoapi.credits = 12_345
    balance = by_name(provider_balances())["aivideoapi"]
    assert balance.usd == Decimal("61.725")  # no float rounding on the way
    assert isinstance(balance.usd, Decimal)
    assert fake_providers.aivideoapi.calls == 1  # one GET /credits for both figures


def test_an_unconfigured_provider_has_no_balance(fake_providers, settings):
    settings.AIVIDEOAPI_API_KEY = ""
    assert [b.provider for b in provider_balances()] == ["apixo"]
    assert fake_providers.aivideoapi.calls == 0


@pytest.mark.parametrize(
    ("threshold", "low"),
    [
        ("20", set()),
        ("60", {"aivideoapi"}),  # US$49.00 < 60 <= US$74.87
        ("74.87", {"aivideoapi"}),  # equal is not below
        ("100", {"apixo", "aivideoapi"}),
    ],
)
def test_the_warning_is_per_provider_against_one_usd_threshold(
    fake_providers, settings, threshold, low
):
    settings.PROVIDER_BALANCE_WARNING_USD = Decimal(threshold)
    balances = provider_balances()
    assert {b.provider for b in balances if b.low} == low
    assert all(b.threshold_usd == Decimal(threshold) for b in balances)


@pytest.mark.parametrize(("failing", "working"), [("apixo", "aivideoapi"), ("aivideoapi", "apixo")])
def test_one_providers_error_does_not_hide_the_other(fake_providers, failing, working):
    getattr(fake_providers, failing).error = ProviderConnectionError(
        "The video service cannot be reached."
    )
    balances = by_name(provider_balances())
    assert not balances[failing].available and not balances[failing].low
    assert balances[failing].error == "The video service cannot be reached."
    assert balances[failing].credits is None
    assert balances[working].available and not balances[working].error


def test_each_balance_is_cached_on_its_own_for_60_seconds(fake_providers):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        first = provider_balances()
        fake_providers.apixo.balance = Decimal("1.00")
        fake_providers.aivideoapi.credits = 1
        assert provider_balances() == first
    assert (fake_providers.apixo.calls, fake_providers.aivideoapi.calls) == (1, 1)
    # Dropping one provider's entry refreshes that provider only.
    cache.delete(PROVIDER_BALANCE_CACHE_KEY.format(provider="aivideoapi"))
    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        balances = by_name(provider_balances())
    assert (balances["apixo"].usd, balances["aivideoapi"].credits) == (Decimal("74.87"), 1)
    assert (fake_providers.apixo.calls, fake_providers.aivideoapi.calls) == (1, 2)
    with time_machine.travel(
        start + timedelta(seconds=PROVIDER_BALANCE_CACHE_SECONDS + 2), tick=False
    ):
        balances = by_name(provider_balances())
    assert balances["apixo"].usd == Decimal("1.00")
    assert (fake_providers.apixo.calls, fake_providers.aivideoapi.calls) == (2, 3)


def test_an_error_is_cached_too(fake_providers):
    fake_providers.aivideoapi.error = ProviderAuthError("The video service refused our key.")
    for _ in range(3):
        balance = by_name(provider_balances())["aivideoapi"]
        assert not balance.available
    assert fake_providers.aivideoapi.calls == 1
    assert fake_providers.apixo.calls == 1
