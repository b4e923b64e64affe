"""Fixtures of the report tests: fake provider balances, a fresh cache, a ledger builder.

The builder writes every entry through the ledger services (``credits_grant``,
``credits_hold``, ``credits_capture``, ...) at a chosen time with ``time_machine``, so the
reports are checked against real ledger rows. Inside ``ledger.chronological()`` the writes
are queued and made in time order on leaving it, as a live ledger writes them: each entry's
stored ``balance_after`` is the balance in the order entries were written.
"""

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache

from generations import providers
from generations.catalog import model_spec
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


@dataclass
class FakeCreditsProvider:
    """Stands in for the aivideoapi.ai client: a balance in provider credits, or an error."""

    credits: int = 9800
    error: Exception | None = None
    calls: int = 0

    def account_credits(self) -> int:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.credits

    def account_balance(self) -> Decimal:
        return self.account_credits() * Decimal("0.005")


@dataclass
class FakeProviders:
    """The fake client of each provider, as ``providers.get_provider(name)`` returns it."""

    apixo: FakeProvider = field(default_factory=FakeProvider)
    aivideoapi: FakeCreditsProvider = field(default_factory=FakeCreditsProvider)

    def get(self, name: str = "apixo"):
        return {"apixo": self.apixo, "aivideoapi": self.aivideoapi}[name]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fake_providers(monkeypatch, settings) -> FakeProviders:
    """Both providers configured, each answering from its fake."""
    settings.AIVIDEOAPI_API_KEY = "sk-test-key"
    fakes = FakeProviders()
    monkeypatch.setattr(providers, "get_provider", fakes.get)
    return fakes


@pytest.fixture
def fake_provider(fake_providers) -> FakeProvider:
    """The APIXO fake."""
    return fake_providers.apixo


@dataclass
class LedgerBuilder:
    """Write ledger entries through the services at given times; remember the jobs."""

    jobs: list[Generation] = field(default_factory=list)
    queue: list[tuple[datetime, int, Callable]] | None = None

    @contextlib.contextmanager
    def chronological(self) -> Iterator[None]:
        """Queue the writes made inside, then make them in time order (ties: call order)."""
        self.queue = []
        try:
            yield
            for _at, _n, write in sorted(self.queue, key=lambda item: item[:2]):
                write()
        finally:
            self.queue = None

    def _at(self, at: datetime, write: Callable):
        """Run ``write`` travelled to ``at`` now, or queue it inside ``chronological()``."""

        def travelled():
            with time_machine.travel(at, tick=False):
                return write()

        if self.queue is None:
            return travelled()
        self.queue.append((at, len(self.queue), travelled))
        return None

    def grant(self, user, amount: int, at: datetime) -> CreditEntry | None:
        return self._at(
            at, lambda: credits_grant(user=user, amount=amount, actor=None, memo="grant")
        )

    def revoke(self, user, amount: int, at: datetime) -> CreditEntry | None:
        return self._at(
            at, lambda: credits_revoke(user=user, amount=amount, actor=None, memo="revoke")
        )

    def adjust(self, user, amount: int, at: datetime) -> CreditEntry | None:
        return self._at(
            at, lambda: credits_adjust(user=user, amount=amount, actor=None, memo="correction")
        )

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
        provider: str = "apixo",
    ) -> Generation:
        """Create a job held at ``at``; capture it (succeeded) or release it (failed,
        expired, canceled) at ``settled_at``; leave it held when ``outcome`` is in flight.
        Returns the job (None inside ``chronological()``)."""
        made: dict = {}

        def create() -> Generation:
            generation = GenerationFactory(
                user=user,
                price_credits=price,
                mode=mode,
                resolution=resolution,
                sound=sound,
                provider=provider,
                model_id=model_spec(provider=provider, mode=mode).model_id,
            )
            made["hold"] = credits_hold(user=user, amount=price, generation=generation)
            Generation.objects.filter(pk=generation.pk).update(state=outcome)
            self.jobs.append(generation)
            return generation

        def settle() -> None:
            if outcome == State.SUCCEEDED:
                credits_capture(hold=made["hold"])
            else:
                credits_release(hold=made["hold"], outcome=outcome)

        generation = self._at(at, create)
        if outcome in State.final():
            self._at(settled_at or at, settle)
        return generation


@pytest.fixture
def ledger() -> LedgerBuilder:
    return LedgerBuilder()


def spent_between(
    start: datetime | None, end: datetime | None, user=None, provider: str | None = None
) -> int:
    """Return the ledger's spend (credits) in ``[start, end)``, summed in Python; only
    ``user``'s, or only on jobs ``provider`` ran, when given."""
    entries = CreditEntry.objects.filter(kind=CreditEntry.Kind.CAPTURE)
    if user is not None:
        entries = entries.filter(account__user=user)
    if provider is not None:
        entries = [entry for entry in entries if entry.generation.provider == provider]
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
