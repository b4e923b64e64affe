"""Price table: docs/prices.md "Default price table", quotes, and versions that never re-price old
jobs."""

from decimal import Decimal

import pytest

from generations.catalog import UnsupportedRequest
from generations.models import PriceTable
from generations.services.pricing import price_quote, price_table_publish
from tests.factories import GenerationFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("provider", "mode", "resolution", "sound", "per_second"),
    [
        ("apixo", "text-to-video", "480p", False, 10),
        ("apixo", "text-to-video", "720p", True, 40),
        ("apixo", "image-to-video", "720p", False, 20),
        ("apixo", "video-extend", "480p", True, 24),
        ("apixo", "video-extend", "1080p", True, 104),
        ("aivideoapi", "text-to-video", "1080p", False, 75),
        ("aivideoapi", "image-to-video", "480p", True, 35),
    ],
)
def test_default_prices_from_design(provider, mode, resolution, sound, per_second):
    quote = price_quote(
        provider=provider, mode=mode, resolution=resolution, sound=sound, duration=8
    )
    assert quote.credits_per_second == per_second
    assert quote.credits == per_second * 8
    assert quote.usd == Decimal(per_second * 8) / 1000
    assert quote.price_table.version == 1


def test_example_from_the_apixo_billing_section():
    # docs/providers/apixo.md "Billing": 720p with sound false for 8 seconds costs $0.16.
    quote = price_quote(
        provider="apixo", mode="text-to-video", resolution="720p", sound=False, duration=8
    )
    assert (quote.credits, quote.usd) == (160, Decimal("0.160"))


@pytest.mark.parametrize(
    ("provider", "mode", "resolution"),
    [("apixo", "text-to-video", "1080p"), ("aivideoapi", "video-extend", "720p")],
)
def test_unsupported_combinations_are_refused(provider, mode, resolution):
    with pytest.raises(UnsupportedRequest):
        price_quote(provider=provider, mode=mode, resolution=resolution, sound=False, duration=4)


def test_publishing_a_change_creates_a_version_and_keeps_old_jobs_prices(manager, member):
    old_table = PriceTable.objects.current()
    generation = GenerationFactory(user=member, price_table=old_table)
    new_table = price_table_publish(
        changes={("apixo", "seedance-1-5-pro", "480p", False): 12}, actor=manager, note="raise"
    )
    assert new_table.version == 2 and new_table.created_by == manager
    assert new_table.prices.count() == old_table.prices.count() == 16
    quote = price_quote(
        provider="apixo", mode="text-to-video", resolution="480p", sound=False, duration=4
    )
    assert (quote.credits, quote.price_table) == (48, new_table)
    assert (
        old_table.prices.get(
            model_id="seedance-1-5-pro", resolution="480p", sound=False
        ).credits_per_second
        == 10
    )
    generation.refresh_from_db()
    assert (generation.price_credits, generation.price_table) == (40, old_table)


@pytest.mark.parametrize("value", [0, -1, 2.5])
def test_publishing_refuses_non_positive_prices(manager, value):
    with pytest.raises(ValueError):
        price_table_publish(
            changes={("apixo", "seedance-1-5-pro", "480p", False): value}, actor=manager
        )
    assert PriceTable.objects.count() == 1
