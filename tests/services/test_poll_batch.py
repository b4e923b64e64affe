"""A batch of polls keeps within its time budget (review of issue #12).

django-q2 kills a task after ``Q_CLUSTER["timeout"]`` (90 s) and hands the whole batch out
again. A batch is up to 25 jobs and each status read may hang, so each read of a poll has a
total budget (``lifecycle.POLL_READ_BUDGET_S``) and the batch stops starting reads after
``dispatch.poll_batch_budget()``; the jobs it did not reach are due again at once.
"""

import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from generations.models import Generation
from generations.services import dispatch, lifecycle
from tests.fake_apixo import STATUS_URL

pytestmark = pytest.mark.django_db
State = Generation.State


def claimed_jobs(make_job, count: int) -> list[Generation]:
    """``count`` submitted jobs, claimed by a dispatcher pass (due a minute from now)."""
    claim = timezone.now() + dispatch.JOB_LEASE
    return [
        make_job(
            state=State.SUBMITTED,
            provider_task_id=f"task_{n}",
            submitted_at=timezone.now(),
            next_action_at=claim,
        )
        for n in range(count)
    ]


def test_the_budget_leaves_room_for_the_last_read_within_the_task_timeout_and_the_claim(
    settings,
):
    timeout = settings.Q_CLUSTER["timeout"]
    last_read_ends = dispatch.poll_batch_budget() + lifecycle.POLL_READ_BUDGET_S
    assert last_read_ends < timeout
    assert last_read_ends < dispatch.JOB_LEASE.total_seconds()  # not handed out twice


def test_a_batch_out_of_time_defers_the_rest_to_the_next_pass(make_job, monkeypatch):
    jobs = claimed_jobs(make_job, 4)
    polled = []

    def slow_poll(*, generation_id):
        polled.append(generation_id)
        time.sleep(0.05)  # each poll outlasts the whole (shrunk) budget below
        return State.SUBMITTED

    monkeypatch.setattr(dispatch, "poll_batch_budget", lambda: 0.01)
    monkeypatch.setattr(dispatch, "generation_poll", slow_poll)
    before = timezone.now()

    results = dispatch.generations_poll_batch(generation_ids=[job.pk for job in jobs])

    assert polled == [jobs[0].pk]
    assert results == {jobs[0].pk: State.SUBMITTED} | {j.pk: "deferred" for j in jobs[1:]}
    for job in jobs[1:]:
        job.refresh_from_db()
        assert before <= job.next_action_at <= timezone.now()  # due now, not after the claim
    jobs[0].refresh_from_db()
    assert jobs[0].next_action_at > timezone.now() + timedelta(seconds=30)


def test_deferring_leaves_a_job_that_was_finalized_meanwhile(make_job):
    (job,) = claimed_jobs(make_job, 1)
    done = make_job(state=State.SUCCEEDED)
    assert dispatch.generations_poll_defer(generation_ids=[job.pk, done.pk]) == 1
    done.refresh_from_db()
    assert done.next_action_at != job.next_action_at


def test_a_poll_read_has_a_total_budget(api, make_job, monkeypatch):
    (job,) = claimed_jobs(make_job, 1)
    asked = {}
    real_get_provider = lifecycle.get_provider

    def get_provider(name, **timeouts):
        asked.update(timeouts)
        return real_get_provider(name, **timeouts)

    monkeypatch.setattr(lifecycle, "get_provider", get_provider)
    api.get(STATUS_URL, body=requests.exceptions.ReadTimeout("hung"))

    assert lifecycle.generation_poll(generation_id=job.pk) == State.SUBMITTED
    assert asked == {"total_timeout": lifecycle.POLL_READ_BUDGET_S}
    job.refresh_from_db()
    assert (job.state, job.poll_errors) == (State.SUBMITTED, 1)
