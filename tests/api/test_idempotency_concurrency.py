"""Idempotent creation under concurrency, on PostgreSQL (docs/api.md "Idempotency").

N parallel ``POST /api/v1/generations`` with one ``Idempotency-Key`` and one body give one
job and one hold, every answer naming that job; with different bodies, one body wins the key
and the others are refused, nothing written for them. Each thread has its own connection; a
barrier releases them together (``tests/concurrency.py``).
"""

import pytest

from generations.models import ApiIdempotencyKey, CreditAccount, CreditEntry, Generation
from generations.selectors.ledger import ledger_mismatches
from tests.concurrency import run_in_threads
from tests.conftest import requires_postgres
from tests.factories import UserFactory

from .conftest import TEXT, client_for

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

N = 8
URL = "/api/v1/generations"


@pytest.fixture(autouse=True)
def _no_submit(monkeypatch):
    monkeypatch.setattr("generations.services.generations.enqueue", lambda *a, **k: None)


def test_parallel_requests_with_one_key_make_one_job_and_one_hold():
    member = UserFactory(credits=10_000)
    client = client_for(member)
    answers = run_in_threads(
        lambda i: client.post(URL, TEXT, headers={"Idempotency-Key": "row-1"}), N
    )
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {200, 201} and 201 in statuses, statuses
    assert len({a.json()["id"] for a in answers}) == 1
    job = Generation.objects.get(user=member)
    assert CreditEntry.objects.filter(kind="hold", account__user=member).count() == 1
    account = CreditAccount.objects.get(user=member)
    assert (account.balance, account.held) == (10_000 - job.price_credits, job.price_credits)
    assert ApiIdempotencyKey.objects.get().generation == job
    assert ledger_mismatches() == []


def test_parallel_requests_with_one_key_and_different_bodies_make_one_job():
    member = UserFactory(credits=10_000)
    client = client_for(member)
    answers = run_in_threads(
        lambda i: client.post(
            URL, {**TEXT, "prompt": f"a paper boat, take {i}"}, headers={"Idempotency-Key": "k"}
        ),
        N,
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1 and statuses.count(422) == N - 1, statuses
    refused = [a.json() for a in answers if a.status_code == 422]
    assert {p["type"] for p in refused} == {"urn:seedance:problem:idempotency-key-reused"}
    assert Generation.objects.filter(user=member).count() == 1
    assert CreditEntry.objects.filter(kind="hold", account__user=member).count() == 1
    assert ledger_mismatches() == []
