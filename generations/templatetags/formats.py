"""Template filters for credits, US dollars and times (docs/formats.md "Formats").

``{% load formats %}``, then ``{{ entry.amount|credits }}``,
``{{ job.price_credits|credits_usd }}``, ``{{ balance.usd|usd }}``,
``{{ job.created_at|reltime }}``, ``{{ entry.created_at|abstime }}``, ``{{ day|local_date }}``.
Each calls ``generations.formats``, which the CSV exports use too.
"""

from django import template
from django.utils.html import format_html

from .. import formats
from ..i18n import memo_text, message_parts

register = template.Library()


@register.filter(is_safe=True)
def credits(value):
    """Credits with thousands separators: ``12,500``."""
    return formats.credits(value)


@register.filter(is_safe=True)
def usd(value):
    """A US dollar amount: ``US$1,234.50``."""
    return formats.usd(value)


@register.filter(is_safe=True)
def credits_usd(value):
    """Credits shown in US dollars: 50 credits is ``US$0.05``."""
    return formats.credits_usd(value)


@register.filter
def reltime(value):
    """A ``<time>`` element that ``static/js/times.js`` keeps relative ("3 minutes ago")."""
    return formats.time_element(value, relative=True)


@register.filter
def abstime(value):
    """A ``<time>`` element showing the absolute local time: ``29 Nov 2026, 14:05 UTC``."""
    return formats.time_element(value, relative=False)


@register.filter
def local_date(value):
    """A day: ``29 Nov 2026``."""
    return formats.local_date(value)


@register.filter
def memo(value):
    """A ledger or audit memo: the portal's own words in the active language; a person's as
    typed, in ``<span translate="no">`` (``generations.i18n.memo_text``)."""
    if not value:
        return ""
    text, ours = memo_text(value)
    if ours:
        return text
    return format_html('<span translate="no">{}</span>', text)


@register.filter
def stored_message(value):
    """A job's ``fail_message`` or an alert's ``message``: the portal's words in the active
    language, the provider's as sent in ``<span lang="en">``
    (``generations.i18n.message_parts``)."""
    if not value:
        return ""
    ours, theirs = message_parts(value)
    if not theirs:
        return ours
    if not ours:
        return format_html('<span lang="en">{}</span>', theirs)
    return format_html('{} <span lang="en">{}</span>', ours, theirs)
