"""Price services: quotes from the current price table, and publishing a new version.

docs/prices.md "Default price table" and "Money": the price of a job is credits per second of
requested duration times the duration, fixed at submission together with the table version.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext

from ..catalog import UnsupportedRequest, model_spec
from ..models import AuditEntry, Price, PriceTable, User
from ..models.ledger import credits_to_usd
from .audit import audit_record

# Publishing a price table is a permission of its own (issue #12 item 7), not "change price".
PUBLISH_PERMISSION = "generations.publish_pricetable"


@dataclass(frozen=True)
class Quote:
    """The price of one job.

    Attributes:
        credits: total price in credits (per second x duration).
        credits_per_second: the table's rate.
        usd: the US$ value of ``credits``.
        model_id: the provider's model that will run the job.
        price_table: the version the price comes from (stored on the generation).
    """

    credits: int
    credits_per_second: int
    usd: Decimal
    model_id: str
    price_table: PriceTable


def price_quote(*, provider: str, mode: str, resolution: str, sound: bool, duration: int) -> Quote:
    """Return the price of a job from the current price table.

    Args:
        provider: "apixo" or "aivideoapi".
        mode: "text-to-video", "image-to-video" or "video-extend".
        resolution: "480p", "720p" or "1080p".
        sound: whether audio is generated.
        duration: requested seconds (4-12).

    Raises:
        UnsupportedRequest: no price for that provider, mode and resolution.
    """
    spec = model_spec(provider=provider, mode=mode)
    table = PriceTable.objects.current()
    price = Price.objects.filter(
        table=table, provider=provider, model_id=spec.model_id, resolution=resolution, sound=sound
    ).first()
    if price is None:
        raise UnsupportedRequest(f"No price for {spec.model_id} at {resolution}.")
    credits = price.credits_per_second * duration
    return Quote(
        credits=credits,
        credits_per_second=price.credits_per_second,
        usd=credits_to_usd(credits),
        model_id=spec.model_id,
        price_table=table,
    )


def price_table_publish(
    *,
    changes: dict[tuple[str, str, str, bool], int],
    actor: User | None,
    note: str = "",
) -> PriceTable:
    """Publish a new price table version: the current prices with ``changes`` applied.

    Args:
        changes: (provider, model_id, resolution, sound) -> credits per second (> 0).
        actor: the manager making the change (None: a command or migration).

    Raises:
        ValueError: a price is not a positive integer.
        PermissionDenied: ``actor`` lacks ``generations.publish_pricetable``.
    """
    if actor is not None and not actor.has_perm(PUBLISH_PERMISSION):
        raise PermissionDenied("You may not publish prices.")
    for key, value in changes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(
                gettext("Price for %(key)s must be a positive whole number of credits.")
                % {"key": key}
            )
    with transaction.atomic():
        current = PriceTable.objects.select_for_update().order_by("-version").first()
        prices: dict[tuple[str, str, str, bool], int] = {}
        if current is not None:
            prices = {
                (p.provider, p.model_id, p.resolution, p.sound): p.credits_per_second
                for p in current.prices.all()
            }
        before = {key: prices.get(key) for key in changes}
        prices.update(changes)
        version = (PriceTable.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        table = PriceTable.objects.create(version=version, note=note, created_by=actor)
        Price.objects.bulk_create(
            Price(
                table=table,
                provider=provider,
                model_id=model_id,
                resolution=resolution,
                sound=sound,
                credits_per_second=rate,
            )
            for (provider, model_id, resolution, sound), rate in sorted(prices.items())
        )
        audit_record(
            actor=actor,
            action=AuditEntry.Action.PRICE,
            before={_label(key): rate for key, rate in before.items()},
            after={_label(key): changes[key] for key in changes} | {"version": version},
            memo=note,
        )
    return table


def _label(key: tuple[str, str, str, bool]) -> str:
    provider, model_id, resolution, sound = key
    return f"{provider} {model_id} {resolution} sound {'on' if sound else 'off'}"


__all__ = [
    "PUBLISH_PERMISSION",
    "Quote",
    "UnsupportedRequest",
    "price_quote",
    "price_table_publish",
]
