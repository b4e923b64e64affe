"""One dispatcher at a time across nodes: the lease under real concurrency (PostgreSQL)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generations.models import WorkerLease
from generations.services.dispatch import lease_acquire, lease_release

from ..concurrency import run_in_threads
from ..conftest import requires_postgres

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
NODES = 8


def test_of_many_nodes_racing_for_a_free_lease_exactly_one_wins():
    results = run_in_threads(lambda i: lease_acquire(name="dispatcher", holder=f"loop-{i}"), NODES)
    assert results.count(True) == 1, results
    assert results.count(False) == NODES - 1
    winner = f"loop-{results.index(True)}"
    assert WorkerLease.objects.get(name="dispatcher").holder == winner


def test_an_expired_lease_is_taken_over_by_exactly_one_node():
    WorkerLease.objects.create(
        name="dispatcher", holder="dead-node", expires_at=timezone.now() - timedelta(seconds=1)
    )
    results = run_in_threads(lambda i: lease_acquire(name="dispatcher", holder=f"loop-{i}"), NODES)
    assert results.count(True) == 1, results
    # The holder renews; the others still cannot take it until it is released.
    winner = f"loop-{results.index(True)}"
    assert lease_acquire(name="dispatcher", holder=winner)
    assert not lease_acquire(name="dispatcher", holder="late-node")
    lease_release(name="dispatcher", holder=winner)
    assert lease_acquire(name="dispatcher", holder="late-node")
