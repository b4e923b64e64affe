"""Cursor pagination over rows ordered newest first by ``(created_at, id)``.

A cursor is an opaque string naming the last row of a page; the next page holds the rows
strictly older in that order (keyset pagination), so rows added meanwhile neither repeat nor
shift a page, and a deep page costs the same index range scan as the first.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from django.db.models import Q, QuerySet

from .problems import FieldError, invalid

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_cursor(created_at: datetime, pk: int) -> str:
    """Return the cursor after the row ``(created_at, pk)``."""
    raw = f"{created_at.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Return the ``(created_at, pk)`` a cursor names.

    Raises:
        ApiProblem: 422 naming ``cursor`` when it is not one this API gave out.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = raw.rsplit("|", 1)
        created_at = datetime.fromisoformat(stamp)
        if created_at.tzinfo is None:
            raise ValueError("naive")
        return created_at, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise invalid([FieldError("cursor", "This is not a cursor from this API.")]) from error


def older_than(queryset: QuerySet, cursor: str | None) -> QuerySet:
    """Return ``queryset`` limited to rows after ``cursor`` (all rows without one)."""
    if not cursor:
        return queryset
    created_at, pk = decode_cursor(cursor)
    return queryset.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))


def page(queryset: QuerySet, *, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """Return up to ``limit`` rows of ``queryset`` (newest first) after ``cursor``, and the
    cursor of the next page (None on the last page). One query."""
    rows = list(older_than(queryset, cursor).order_by("-created_at", "-pk")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].pk)
