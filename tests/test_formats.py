"""One format for credits, US$ and times (docs/formats.md "Formats"): the functions of
``generations.formats`` and the template filters built on them."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone

from generations import formats


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0"), "US$0.00"),
        (Decimal("0.001"), "US$0.00"),
        (Decimal("0.005"), "US$0.01"),  # half up, not to even
        (Decimal("0.015"), "US$0.02"),
        (Decimal("12.345"), "US$12.35"),
        (Decimal("1234.5"), "US$1,234.50"),
        (Decimal("1234567.891"), "US$1,234,567.89"),
        (Decimal("-0.05"), "-US$0.05"),
        (74.87, "US$74.87"),  # a float through its repr, not its binary value
        ("3", "US$3.00"),
        (None, ""),
    ],
)
def test_usd_has_two_decimals_rounded_half_up_and_thousands_separators(amount, text):
    assert formats.usd(amount) == text


@pytest.mark.parametrize(
    ("credits", "credits_text", "usd_text"),
    [
        (0, "0", "US$0.00"),
        (5, "5", "US$0.01"),
        (50, "50", "US$0.05"),
        (12_345, "12,345", "US$12.35"),
        (1_234_567, "1,234,567", "US$1,234.57"),
        (-12_345, "-12,345", "-US$12.35"),
    ],
)
def test_credits_are_grouped_integers_and_their_dollar_value(credits, credits_text, usd_text):
    assert formats.credits(credits) == credits_text
    assert formats.credits_usd(credits) == usd_text


def test_credits_leave_what_is_not_a_number_alone():
    assert formats.credits(None) == ""
    assert formats.credits("-") == "-"


def test_csv_values_are_plain_exact_and_iso(settings):
    settings.TIME_ZONE = "Europe/Paris"
    assert formats.csv_credits_usd(12_345_678) == "12345.678"
    assert formats.csv_credits_usd(50) == "0.050"
    assert formats.csv_credits_usd(0) == "0.000"
    assert formats.csv_usd(Decimal("1E+3")) == "1000"
    moment = datetime(2026, 11, 29, 14, 5, 7, tzinfo=UTC)
    assert formats.csv_moment(moment) == "2026-11-29T15:05:07+01:00"
    assert formats.csv_moment(date(2026, 11, 29)) == "2026-11-29"


def test_moments_and_days_are_absolute_local_times(settings):
    settings.TIME_ZONE = "Europe/Paris"
    moment = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert formats.moment(moment) == "30 Nov 2026, 00:30 CET"
    assert formats.local_date(moment) == "30 Nov 2026"  # the local day
    assert formats.local_date(date(2026, 3, 1)) == "1 Mar 2026"


def render(source: str, **context) -> str:
    return Template("{% load formats %}" + source).render(Context(context))


def test_filters_write_money_as_the_functions_do():
    assert render("{{ n|credits }}", n=1_234_567) == "1,234,567"
    assert render("{{ n|credits_usd }}", n=1_234_567) == "US$1,234.57"
    assert render("{{ d|usd }}", d=Decimal("74.875")) == "US$74.88"
    assert render('{{ n|credits|default:"-" }}', n=None) == "-"


def test_reltime_is_a_time_element_titled_with_the_absolute_time(settings):
    settings.TIME_ZONE = "UTC"
    moment = datetime(2026, 11, 29, 14, 5, 7, 123456, tzinfo=UTC)
    html = render("{{ t|reltime }}", t=moment)
    assert html == (
        '<time datetime="2026-11-29T14:05:07+00:00" title="29 Nov 2026, 14:05 UTC" '
        "data-relative>29 Nov 2026, 14:05 UTC</time>"
    )
    # abstime: the same element, not updated by static/js/times.js.
    assert render("{{ t|abstime }}", t=moment) == html.replace(" data-relative", "")
    assert render('{{ t|reltime|default:"never" }}', t=None) == "never"


def test_a_time_element_escapes_nothing_it_should_not(settings):
    settings.TIME_ZONE = "UTC"
    html = str(formats.time_element(timezone.now(), relative=True))
    assert html.count("<time ") == 1 and "&lt;" not in html
