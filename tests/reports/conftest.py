"""Fixtures of the report tests: a fake provider balance, a fresh cache, a ledger builder.

The builder writes every entry through the ledger services (``credits_grant``,
``credits_hold``, ``credits_capture``, ...) at a chosen time with ``time_machine``, so the
reports are checked against real ledger rows.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache

from generations import providers
from generations.models import CreditEntry, Generation
from generations.services.ledger import (
    credits_adjust,
    credits_capture,
    credits_grant,
    credits_hold,
    credits_release,
    credits_revoke,
)
from tests.factories import GenerationFactory

State = Generation.State


@dataclass
class FakeProvider:
    """Stands in for the APIXO client: a balance in USD, or an error to raise."""

    balance: Decimal = Decimal("74.87")
    error: Exception | None = None
    calls: int = 0

    def account_balance(self) -> Decimal:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.balance


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fake_provider(monkeypatch) -> FakeProvider:
    fake = FakeProvider()
    monkeypatch.setattr(providers, "get_provider", lambda name="apixo": fake)
    return fake


@dataclass
class LedgerBuilder:
    """Write ledger entries through the services at given times; remember the jobs."""

    jobs: list[Generation] = field(default_factory=list)

    def grant(self, user, amount: int, at: datetime) -> CreditEntry:
        with time_machine.travel(at, tick=False):
            return credits_grant(user=user, amount=amount, actor=None, memo="grant")

    def revoke(self, user, amount: int, at: datetime) -> CreditEntry:
        with time_machine.travel(at, tick=False):
            return credits_revoke(user=user, amount=amount, actor=None, memo="revoke")

    def adjust(self, user, amount: int, at: datetime) -> CreditEntry:
        with time_machine.travel(at, tick=False):
            return credits_adjust(user=user, amount=amount, actor=None, memo="correction")

    def job(
        self,
        user,
        *,
        price: int,
        at: datetime,
        settled_at: datetime | None = None,
        outcome: str = State.SUCCEEDED,
        mode: str = "text-to-video",
        resolution: str = "480p",
        sound: bool = False,
    ) -> Generation:
        """Create a job held at ``at``; capture it (succeeded) or release it (failed,
        expired, canceled) at ``settled_at``; leave it held when ``outcome`` is in flight."""
        with time_machine.travel(at, tick=False):
            generation = GenerationFactory(
                user=user,
                price_credits=price,
                mode=mode,
                resolution=resolution,
                sound=sound,
                model_id=(
                    "seedance-1-5-pro-extend" if mode == "video-extend" else "seedance-1-5-pro"
                ),
            )
            hold = credits_hold(user=user, amount=price, generation=generation)
        if outcome in State.final():
            with time_machine.travel(settled_at or at, tick=False):
                if outcome == State.SUCCEEDED:
                    credits_capture(hold=hold)
                else:
                    credits_release(hold=hold)
        Generation.objects.filter(pk=generation.pk).update(state=outcome)
        self.jobs.append(generation)
        return generation


@pytest.fixture
def ledger() -> LedgerBuilder:
    return LedgerBuilder()


def spent_between(start: datetime | None, end: datetime | None, user=None) -> int:
    """Return the ledger's spend (credits) in ``[start, end)``, summed in Python."""
    entries = CreditEntry.objects.filter(kind=CreditEntry.Kind.CAPTURE)
    if user is not None:
        entries = entries.filter(account__user=user)
    return -sum(
        entry.amount
        for entry in entries
        if (start is None or entry.created_at >= start) and (end is None or entry.created_at < end)
    )


def balance_after_each(user) -> dict[int, int]:
    """Return ``{entry id: available balance right after it}``, replayed in Python."""
    running, result = 0, {}
    entries = CreditEntry.objects.filter(account__user=user).order_by("created_at", "id")
    for entry in entries:
        running += entry.balance_delta
        result[entry.pk] = running
    return result
