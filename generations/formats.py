"""One way to write credits, US dollars, dates and times (docs/formats.md "Formats").

Pages and e-mails call these through the template filters of ``templatetags/formats.py``;
the CSV exports call the ``csv_*`` functions, which keep numbers machine-readable
(docs/formats.md "CSV"). Nothing here touches the database.
"""

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import dateformat, formats, timezone, translation
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .models.ledger import credits_to_usd

CENT = Decimal("0.01")
# docs/formats.md "Dates and times": "29 Nov 2026, 14:05 UTC" and "29 Nov 2026".
MOMENT_FORMAT = "j M Y, H:i T"
DAY_FORMAT = "j M Y"
# Russian writes the month in full, in the genitive ("E"): "29 ноября 2026, 14:05 UTC".
MOMENT_FORMATS = {"ru": "j E Y, H:i T"}
DAY_FORMATS = {"ru": "j E Y"}


def _decimal(amount: Decimal | int | float | str) -> Decimal:
    """Return ``amount`` as a Decimal (a float through its shortest repr, not its binary)."""
    if isinstance(amount, Decimal):
        return amount
    return Decimal(str(amount))


def credits(value: int | str | None) -> str:
    """Return credits (an integer) with thousands separators: ``12,500``; None: ``""``.

    Grouped as Django's ``intcomma`` does in the active language (docs/formats.md "Money");
    like ``intcomma``, text that is not a number (a ``"-"`` placeholder) comes back as it is.
    """
    if value is None or value == "":
        return ""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return value
    return formats.number_format(number, use_l10n=True, force_grouping=True)


def usd(amount: Decimal | int | float | str | None) -> str:
    """Return a US dollar amount as ``US$1,234.50``: two decimals rounded half up,
    thousands separators, a leading ``-`` when negative; None: ``""``.

    Args:
        amount: US dollars (a Decimal, or a number or numeric string).

    Raises:
        decimal.InvalidOperation: ``amount`` is not a number.
    """
    if amount is None or amount == "":
        return ""
    cents = _decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if cents < 0 else ""
    digits = formats.number_format(abs(cents), decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{sign}US${digits}"


def credits_usd(value: int | None) -> str:
    """Return the US dollar value of ``value`` credits as :func:`usd` writes it."""
    if value is None or value == "":
        return ""
    return usd(credits_to_usd(int(value)))


def moment(value: datetime | None) -> str:
    """Return an aware datetime as the absolute local time ``29 Nov 2026, 14:05 UTC``
    (the portal's ``TIME_ZONE``; in Russian ``29 ноября 2026, 14:05 UTC``); None: ``""``."""
    if value is None:
        return ""
    language = translation.get_language() or ""
    return dateformat.format(
        timezone.localtime(value), MOMENT_FORMATS.get(language[:2], MOMENT_FORMAT)
    )


def local_date(value: date | datetime | None) -> str:
    """Return a day as ``29 Nov 2026`` (in Russian ``29 ноября 2026``; a datetime is first
    made local); None: ``""``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value)
    language = translation.get_language() or ""
    return dateformat.format(value, DAY_FORMATS.get(language[:2], DAY_FORMAT))


def iso(value: datetime | date | None, *, timespec: str = "auto") -> str:
    """Return ISO 8601: a datetime in local time with its offset (``timespec`` as for
    ``datetime.isoformat``), a date as ``YYYY-MM-DD``; None: ``""``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec=timespec)
    return value.isoformat()


def time_element(value: datetime | None, *, relative: bool) -> SafeString | str:
    """Return ``<time datetime="ISO" title="absolute">absolute</time>`` for a moment.

    ``relative``: mark it ``data-relative`` so ``static/js/times.js`` shows "3 minutes ago"
    and keeps it current; without JavaScript the absolute text stays (docs/formats.md
    "Dates and times"). None gives ``""`` (so ``|default:"never"`` applies).
    """
    if value is None:
        return ""
    text = moment(value)
    # HTML's datetime attribute takes at most milliseconds; seconds are enough here.
    stamp = iso(value, timespec="seconds")
    if relative:
        return format_html(
            '<time datetime="{}" title="{}" data-relative>{}</time>', stamp, text, text
        )
    return format_html('<time datetime="{}" title="{}">{}</time>', stamp, text, text)


# --- CSV (docs/formats.md "CSV") ---------------------------------------------------------


def csv_usd(amount: Decimal | None) -> str:
    """Return exact US dollars for a CSV cell: ``12.500``, no ``US$``, no separators."""
    if amount is None:
        return ""
    return format(_decimal(amount), "f")


def csv_credits_usd(value: int) -> str:
    """Return the exact US dollar value of ``value`` credits for a CSV cell: ``0.050``."""
    return csv_usd(credits_to_usd(value))


def csv_moment(value: datetime | date | None) -> str:
    """Return an ISO 8601 timestamp (local, with offset) or day for a CSV cell."""
    return iso(value)
