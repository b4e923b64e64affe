"""The sweeper and the dispatcher's re-drives: nothing stays stuck, nothing retries forever.

services.sweeper (folded into every dispatch_pass): stuck ``submitting`` -> ``unknown`` (may
have been sent) or back to ``queued`` (provably not sent), overdue jobs -> ``expired`` with a
release. services.dispatch: lost submits, polls and downloads re-driven once per lease, each
job within its own attempt cap (docs/architecture.md "Generation lifecycle").
"""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from generations.models import Generation
from generations.providers import DownloadError, DownloadReason, DownloadRefused, DownloadResult
from generations.selectors.ledger import ledger_mismatches
from generations.services import dispatch, lifecycle
from generations.services.callbacks import generation_callback_receive
from generations.services.dispatch import dispatch_pass
from generations.services.lifecycle import (
    DOWNLOAD_MAX_ATTEMPTS,
    SUBMIT_MAX_ATTEMPTS,
    UNKNOWN_OUTCOME_GRACE,
    Outcome,
    download_lease,
    generation_download_retry,
    generation_finalize,
    generation_poll,
    generation_store_result,
    generation_submit,
)
from generations.services.sweeper import generations_sweep, submit_stuck_after
from tests.fake_apixo import (
    RESULT_URL,
    STATUS_URL,
    SUBMIT_URL,
    callback_body,
    envelope,
    give_token,
    settlements,
    status_calls,
    task_data,
)

pytestmark = pytest.mark.django_db
State = Generation.State


def submit_calls(api) -> int:
    return sum(1 for call in api.calls if call.request.url == SUBMIT_URL)


def stuck_submitting(make_job, *, sent: bool, attempts: int = 1, age: timedelta | None = None):
    """A job claimed by a worker ``age`` ago (default: past the stuck limit)."""
    age = age if age is not None else submit_stuck_after() + timedelta(seconds=1)
    then = timezone.now() - age
    generation = make_job(state=State.SUBMITTING, submit_attempts=attempts)
    give_token(generation)
    Generation.objects.filter(pk=generation.pk).update(
        submit_sent_at=then if sent else None, updated_at=then
    )
    return generation


# --- Stuck submits ---------------------------------------------------------------------------


def test_stuck_submitting_after_sending_moves_to_unknown_and_is_never_resent(api, make_job):
    generation = stuck_submitting(make_job, sent=True)

    report = generations_sweep()
    dispatch_pass()
    dispatch_pass()

    generation.refresh_from_db()
    assert report.unknown == 1
    assert generation.state == State.UNKNOWN
    assert generation.callback_token_hash  # a callback can still resolve it
    assert submit_calls(api) == 0
    assert settlements(generation) == ["hold"]
    # Unless a callback comes, the hold is released after the grace, not the 3 h deadline.
    grace_ends = timezone.now() + UNKNOWN_OUTCOME_GRACE
    assert abs(generation.deadline_at - grace_ends) < timedelta(seconds=30)
    assert generations_sweep(now=grace_ends + timedelta(seconds=31)).expired == 1
    assert settlements(generation) == ["hold", "release"]


def test_submitting_within_the_task_timeout_is_left_alone(make_job):
    generation = stuck_submitting(make_job, sent=True, age=submit_stuck_after() / 2)
    other = stuck_submitting(make_job, sent=False, age=submit_stuck_after() / 2)

    assert generations_sweep().unknown == 0

    for job in (generation, other):
        job.refresh_from_db()
        assert job.state == State.SUBMITTING


def test_stuck_submitting_that_sent_nothing_is_requeued_and_redriven_once(api, make_job):
    api.post(SUBMIT_URL, json=envelope({"taskId": "task_1"}))
    api.get(STATUS_URL, json=envelope(task_data("task_1", "processing")))
    generation = stuck_submitting(make_job, sent=False)

    report = dispatch_pass()  # sweep: back to queued; then the due submit is enqueued
    dispatch_pass()
    dispatch_pass()

    assert report.sweep.requeued == 1 and report.submits == 1
    generation.refresh_from_db()
    assert generation.state == State.SUBMITTED
    assert generation.submit_attempts == 2
    assert submit_calls(api) == 1


def test_stuck_submitting_at_the_attempt_cap_fails_with_a_release(api, make_job):
    generation = stuck_submitting(make_job, sent=False, attempts=SUBMIT_MAX_ATTEMPTS)

    assert generations_sweep().failed == 1

    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (State.FAILED, "SUBMIT_ABANDONED")
    assert settlements(generation) == ["hold", "release"]
    assert submit_calls(api) == 0
    assert ledger_mismatches() == []


def test_a_submit_whose_claim_was_taken_back_sends_nothing(api, make_job, monkeypatch):
    """A worker slower than the stuck limit: the sweeper requeued it, another worker claimed."""
    generation = make_job()
    real = lifecycle._request_for

    def slow_request_for(job):
        request = real(job)
        Generation.objects.filter(pk=job.pk).update(submit_attempts=job.submit_attempts + 1)
        return request

    monkeypatch.setattr(lifecycle, "_request_for", slow_request_for)

    assert generation_submit(generation_id=generation.pk) == ""
    assert submit_calls(api) == 0


# --- Lost tasks ------------------------------------------------------------------------------


def test_a_lost_queued_job_is_redriven_once(api, make_job):
    api.post(SUBMIT_URL, json=envelope({"taskId": "task_1"}))
    api.get(STATUS_URL, json=envelope(task_data("task_1", "processing")))
    generation = make_job(next_action_at=timezone.now() - timedelta(seconds=1))

    first = dispatch_pass()
    dispatch_pass()

    assert first.submits == 1
    assert submit_calls(api) == 1
    generation.refresh_from_db()
    assert generation.state == State.SUBMITTED and generation.submit_attempts == 1


def test_a_queued_job_whose_submit_task_is_pending_is_not_redriven(api, make_job):
    make_job(next_action_at=timezone.now() + timedelta(seconds=60))

    assert dispatch_pass().submits == 0
    assert submit_calls(api) == 0


def test_a_backed_up_broker_gets_no_submit_redrive_but_still_polls(api, make_job, monkeypatch):
    # With a backlog, a queued job's submit task is waiting, not lost: enqueued again, it
    # would only lengthen the backlog. Due polls still go, or nothing gets finalized.
    api.post(SUBMIT_URL, json=envelope({"taskId": "task_1"}))
    api.get(STATUS_URL, json=envelope(task_data("task_1", "processing")))
    due = timezone.now() - timedelta(seconds=1)
    queued = make_job(next_action_at=due)
    submitted = make_job(state=State.SUBMITTED, provider_task_id="task_2", next_action_at=due)
    backlog = {"tasks": dispatch.MAX_BROKER_BACKLOG}
    monkeypatch.setattr(dispatch, "broker_backlog", lambda: backlog["tasks"])

    report = dispatch_pass()

    assert (report.submits, report.polls) == (0, 1)
    assert submit_calls(api) == 0 and status_calls(api) == 1
    queued.refresh_from_db()
    assert queued.next_action_at == due
    submitted.refresh_from_db()
    assert submitted.poll_count == 1
    backlog["tasks"] = dispatch.MAX_BROKER_BACKLOG - 1
    assert dispatch_pass().submits == 1


def test_broker_backlog_counts_tasks_waiting_in_the_orm_broker(monkeypatch):
    from django_q.conf import Conf

    from generations.queue import enqueue

    monkeypatch.setattr(Conf, "SYNC", False)
    before = dispatch.broker_backlog()
    enqueue("refresh_provider_balances", group="test")
    enqueue("refresh_provider_balances", group="test")

    assert dispatch.broker_backlog() == before + 2


def test_broker_backlog_is_zero_in_sync_mode():
    assert dispatch.broker_backlog() == 0


def test_failed_connections_on_submit_stop_at_the_attempt_cap(api, make_job):
    """Nothing was sent, yet the provider cannot be reached: bounded by SUBMIT_MAX_ATTEMPTS.
    (429 and the provider's own 5xx back off until the deadline instead: test_failover.)"""
    api.post(SUBMIT_URL, body=requests.exceptions.ConnectTimeout("nothing sent"))
    generation = make_job()

    states = []
    for _ in range(SUBMIT_MAX_ATTEMPTS + 2):
        Generation.objects.filter(pk=generation.pk, state=State.QUEUED).update(
            next_action_at=timezone.now()
        )
        states.append(generation_submit(generation_id=generation.pk))

    assert states[: SUBMIT_MAX_ATTEMPTS - 1] == [State.QUEUED] * (SUBMIT_MAX_ATTEMPTS - 1)
    assert states[SUBMIT_MAX_ATTEMPTS - 1 :] == [State.FAILED, "", ""]
    assert submit_calls(api) == SUBMIT_MAX_ATTEMPTS
    generation.refresh_from_db()
    assert generation.fail_code == "connection_failed"
    assert settlements(generation) == ["hold", "release"]


def test_retryable_poll_errors_back_off(api, make_job):
    api.get(STATUS_URL, status=429, json=envelope(None, code=429, message="Slow down"))
    generation = make_job(state=State.SUBMITTED, provider_task_id="task_1")

    assert generation_poll(generation_id=generation.pk) == State.SUBMITTED

    generation.refresh_from_db()
    assert (generation.poll_errors, generation.poll_count) == (1, 1)
    assert generation.next_action_at >= timezone.now() - timedelta(seconds=1)


# --- Deadlines -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [State.UNKNOWN, State.SUBMITTED, State.QUEUED])
def test_a_job_without_a_final_answer_expires_with_a_release_at_its_deadline(api, make_job, state):
    deadline = timezone.now() + timedelta(hours=1)
    generation = make_job(state=state, deadline_at=deadline)

    assert generations_sweep(now=deadline - timedelta(seconds=1)).expired == 0
    generation.refresh_from_db()
    assert generation.state == state

    assert generations_sweep(now=deadline + timedelta(seconds=1)).expired == 1
    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (State.EXPIRED, "EXPIRED")
    assert settlements(generation) == ["hold", "release"]
    assert generations_sweep(now=deadline + timedelta(hours=1)).expired == 0
    assert len(api.calls) == 0
    assert ledger_mismatches() == []


def test_an_expired_jobs_late_success_is_recorded_and_moves_no_money(api, make_job):
    """Issue #12 item 1: a success after expiry is recorded for managers, not dropped."""
    generation = make_job(state=State.UNKNOWN, deadline_at=timezone.now() - timedelta(seconds=1))
    token = give_token(generation)
    generations_sweep()
    api.get(STATUS_URL, json=envelope(task_data("task_1", "success")))

    assert generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_1", "success")
    )
    generation.refresh_from_db()
    assert generation.state == State.EXPIRED
    assert (generation.late_state, generation.late_result_url) == (State.SUCCEEDED, RESULT_URL)
    assert status_calls(api) == 1
    assert settlements(generation) == ["hold", "release"]
    assert ledger_mismatches() == []


def test_an_expired_jobs_late_failure_changes_nothing(api, make_job):
    generation = make_job(state=State.UNKNOWN, deadline_at=timezone.now() - timedelta(seconds=1))
    token = give_token(generation)
    generations_sweep()
    api.get(STATUS_URL, json=envelope(task_data("task_1", "failed")))

    assert generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_1", "failed")
    )
    generation.refresh_from_db()
    assert (generation.state, generation.late_state) == (State.EXPIRED, "")
    assert settlements(generation) == ["hold", "release"]


# --- Result downloads ------------------------------------------------------------------------


@pytest.fixture
def downloads(monkeypatch):
    """Replace the guarded downloader; ``downloads.errors`` are raised in order, then success."""

    class Fake:
        errors: list = []
        calls = 0

        def __call__(self, url, fileobj, **kwargs):
            self.calls += 1
            assert url == RESULT_URL
            if self.errors:
                raise self.errors.pop(0)
            fileobj.write(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
            return DownloadResult(content_type="video/mp4", size_bytes=112, final_url=url)

    fake = Fake()
    monkeypatch.setattr(lifecycle, "download_to_file", fake)
    return fake


def succeeded(make_job) -> Generation:
    generation = make_job(state=State.SUBMITTED, provider_task_id="task_1")
    generation_finalize(
        generation_id=generation.pk, outcome=Outcome(State.SUCCEEDED, result_url=RESULT_URL)
    )
    generation.refresh_from_db()
    return generation


def test_a_lost_download_task_is_redriven_after_its_lease(make_job, downloads, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    generation = succeeded(make_job)  # its download task is "lost": never run here
    assert generation.result_state == Generation.ResultState.PENDING

    assert dispatch_pass().downloads == 0
    Generation.objects.filter(pk=generation.pk).update(
        next_action_at=timezone.now() - timedelta(seconds=1)
    )
    assert generation.next_action_at >= generation.finished_at + download_lease()
    assert dispatch_pass().downloads == 1

    generation.refresh_from_db()
    assert generation.result_state == Generation.ResultState.STORED
    assert generation.download_attempts == 1 and downloads.calls == 1


def test_retryable_download_failures_stop_at_the_attempt_cap(make_job, downloads):
    downloads.errors = [
        DownloadError("The file's server could not be reached.", reason=DownloadReason.CONNECTION)
        for _ in range(DOWNLOAD_MAX_ATTEMPTS + 1)
    ]
    generation = succeeded(make_job)

    results = []
    for _ in range(DOWNLOAD_MAX_ATTEMPTS + 1):
        results.append(generation_store_result(generation_id=generation.pk))

    assert results == ["pending"] * (DOWNLOAD_MAX_ATTEMPTS - 1) + ["failed", ""]
    assert downloads.calls == DOWNLOAD_MAX_ATTEMPTS
    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED  # the provider delivered; credits captured
    assert generation.result_state == Generation.ResultState.FAILED
    assert generation.fail_message == "The file's server could not be reached."
    assert generation.next_action_at is None
    assert settlements(generation) == ["hold", "capture"]


def test_a_refused_download_fails_at_once(make_job, downloads):
    downloads.errors = [DownloadRefused("The file is too large.", reason=DownloadReason.SIZE)]
    generation = succeeded(make_job)

    assert generation_store_result(generation_id=generation.pk) == "failed"
    assert downloads.calls == 1


def test_a_download_killed_mid_way_counts_an_attempt(make_job, downloads):
    generation = succeeded(make_job)
    Generation.objects.filter(pk=generation.pk).update(download_attempts=DOWNLOAD_MAX_ATTEMPTS)

    assert generation_store_result(generation_id=generation.pk) == "failed"
    assert downloads.calls == 0


def test_a_manager_can_retry_a_failed_download(make_job, downloads, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    downloads.errors = [DownloadRefused("Nope.", reason=DownloadReason.STATUS)]
    generation = succeeded(make_job)
    generation_store_result(generation_id=generation.pk)

    assert generation_download_retry(generation_id=generation.pk)
    assert not generation_download_retry(generation_id=generation.pk)
    assert dispatch_pass().downloads == 1
    generation.refresh_from_db()
    assert generation.result_state == Generation.ResultState.STORED
    assert generation.fail_message == ""


def test_a_dropped_submit_parks_the_job_unknown_with_a_short_deadline(api, make_job):
    """The connection drops after the request was sent: never re-sent, released after the
    grace unless a callback settles it (docs/architecture.md "Generation lifecycle")."""
    import requests

    api.post(SUBMIT_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    generation = make_job(state=State.QUEUED, deadline_at=timezone.now() + timedelta(hours=3))

    assert generation_submit(generation_id=generation.pk) == State.UNKNOWN

    generation.refresh_from_db()
    assert generation.next_action_at is None
    assert generation.deadline_at <= timezone.now() + UNKNOWN_OUTCOME_GRACE
    assert generations_sweep(now=generation.deadline_at + timedelta(seconds=1)).expired == 1
    assert submit_calls(api) == 1
    assert settlements(generation) == ["hold", "release"]


def test_one_job_that_raises_does_not_stop_the_sweep(make_job, monkeypatch):
    """Review: an exception for one job aborted the sweep, and with it every dispatcher pass.
    It is logged, reported to managers and left for the next sweep; the others are settled."""
    from generations.models import ProviderAlert
    from generations.services import sweeper

    past = timezone.now() - timedelta(minutes=1)
    broken = make_job(state=State.SUBMITTED, provider_task_id="task_b", deadline_at=past)
    fine = make_job(state=State.SUBMITTED, provider_task_id="task_f", deadline_at=past)
    real = sweeper.generation_finalize

    def finalize(*, generation_id, **kwargs):
        if generation_id == broken.pk:
            raise RuntimeError("a bug in one job")
        return real(generation_id=generation_id, **kwargs)

    monkeypatch.setattr(sweeper, "generation_finalize", finalize)

    report = generations_sweep()

    assert report.expired == 1
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert (broken.state, fine.state) == (State.SUBMITTED, State.EXPIRED)
    assert settlements(broken) == ["hold"] and settlements(fine) == ["hold", "release"]
    alert = ProviderAlert.objects.get(kind="sweep_failed")
    assert f"#{broken.pk}" in alert.detail


def test_a_stuck_submit_moved_to_unknown_alerts_managers(api, make_job):
    """Review: a worker killed mid-submit leaves its job ``unknown``, to be refunded in 30
    minutes while the provider may bill the task: like every unknown outcome, managers hear
    of it (one alert per provider, counted up)."""
    from generations.models import ProviderAlert
    from generations.services.sweeper import SUBMIT_STUCK_MESSAGE

    stuck_submitting(make_job, sent=True)
    stuck_submitting(make_job, sent=True)

    assert generations_sweep().unknown == 2

    alert = ProviderAlert.objects.get(kind="submit_stuck")
    assert (alert.provider, alert.message) == ("apixo", SUBMIT_STUCK_MESSAGE)
    assert "2 generation(s)" in alert.detail
