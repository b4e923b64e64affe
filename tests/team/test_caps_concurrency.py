"""Caps on PostgreSQL: parallel holds near a member's monthly cap never pass it."""

import pytest
from django.db import transaction

from generations.models import CreditAccount, CreditEntry
from generations.selectors.ledger import ledger_mismatches
from generations.services.ledger import MonthlyCapExceeded, credits_hold
from generations.services.team import member_cap_set

from ..concurrency import run_in_threads
from ..conftest import requires_postgres
from ..factories import GenerationFactory, ManagerFactory, UserFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def test_20_parallel_holds_against_a_cap_for_4():
    member = UserFactory(credits=100_000)  # the balance is not the limit here; the cap is
    member_cap_set(user=member, cap=4 * 80 + 50, actor=ManagerFactory())

    def held_job(i: int) -> CreditEntry:
        # The job and its hold in one transaction, as generation_create writes them.
        with transaction.atomic():
            generation = GenerationFactory(user=member, price_credits=80, hold=False)
            return credits_hold(user=member, amount=80, generation=generation)

    results = run_in_threads(held_job, 20)

    holds = [r for r in results if isinstance(r, CreditEntry)]
    refused = [r for r in results if isinstance(r, MonthlyCapExceeded)]
    assert (len(holds), len(refused)) == (4, 16), results
    assert CreditAccount.objects.get(user=member).held == 320
    assert ledger_mismatches() == []
