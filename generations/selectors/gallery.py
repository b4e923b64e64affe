"""Reads for the gallery's toolbar and the team library (docs/gallery.md).

``GalleryFilters`` is what ``forms.gallery.GalleryFilterForm`` parses from the URL;
``generations_filter`` applies it to any queryset of generations (a member's gallery, the
team library). No network.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import Generation

# The state chip that stands for every in-flight state (queued ... submitted).
RUNNING = "running"


class Sort:
    """The orders the gallery offers (the ``sort`` parameter)."""

    NEWEST = "newest"
    OLDEST = "oldest"
    PRICE_HIGH = "price-high"
    PRICE_LOW = "price-low"
    CHOICES = [
        (NEWEST, _("Newest first")),
        (OLDEST, _("Oldest first")),
        (PRICE_HIGH, _("Price: high to low")),
        (PRICE_LOW, _("Price: low to high")),
    ]


ORDERINGS = {
    Sort.NEWEST: ("-created_at", "-id"),
    Sort.OLDEST: ("created_at", "id"),
    Sort.PRICE_HIGH: ("-price_credits", "-id"),
    Sort.PRICE_LOW: ("price_credits", "id"),
}


@dataclass(frozen=True)
class GalleryFilters:
    """The toolbar's valid values; empty tuples and None mean "any".

    ``date_from`` and ``date_to`` are calendar days in the portal's time zone, both included.
    """

    query: str = ""
    states: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    favourite: bool = False
    date_from: date | None = None
    date_to: date | None = None
    sort: str = Sort.NEWEST

    @property
    def narrowed(self) -> bool:
        """Tell whether any filter (not the sort) leaves some generations out."""
        return bool(
            self.query
            or self.states
            or self.modes
            or self.resolutions
            or self.providers
            or self.favourite
            or self.date_from
            or self.date_to
        )


def generations_filter(
    queryset: QuerySet[Generation], *, filters: GalleryFilters
) -> QuerySet[Generation]:
    """Return ``queryset`` narrowed and ordered by the gallery toolbar's ``filters``.

    docs/gallery.md "Filters and sort": values within one chip group are alternatives (OR),
    groups combine (AND); ``running`` stands for every in-flight state; the date range takes
    whole days in the portal's time zone, both ends included. Ties in price are broken by id,
    so a page boundary never repeats or skips a card. Each order of a member's gallery has an
    index that starts with the member (``generation_user_created``, ``generation_user_price``,
    ``generation_user_favourite``), so the first page reads a page of rows, not a history.
    """
    if filters.query:
        queryset = queryset.filter(prompt__icontains=filters.query)
    if filters.states:
        states = set(filters.states) - {RUNNING}
        if RUNNING in filters.states:
            states |= set(Generation.State.in_flight())
        queryset = queryset.filter(state__in=sorted(states))
    if filters.modes:
        queryset = queryset.filter(mode__in=filters.modes)
    if filters.resolutions:
        queryset = queryset.filter(resolution__in=filters.resolutions)
    if filters.providers:
        queryset = queryset.filter(provider__in=filters.providers)
    if filters.favourite:
        queryset = queryset.filter(favourite=True)
    if filters.date_from:
        queryset = queryset.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        queryset = queryset.filter(created_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    return queryset.order_by(*ORDERINGS.get(filters.sort, ORDERINGS[Sort.NEWEST]))


def _day_start(day: date) -> datetime:
    """Return the midnight that starts ``day`` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def team_library_generations() -> QuerySet[Generation]:
    """Return the team library: every member's shared, stored videos, newest first.

    docs/gallery.md "Team library". Each carries its owner (``select_related``) for the
    card's "Shared by" line. Narrow and order it with ``generations_filter``; the partial
    index ``generation_shared_created`` serves the first page in the default order.
    """
    return Generation.objects.shared().select_related("user").order_by("-created_at", "-id")
