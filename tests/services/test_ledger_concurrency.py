"""Concurrency on PostgreSQL: parallel holds never overdraw an account."""

import pytest
from django.db import transaction

from generations.models import CreditAccount, CreditEntry, Generation
from generations.selectors.ledger import ledger_mismatches
from generations.services.ledger import InsufficientCredits, credits_grant, credits_hold
from tests.concurrency import run_in_threads
from tests.conftest import requires_postgres
from tests.factories import GenerationFactory, UserFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def held_job(user, price: int) -> CreditEntry:
    """Create a job and hold its price in one transaction, as ``generation_create`` does.

    A refused hold rolls the job back with it, so no job is left in flight without a hold.
    """
    with transaction.atomic():
        generation = GenerationFactory(user=user, duration=8, price_credits=price, hold=False)
        return credits_hold(user=user, amount=price, generation=generation)


def test_20_parallel_holds_against_a_balance_for_5():
    user = UserFactory()
    credits_grant(user=user, amount=5 * 80, actor=None)

    results = run_in_threads(lambda i: held_job(user, 80), 20)

    holds = [r for r in results if isinstance(r, CreditEntry)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert len(holds) == 5
    assert len(refused) == 15, [r for r in results if not isinstance(r, CreditEntry)]
    account = CreditAccount.objects.get(user=user)
    assert (account.balance, account.held) == (0, 400)
    assert CreditEntry.objects.filter(kind="hold").count() == 5
    assert Generation.objects.count() == 5
    assert ledger_mismatches() == []


def test_parallel_submits_with_one_client_token_create_one_generation():
    from generations.services.generations import GenerationSpec, generation_create

    user = UserFactory()
    credits_grant(user=user, amount=1000, actor=None)
    spec = GenerationSpec(
        mode="text-to-video", prompt="a quiet lake", resolution="480p", duration=4, sound=False
    )
    results = run_in_threads(
        lambda i: generation_create(user=user, spec=spec, client_token="one-click"), 8
    )

    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert CreditEntry.objects.filter(kind="hold").count() == 1
    account = CreditAccount.objects.get(user=user)
    assert (account.balance, account.held) == (960, 40)
