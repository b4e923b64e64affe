"""Concurrency on PostgreSQL through the real entry points (issue #12 item 3).

N submissions at once, through ``generation_create`` and through the web form, against a
balance (or a monthly cap) that covers k jobs: exactly k jobs, k holds, k submit tasks, no
negative balance, and ``ledger_check`` passes (docs/architecture.md "What must hold": "N parallel
submits against a balance that covers k jobs give exactly k holds"). Each thread has its
own database connection; a barrier releases them together (``tests/concurrency.py``).
"""

import pytest
from django.test import Client
from django.urls import reverse

from generations.models import CreditAccount, CreditEntry, Generation
from generations.selectors.ledger import ledger_mismatches
from generations.services.generations import GenerationSpec, generation_create
from generations.services.ledger import InsufficientCredits, MonthlyCapExceeded
from generations.services.team import member_cap_set
from tests.concurrency import run_in_threads
from tests.conftest import requires_postgres
from tests.factories import ManagerFactory, UserFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

N = 12
PRICE = 40  # APIXO 480p silent: 10 credits/s x 4 s


@pytest.fixture
def submits(monkeypatch) -> list[int]:
    """Record the submit tasks queued on commit instead of running them in-process."""
    queued: list[int] = []
    monkeypatch.setattr(
        "generations.services.generations.enqueue",
        lambda task, generation_id, *claim, **kwargs: queued.append(generation_id),
    )
    return queued


def spec(i: int) -> GenerationSpec:
    return GenerationSpec(
        mode="text-to-video",
        prompt=f"a paper boat on a pond, take {i}",
        resolution="480p",
        duration=4,
        sound=False,
        aspect_ratio="16:9",
    )


def assert_exactly(k: int, member, submits: list[int]) -> None:
    jobs = Generation.objects.filter(user=member)
    assert jobs.count() == k
    assert set(jobs.values_list("state", flat=True)) == {"queued"}
    holds = CreditEntry.objects.filter(kind="hold", account__user=member)
    assert holds.count() == k
    assert set(holds.values_list("generation", flat=True)) == set(jobs.values_list("pk", flat=True))
    assert sorted(submits) == sorted(jobs.values_list("pk", flat=True))
    account = CreditAccount.objects.get(user=member)
    assert account.balance >= 0 and account.held == k * PRICE
    assert ledger_mismatches() == []


def test_parallel_generation_create_against_a_balance_for_5(submits):
    member = UserFactory(credits=5 * PRICE)

    results = run_in_threads(lambda i: generation_create(user=member, spec=spec(i)), N)

    created = [r for r in results if isinstance(r, Generation)]
    refused = [r for r in results if isinstance(r, InsufficientCredits)]
    assert (len(created), len(refused)) == (5, N - 5), results
    assert_exactly(5, member, submits)
    assert CreditAccount.objects.get(user=member).balance == 0


def test_parallel_generation_create_against_a_monthly_cap_for_4(submits):
    member = UserFactory(credits=100_000)  # the balance is not the limit here; the cap is
    member_cap_set(user=member, cap=4 * PRICE + PRICE // 2, actor=ManagerFactory())

    results = run_in_threads(lambda i: generation_create(user=member, spec=spec(i)), N)

    created = [r for r in results if isinstance(r, Generation)]
    refused = [r for r in results if isinstance(r, MonthlyCapExceeded)]
    assert (len(created), len(refused)) == (4, N - 4), results
    assert_exactly(4, member, submits)


def post_form(member, i: int) -> int:
    """Post the new-generation form as ``member`` from this thread; return the status."""
    client = Client()
    client.force_login(member)
    response = client.post(
        reverse("generations:new"),
        {
            "mode": "text-to-video",
            "prompt": f"a paper boat on a pond, take {i}",
            "resolution": "480p",
            "duration": "4",
            "sound": "off",
            "aspect_ratio": "16:9",
            "provider": "apixo",
            "client_token": f"click-{i}",
        },
    )
    return response.status_code


def test_parallel_web_form_posts_against_a_balance_for_5(submits):
    member = UserFactory(credits=5 * PRICE)

    statuses = run_in_threads(lambda i: post_form(member, i), N)

    # A created job redirects to its page; a refused one re-renders the form with the error.
    assert sorted(statuses) == [200] * (N - 5) + [302] * 5, statuses
    assert_exactly(5, member, submits)


def test_parallel_web_form_posts_against_a_monthly_cap_for_4(submits):
    member = UserFactory(credits=100_000)
    member_cap_set(user=member, cap=4 * PRICE, actor=ManagerFactory())

    statuses = run_in_threads(lambda i: post_form(member, i), N)

    assert sorted(statuses) == [200] * (N - 4) + [302] * 4, statuses
    assert_exactly(4, member, submits)
