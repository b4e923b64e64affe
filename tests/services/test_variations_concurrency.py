"""Variations under concurrency on PostgreSQL (issue #15 item 7; docs/prices.md "Variations").

Parallel posts of one group's one-time key make one group; parallel groups against a balance
that covers k of them make exactly k whole groups and no partial one. Each thread has its
own connection, released together (``tests/concurrency.py``).
"""

from collections import Counter

import pytest

from generations.models import CreditAccount, CreditEntry, Generation
from generations.services.generations import (
    GenerationSpec,
    VariationsUnaffordable,
    generation_variations_create,
)
from tests.concurrency import run_in_threads
from tests.conftest import requires_postgres
from tests.factories import UserFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

N = 6
PRICE = 40  # APIXO 480p silent: 10 credits/s x 4 s
SPEC = GenerationSpec(
    mode="text-to-video",
    prompt="a paper boat on a pond",
    resolution="480p",
    duration=4,
    sound=False,
    aspect_ratio="16:9",
)


@pytest.fixture(autouse=True)
def _no_submit_tasks(monkeypatch):
    monkeypatch.setattr("generations.services.generations.enqueue", lambda *a, **k: None)


def test_parallel_posts_of_one_key_make_one_group():
    member = UserFactory(credits=1000)
    results = run_in_threads(
        lambda i: generation_variations_create(
            user=member, spec=SPEC, count=3, client_token="one-key"
        ),
        N,
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {tuple(j.pk for j in r) for r in results} == {
        tuple(Generation.objects.order_by("variation_index").values_list("pk", flat=True))
    }
    assert Generation.objects.count() == 3
    assert CreditEntry.objects.filter(kind="hold").count() == 3
    account = CreditAccount.objects.get(user=member)
    assert (account.balance, account.held) == (1000 - 3 * PRICE, 3 * PRICE)


def test_parallel_groups_against_a_balance_for_two_make_two_whole_groups():
    member = UserFactory(credits=2 * 3 * PRICE + PRICE)  # two groups of 3 and one job more
    results = run_in_threads(
        lambda i: generation_variations_create(
            user=member, spec=SPEC, count=3, client_token=f"key-{i}"
        ),
        N,
    )
    refused = [r for r in results if isinstance(r, VariationsUnaffordable)]
    assert len(refused) == N - 2, results
    sizes = Counter(Generation.objects.values_list("variation_group", flat=True))
    assert sorted(sizes.values()) == [3, 3]  # no partial group
    assert CreditEntry.objects.filter(kind="hold").count() == 6
    account = CreditAccount.objects.get(user=member)
    assert (account.balance, account.held) == (PRICE, 6 * PRICE)
