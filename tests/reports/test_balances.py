"""Provider account balances (issue #7): one per configured provider, APIXO in US$,
aivideoapi.ai in its credits and their US$ value. A worker reads them
(``services.provider_balances``); pages show the stored reading and never call a provider."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from generations.models import ProviderBalanceReading
from generations.providers import ProviderAuthError, ProviderConnectionError
from generations.selectors.balances import provider_balances
from generations.services import provider_balances as service
from generations.services.provider_balances import (
    READING_MAX_AGE,
    provider_balances_refresh,
    provider_balances_refresh_request,
)

pytestmark = pytest.mark.django_db


def read() -> list:
    """What a page shows right after the worker's task ran."""
    provider_balances_refresh()
    return provider_balances()


def by_name(balances) -> dict:
    return {balance.provider: balance for balance in balances}


def test_every_configured_provider_has_a_balance_in_order(fake_providers):
    apixo, aivideoapi = read()
    assert (apixo.provider, apixo.label) == ("apixo", "APIXO")
    assert (apixo.usd, apixo.credits, apixo.error) == (Decimal("74.87"), None, "")
    assert (aivideoapi.provider, aivideoapi.label) == ("aivideoapi", "aivideoapi.ai")
    assert (aivideoapi.credits, aivideoapi.usd) == (9800, Decimal("49.000"))
    assert all(b.available and not b.low for b in (apixo, aivideoapi))


def test_aivideoapi_credits_are_worth_half_a_cent_exactly(fake_providers):
    fake_providers.aivideoapi.credits = 12_345
    balance = by_name(read())["aivideoapi"]
    assert balance.usd == Decimal("61.725")  # no float rounding on the way
    assert isinstance(balance.usd, Decimal)
    assert fake_providers.aivideoapi.calls == 1  # one GET /credits for both figures


def test_an_unconfigured_provider_has_no_balance(fake_providers, settings):
    settings.AIVIDEOAPI_API_KEY = ""
    assert [b.provider for b in read()] == ["apixo"]
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
    balances = read()
    assert {b.provider for b in balances if b.low} == low
    assert all(b.threshold_usd == Decimal(threshold) for b in balances)


@pytest.mark.parametrize(("failing", "working"), [("apixo", "aivideoapi"), ("aivideoapi", "apixo")])
def test_one_providers_error_does_not_hide_the_other(fake_providers, failing, working):
    getattr(fake_providers, failing).error = ProviderConnectionError(
        "The video service cannot be reached."
    )
    balances = by_name(read())
    assert not balances[failing].available and not balances[failing].low
    assert balances[failing].error == "The video service cannot be reached."
    assert balances[failing].credits is None
    assert balances[working].available and not balances[working].error


def test_reading_the_balances_calls_no_provider(fake_providers):
    """The page's read is the stored reading only: nothing read yet, nothing called."""
    balances = provider_balances()
    assert [(b.provider, b.checked, b.stale) for b in balances] == [
        ("apixo", False, True),
        ("aivideoapi", False, True),
    ]
    assert (fake_providers.apixo.calls, fake_providers.aivideoapi.calls) == (0, 0)


def test_a_reading_goes_stale_after_a_minute(fake_providers):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert not any(b.stale for b in read())
    fake_providers.apixo.balance = Decimal("1.00")
    with time_machine.travel(start + READING_MAX_AGE - timedelta(seconds=1), tick=False):
        fresh = by_name(provider_balances())
        assert not fresh["apixo"].stale and fresh["apixo"].usd == Decimal("74.87")
    with time_machine.travel(start + READING_MAX_AGE + timedelta(seconds=1), tick=False):
        assert all(b.stale for b in provider_balances())
        assert by_name(read())["apixo"].usd == Decimal("1.00")
    assert ProviderBalanceReading.objects.count() == 2  # one row per provider, updated


def test_an_error_is_stored_too(fake_providers):
    fake_providers.aivideoapi.error = ProviderAuthError("The video service refused our key.")
    provider_balances_refresh()
    for _ in range(3):
        balance = by_name(provider_balances())["aivideoapi"]
        assert not balance.available and balance.checked
        assert balance.error == "The video service refused our key."
    assert (fake_providers.apixo.calls, fake_providers.aivideoapi.calls) == (1, 1)


def test_a_refresh_is_queued_at_most_once_a_minute(monkeypatch):
    queued = []
    monkeypatch.setattr(service, "enqueue", lambda task, **kw: queued.append((task, kw)))
    assert provider_balances_refresh_request()
    assert not provider_balances_refresh_request()
    assert [task for task, _ in queued] == ["refresh_provider_balances"]
