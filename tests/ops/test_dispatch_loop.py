"""The dispatcher loop hands over to a successor when it runs out of time with jobs in flight.

Without that, once submits stopped, due polls waited for the minute schedule (issue #14 item 2:
p95 finalize delay 25-30 s in benchmarks/inflight.py).
"""

from types import SimpleNamespace

import pytest

from generations import tasks
from generations.models import WorkerLease

pytestmark = pytest.mark.django_db


@pytest.fixture
def loop(monkeypatch, settings):
    """Run ``dispatch_loop`` for about 0.05 s of 0.01 s passes; record what it enqueues."""
    settings.DISPATCH_INTERVAL = 0.01
    settings.DISPATCHER_AUTOSTART = True
    monkeypatch.setattr(tasks, "LOOP_SECONDS", 0.05)
    enqueued = []
    monkeypatch.setattr(tasks, "enqueue", lambda name, *a, **kw: enqueued.append(name))

    def run(in_flight: int) -> tuple[str, list[str]]:
        monkeypatch.setattr(
            tasks, "dispatch_pass", lambda **kw: SimpleNamespace(in_flight=in_flight)
        )
        return tasks.dispatch_loop(), enqueued

    return run


def test_out_of_time_with_jobs_in_flight_it_starts_its_successor(loop):
    result, enqueued = loop(in_flight=3)

    assert enqueued == ["dispatch_loop"]
    assert result.endswith("handed over")
    # The lease is free for the successor.
    assert not WorkerLease.objects.exclude(holder="").filter(name="dispatcher").exists()


def test_out_of_time_with_nothing_in_flight_it_just_stops(loop):
    result, enqueued = loop(in_flight=0)

    assert enqueued == []
    assert not result.endswith("handed over")
