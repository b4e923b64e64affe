"""A poll batch polls only the jobs that still hold its claim (issue #14 item 5).

With 10,000 jobs created at once their submit tasks fill the broker, and poll batches
enqueued behind them waited longer than their claim (``dispatch.JOB_LEASE``, 60 s): the next
passes claimed the same jobs again and enqueued duplicate batches, each of which polled them
(benchmarks/ladder.py: 8,137 tasks waiting for 4,420 queued jobs). Now a batch carries its
claim (the ``next_action_at`` the pass set), takes over only the jobs still holding it when it
starts, and a pass claims polls for as long as the backlog is expected to take
(``dispatch.poll_claim``). A lost batch's jobs are still re-driven once its claim runs out.
"""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from generations.models import Generation, OpsMetric
from generations.services import dispatch
from generations.services.dispatch import dispatch_pass, generations_poll_batch
from generations.services.lifecycle import Outcome, generation_finalize
from tests.concurrency import run_in_threads
from tests.conftest import requires_postgres
from tests.fake_apixo import STATUS_URL, envelope, status_calls, task_data

pytestmark = pytest.mark.django_db
State = Generation.State


@pytest.fixture
def held_batches(monkeypatch):
    """Poll batches the passes enqueue, held back (waiting in the broker) instead of run."""
    batches: list[tuple] = []

    def enqueue(task, *args, **kwargs):
        assert task == "poll_generations", task
        batches.append(args)

    monkeypatch.setattr(dispatch, "enqueue", enqueue)
    return batches


def run(batch: tuple) -> dict[int, str]:
    """Run a held batch as the worker would (``tasks.poll_generations``)."""
    ids, claimed_until, enqueued_at, backlog = batch
    return generations_poll_batch(
        generation_ids=ids, claimed_until=claimed_until, enqueued_at=enqueued_at, backlog=backlog
    )


def observe(per_task: timedelta) -> None:
    """Record that a batch enqueued behind 1,000 tasks waited 1,000 times ``per_task``."""
    dispatch.poll_wait_observe(enqueued_at=timezone.now() - per_task * 1_000, backlog=1_000)


def submitted_job(make_job, api, at):
    api.get(STATUS_URL, json=envelope(task_data("task_1", "processing")))
    return make_job(
        state=State.SUBMITTED,
        provider_task_id="task_1",
        submitted_at=at,
        next_action_at=at - timedelta(seconds=1),
    )


def test_a_batch_that_waited_past_its_claim_leaves_jobs_claimed_again(api, make_job, held_batches):
    start = timezone.now()
    job = submitted_job(make_job, api, start)
    with time_machine.travel(start, tick=False):
        dispatch_pass()
    later = start + dispatch.JOB_LEASE + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        dispatch_pass()  # the first batch still waits: its job is due again and claimed
    first, second = held_batches
    assert first[0] == second[0] == [job.pk]

    with time_machine.travel(later + timedelta(seconds=5), tick=False):
        assert run(first) == {job.pk: "skipped"}
        assert status_calls(api) == 0
        assert run(second) == {job.pk: State.SUBMITTED}
    assert status_calls(api) == 1
    job.refresh_from_db()
    assert job.poll_count == 1


def test_a_starting_batch_claims_its_jobs_again(api, make_job, held_batches, monkeypatch):
    start = timezone.now()
    submitted_job(make_job, api, start)
    with time_machine.travel(start, tick=False):
        dispatch_pass()
    claimed = []
    monkeypatch.setattr(
        dispatch,
        "generation_poll",
        lambda *, generation_id: (
            claimed.append(Generation.objects.get(pk=generation_id).next_action_at)
            or State.SUBMITTED
        ),
    )
    began = start + timedelta(seconds=50)  # 10 s of the claim left

    with time_machine.travel(began, tick=False):
        run(held_batches[0])

    assert claimed == [began + dispatch.JOB_LEASE]


def test_a_backed_up_pass_does_not_enqueue_a_batch_again_while_the_first_waits(
    api, make_job, held_batches, monkeypatch
):
    start = timezone.now()
    backlog = {"tasks": 5_000}
    monkeypatch.setattr(dispatch, "broker_backlog", lambda: backlog["tasks"])
    # A batch enqueued behind 1,000 tasks started 100 s later: 100 ms a task.
    with time_machine.travel(start, tick=False):
        run(([], start, start - timedelta(seconds=100), 1_000))
    assert OpsMetric.objects.get(name=dispatch.POLL_WAIT_METRIC).value == 100_000
    job = submitted_job(make_job, api, start)

    with time_machine.travel(start, tick=False):
        dispatch_pass()
    (batch,) = held_batches
    assert batch[0] == [job.pk]
    job.refresh_from_db()
    assert job.next_action_at == start + dispatch.JOB_LEASE + timedelta(seconds=500)
    for minutes in (2, 5, 8):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert dispatch_pass().polls == 0
    assert len(held_batches) == 1

    with time_machine.travel(start + timedelta(minutes=9), tick=False):
        assert run(batch) == {job.pk: State.SUBMITTED}


def test_a_poll_claim_is_capped():
    assert dispatch.poll_claim(backlog=100_000) == dispatch.JOB_LEASE  # nothing observed yet
    observe(timedelta(seconds=10))

    assert dispatch.poll_claim(backlog=100_000) == dispatch.POLL_CLAIM_MAX
    assert dispatch.poll_claim(backlog=dispatch.MAX_BROKER_BACKLOG - 1) == dispatch.JOB_LEASE


@pytest.mark.parametrize("backlog", [0, 5_000])
def test_a_lost_batchs_jobs_are_polled_after_its_claim(
    api, make_job, held_batches, monkeypatch, backlog
):
    monkeypatch.setattr(dispatch, "broker_backlog", lambda: backlog)
    observe(timedelta(milliseconds=100))
    start = timezone.now()
    job = submitted_job(make_job, api, start)
    with time_machine.travel(start, tick=False):
        dispatch_pass()
    held_batches.clear()  # the task is lost
    job.refresh_from_db()
    claim_ends = job.next_action_at
    assert claim_ends > start

    with time_machine.travel(claim_ends - timedelta(seconds=1), tick=False):
        assert dispatch_pass().polls == 0
    with time_machine.travel(claim_ends, tick=False):
        assert dispatch_pass().polls == 1
        assert run(held_batches[0]) == {job.pk: State.SUBMITTED}
    assert status_calls(api) == 1


def test_a_batch_without_a_claim_polls_every_job(api, make_job):
    job = submitted_job(make_job, api, timezone.now())

    assert generations_poll_batch(generation_ids=[job.pk]) == {job.pk: State.SUBMITTED}
    assert status_calls(api) == 1


def test_a_job_finalized_while_its_batch_waited_is_skipped(api, make_job, held_batches):
    job = submitted_job(make_job, api, timezone.now())
    dispatch_pass()
    generation_finalize(generation_id=job.pk, outcome=Outcome(State.FAILED, fail_code="X"))

    assert run(held_batches[0]) == {job.pk: "skipped"}
    assert status_calls(api) == 0


# --- A pass and a starting batch at once (PostgreSQL: row locks, two connections) ------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_a_pass_and_a_late_batch_racing_never_both_take_a_job(make_job, round_):
    old_claim = timezone.now() - timedelta(seconds=1)  # the batch waited past it
    jobs = [
        make_job(state=State.SUBMITTED, provider_task_id=f"task_{n}", next_action_at=old_claim)
        for n in range(20)
    ]
    ids = [job.pk for job in jobs]
    new_claim = timezone.now() + dispatch.JOB_LEASE

    def take(i: int) -> set[int]:
        if i == 0:
            due = Generation.objects.filter(state=State.SUBMITTED, next_action_at__lte=old_claim)
            return set(dispatch._claim(due, limit=len(ids), until=new_claim))
        return dispatch.generations_poll_reclaim(generation_ids=ids, claimed_until=old_claim)

    by_pass, by_batch = run_in_threads(take, 2)

    assert not isinstance(by_pass, Exception) and not isinstance(by_batch, Exception)
    assert by_pass.isdisjoint(by_batch) and by_pass | by_batch == set(ids)
    claims = dict(Generation.objects.filter(pk__in=ids).values_list("pk", "next_action_at"))
    assert all(claims[pk] == new_claim for pk in by_pass)
    assert all(claims[pk] > new_claim - timedelta(seconds=1) for pk in by_batch)
