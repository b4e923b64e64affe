"""Only a definitive answer ends a job (issue #12 items 1 and 4; docs/architecture.md "What must
hold").

A status read that cannot be understood (an HTML maintenance page with status 200, a 3xx, a
502 page, a read timeout, a 429) says nothing about the task: the provider may still run and
bill it. Such a job stays submitted with its hold, backs off with jitter and is finalized by
the next well-formed answer. A documented "task does not exist" is believed only when a
second one comes after a delay. At the deadline the job expires with a release; a success
reported after that is recorded for managers and never charged. A provider removed from the
configuration fails its jobs at once, with a release and an alert.

Both providers are faked at the HTTP seam with ``responses`` (tests/fake_apixo.py).
"""

import itertools
from datetime import timedelta

import pytest
import requests
import time_machine
from django.utils import timezone

from generations.models import CreditAccount, Generation, ProviderAlert, WorkerHeartbeat
from generations.selectors.ledger import ledger_mismatches
from generations.services.callbacks import generation_callback_receive
from generations.services.dispatch import dispatch_pass
from generations.services.lifecycle import generation_poll, generation_submit
from generations.services.sweeper import generations_sweep
from tests.fake_apixo import (
    RESULT_URL,
    STATUS_URL,
    callback_body,
    envelope,
    give_token,
    settlements,
    status_calls,
    task_data,
)

pytestmark = pytest.mark.django_db
State = Generation.State

AIV_BASE = "https://api.aivideoapi.test/v1"
AIV_TASK = "7d89c51e-9430-410e-909e-df347131ebaa"
AIV_TASK_URL = f"{AIV_BASE}/tasks/{AIV_TASK}"
AIV_MODEL = "doubao-seedance-1.5-pro"
TASK_IDS = (f"task_{n}" for n in itertools.count(1))
# lifecycle.NOT_FOUND_RECHECK_S: a second "not found" counts only this long after the first.
RECHECK_S = 60
MAINTENANCE = "<!doctype html><html><body><h1>Down for maintenance</h1></body></html>"


@pytest.fixture(autouse=True)
def _real_time(settings):
    """Documented figures, unscaled (the test settings scale waits to zero)."""
    settings.POLL_TIME_SCALE = 1.0


@pytest.fixture
def aiv(api, settings):
    """aivideoapi.ai configured too (faked on the same ``responses`` mock)."""
    settings.AIVIDEOAPI_BASE_URL = AIV_BASE
    settings.AIVIDEOAPI_API_KEY = "sk-test-key"
    return api


def submitted(make_job, **fields) -> Generation:
    fields.setdefault("provider_task_id", next(TASK_IDS))
    return make_job(state=State.SUBMITTED, submitted_at=timezone.now(), **fields)


def aiv_job(make_job) -> Generation:
    return submitted(make_job, provider="aivideoapi", model_id=AIV_MODEL, provider_task_id=AIV_TASK)


def aiv_task(status: str) -> dict:
    task = {"id": AIV_TASK, "status": status, "model": AIV_MODEL, "created_at": 1774790227}
    if status == "completed":
        task |= {"completed_at": 1774790327, "output": {"urls": [RESULT_URL]}}
    return task


def held(generation: Generation) -> tuple[int, int]:
    account = CreditAccount.objects.get(user=generation.user)
    return account.balance, account.held


# --- Unreadable and transient answers: back off, keep the hold -------------------------------

APIXO_TRANSIENT = {
    "html_200_maintenance": {"status": 200, "body": MAINTENANCE, "content_type": "text/html"},
    "redirect_302": {"status": 302, "headers": {"Location": "https://apixo.test/login"}},
    "html_502": {"status": 502, "body": MAINTENANCE, "content_type": "text/html"},
    "read_timeout": {"body": requests.exceptions.ReadTimeout("read timed out")},
    "dropped": {"body": requests.exceptions.ConnectionError("Connection aborted.")},
    "429": {"status": 429, "json": envelope(None, code=429, message="Rate limit exceeded")},
    "503": {"status": 503, "json": envelope(None, code=503, message="Unavailable")},
    "wrong_envelope": {"status": 200, "json": {"ok": True, "task": {"state": "failed"}}},
    "html_404": {"status": 404, "body": "<html>Not Found</html>", "content_type": "text/html"},
    "400_on_a_read": {"status": 400, "json": envelope(None, code=400, message="Invalid request")},
    "500_in_a_200": {"status": 200, "json": envelope(None, code=500, message="Internal error")},
}


@pytest.mark.parametrize("fault", list(APIXO_TRANSIENT))
def test_an_unreadable_or_transient_status_answer_backs_off_and_keeps_the_hold(
    api, make_job, fault
):
    api.get(STATUS_URL, **APIXO_TRANSIENT[fault])
    generation = submitted(make_job)

    assert generation_poll(generation_id=generation.pk) == State.SUBMITTED

    generation.refresh_from_db()
    assert (generation.state, generation.poll_errors) == (State.SUBMITTED, 1)
    assert settlements(generation) == ["hold"]
    assert held(generation) == (960, 40)
    # Full jitter under a 5 s ceiling, plus a 1 s floor (lifecycle.poll_backoff).
    wait = (generation.next_action_at - timezone.now()).total_seconds()
    assert 0.5 < wait <= 6.0

    api.replace("GET", STATUS_URL, json=envelope(task_data(generation.provider_task_id, "success")))
    assert generation_poll(generation_id=generation.pk) == State.SUCCEEDED
    assert settlements(generation) == ["hold", "capture"]
    assert ledger_mismatches() == []


def test_a_400_on_a_status_read_is_surfaced_to_managers_without_moving_money(api, make_job):
    api.get(STATUS_URL, status=400, json=envelope(None, code=400, message="Invalid request"))
    generation = submitted(make_job)

    for _ in range(3):
        generation_poll(generation_id=generation.pk)

    generation.refresh_from_db()
    assert (generation.state, generation.poll_errors) == (State.SUBMITTED, 3)
    assert settlements(generation) == ["hold"]
    alert = ProviderAlert.objects.get()
    assert (alert.kind, alert.count) == ("http_400", 3)


def test_consecutive_errors_back_off_longer_with_jitter(api, make_job):
    api.get(STATUS_URL, status=502, body=MAINTENANCE, content_type="text/html")
    jobs = [submitted(make_job) for _ in range(12)]
    Generation.objects.filter(pk__in=[j.pk for j in jobs]).update(poll_errors=5)

    for job in jobs:
        generation_poll(generation_id=job.pk)

    now = timezone.now()
    waits = [
        (at - now).total_seconds()
        for at in Generation.objects.filter(pk__in=[j.pk for j in jobs]).values_list(
            "next_action_at", flat=True
        )
    ]
    assert all(0.5 < w <= 1 + 120 for w in waits)  # ceiling 5 * 2**5 = 160 s, capped at 120
    assert len({round(w, 3) for w in waits}) > 6  # jittered, not in lockstep


AIV_TRANSIENT = {
    "html_200_maintenance": {"status": 200, "body": MAINTENANCE, "content_type": "text/html"},
    "redirect_301": {"status": 301, "headers": {"Location": "https://aivideoapi.test/"}},
    "503_upstream": {
        "status": 503,
        "json": {"error": {"code": "upstream_error", "message": "Upstream", "type": "x"}},
    },
    "404_model_not_found": {
        "status": 404,
        "json": {"error": {"code": "model_not_found", "message": "No model", "type": "x"}},
    },
    "404_without_body": {"status": 404, "body": ""},
}


@pytest.mark.parametrize("fault", list(AIV_TRANSIENT))
def test_aivideoapi_unreadable_answers_back_off_too(aiv, make_job, fault):
    aiv.get(AIV_TASK_URL, **AIV_TRANSIENT[fault])
    generation = aiv_job(make_job)

    assert generation_poll(generation_id=generation.pk) == State.SUBMITTED
    generation.refresh_from_db()
    assert generation.poll_errors == 1 and settlements(generation) == ["hold"]

    aiv.replace("GET", AIV_TASK_URL, json=aiv_task("completed"))
    assert generation_poll(generation_id=generation.pk) == State.SUCCEEDED
    assert settlements(generation) == ["hold", "capture"]


# --- "Task does not exist": believed only when confirmed after a delay -----------------------


def test_a_404_once_does_nothing_and_a_404_confirmed_after_the_delay_fails_with_one_release(
    api, make_job
):
    api.get(STATUS_URL, status=404, json=envelope(None, code=404, message="Task not found"))
    generation = submitted(make_job)
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        assert generation_poll(generation_id=generation.pk) == State.SUBMITTED
        generation.refresh_from_db()
        assert generation.not_found_at == start
        assert generation.next_action_at == start + timedelta(seconds=RECHECK_S)
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert generation_poll(generation_id=generation.pk) == State.SUBMITTED  # too soon
    assert settlements(generation) == ["hold"]

    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert generation_poll(generation_id=generation.pk) == State.FAILED
        assert generation_poll(generation_id=generation.pk) == ""

    generation.refresh_from_db()
    assert generation.fail_code == "TASK_NOT_FOUND"
    assert settlements(generation) == ["hold", "release"]
    assert ledger_mismatches() == []


def test_a_running_answer_between_two_404s_starts_the_confirmation_over(api, make_job):
    api.get(STATUS_URL, status=404, json=envelope(None, code=404, message="Task not found"))
    generation = submitted(make_job)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        generation_poll(generation_id=generation.pk)

    api.replace("GET", STATUS_URL, json=envelope(task_data(generation.provider_task_id, "pending")))
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        generation_poll(generation_id=generation.pk)
    generation.refresh_from_db()
    assert generation.not_found_at is None

    api.replace("GET", STATUS_URL, status=404, json=envelope(None, code=404, message="Not found"))
    with time_machine.travel(start + timedelta(seconds=62), tick=False):
        assert generation_poll(generation_id=generation.pk) == State.SUBMITTED
    assert settlements(generation) == ["hold"]


def test_aivideoapi_task_not_found_is_confirmed_after_the_delay(aiv, make_job):
    body = {"error": {"code": "task_not_found", "message": "Task ID does not exist", "type": "x"}}
    aiv.get(AIV_TASK_URL, status=404, json=body)
    generation = aiv_job(make_job)
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        assert generation_poll(generation_id=generation.pk) == State.SUBMITTED
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert generation_poll(generation_id=generation.pk) == State.FAILED
    assert settlements(generation) == ["hold", "release"]


# --- Deadline: expiry releases; a later success is recorded, never charged -------------------


def test_a_success_after_expiry_is_recorded_for_managers_without_a_second_entry(api, make_job):
    generation = submitted(make_job, deadline_at=timezone.now() + timedelta(minutes=1))
    api.get(STATUS_URL, json=envelope(task_data(generation.provider_task_id, "processing")))

    assert generations_sweep(now=timezone.now() + timedelta(minutes=2)).expired == 1
    generation.refresh_from_db()
    assert generation.state == State.EXPIRED
    assert settlements(generation) == ["hold", "release"]
    assert generation.next_action_at is not None  # a last look is due

    dispatch_pass()  # the late look: still processing, look again later
    generation.refresh_from_db()
    assert generation.late_state == "" and generation.next_action_at > timezone.now()

    api.replace("GET", STATUS_URL, json=envelope(task_data(generation.provider_task_id, "success")))
    with time_machine.travel(generation.next_action_at + timedelta(seconds=1)):
        report = dispatch_pass()
    assert report.polls == 1

    generation.refresh_from_db()
    assert generation.state == State.EXPIRED
    assert (generation.late_state, generation.late_result_url) == (State.SUCCEEDED, RESULT_URL)
    assert generation.late_finished_at is not None and generation.next_action_at is None
    assert settlements(generation) == ["hold", "release"]
    assert held(generation) == (1000, 0)
    assert Generation.objects.filter(late_state=State.SUCCEEDED).count() == 1
    alert = ProviderAlert.objects.get()  # the managers' banner
    assert (alert.kind, alert.count) == ("finished_after_expiry", 1)
    reads = status_calls(api)
    dispatch_pass()
    assert status_calls(api) == reads  # looks end once recorded
    assert ledger_mismatches() == []


def test_a_late_callback_success_after_expiry_is_recorded(api, make_job):
    generation = submitted(make_job, deadline_at=timezone.now() - timedelta(seconds=1))
    token = give_token(generation)
    generations_sweep()
    api.get(STATUS_URL, json=envelope(task_data(generation.provider_task_id, "success")))

    body = callback_body(generation.provider_task_id, "success")
    assert generation_callback_receive(generation_id=generation.pk, token=token, body=body)
    assert generation_callback_receive(generation_id=generation.pk, token=token, body=body)

    generation.refresh_from_db()
    assert (generation.state, generation.late_state) == (State.EXPIRED, State.SUCCEEDED)
    assert settlements(generation) == ["hold", "release"]
    assert status_calls(api) == 1  # the duplicate found it recorded


# --- A provider removed from the configuration (issue #12 item 4) ----------------------------


# The workers decide; a web node's webhook does not (tests/services/test_callbacks.py).
@pytest.mark.parametrize("where", ["poll", "submit", "sweep"])
def test_jobs_of_a_provider_no_longer_configured_fail_at_once_with_a_release_and_an_alert(
    aiv, make_job, settings, where
):
    if where == "submit":
        generation = make_job(provider="aivideoapi", model_id=AIV_MODEL)
    elif where == "sweep":
        generation = make_job(provider="aivideoapi", model_id=AIV_MODEL, state=State.UNKNOWN)
    else:
        generation = aiv_job(make_job)
    give_token(generation)
    settings.AIVIDEOAPI_API_KEY = ""  # removed while the job is in flight

    if where == "poll":
        assert generation_poll(generation_id=generation.pk) == State.FAILED
    elif where == "submit":
        assert generation_submit(generation_id=generation.pk) == State.FAILED
    else:
        assert generations_sweep().provider_gone == 1

    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (State.FAILED, "PROVIDER_NOT_CONFIGURED")
    assert settlements(generation) == ["hold", "release"]
    alert = ProviderAlert.objects.get()
    assert (alert.provider, alert.kind) == ("aivideoapi", "not_configured")
    assert len(aiv.calls) == 0
    assert ledger_mismatches() == []


def beat(node: str, providers: str, *, age_s: float = 0.0) -> None:
    """Record a worker node's heartbeat, ``age_s`` seconds old, with its configured providers."""
    seen = timezone.now() - timedelta(seconds=age_s)
    WorkerHeartbeat.objects.update_or_create(
        node=node,
        defaults={
            "host": node,
            "pid": 1,
            "started_at": seen,
            "last_seen_at": seen,
            "providers": providers,
        },
    )


def test_a_late_look_on_a_node_missing_the_key_is_left_to_the_node_that_has_it(
    aiv, make_job, settings
):
    """Review finding: the late looks of an expired job stopped for good when a node without
    the key picked one up, so a task billed after expiry went unseen."""
    generation = make_job(
        provider="aivideoapi",
        model_id=AIV_MODEL,
        provider_task_id=AIV_TASK,
        state=State.EXPIRED,
        next_action_at=timezone.now(),
    )
    beat("worker-b", "apixo,aivideoapi")
    settings.AIVIDEOAPI_API_KEY = ""

    assert generation_poll(generation_id=generation.pk) == State.EXPIRED

    generation.refresh_from_db()
    assert generation.next_action_at is not None  # looked at again, by whichever node
    assert generation.late_state == ""
    assert len(aiv.calls) == 0


@pytest.mark.parametrize("where", ["poll", "submit", "sweep"])
def test_a_node_missing_a_key_another_live_node_has_leaves_the_job_to_it(
    aiv, make_job, settings, where
):
    """Review of issue #12 item 4: only a provider no live node serves counts as removed; a
    worker whose environment lacks the key must not fail and refund jobs still running."""
    if where == "submit":
        generation = make_job(provider="aivideoapi", model_id=AIV_MODEL)
    elif where == "sweep":
        generation = make_job(provider="aivideoapi", model_id=AIV_MODEL, state=State.UNKNOWN)
    else:
        generation = aiv_job(make_job)
    give_token(generation)
    beat("worker-b", "apixo,aivideoapi")
    settings.AIVIDEOAPI_API_KEY = ""  # this node only
    before = timezone.now()

    if where == "poll":
        assert generation_poll(generation_id=generation.pk) == State.SUBMITTED
    elif where == "submit":
        assert generation_submit(generation_id=generation.pk) == State.QUEUED
    else:
        assert generations_sweep().provider_gone == 0

    generation.refresh_from_db()
    assert generation.state in (State.SUBMITTED, State.QUEUED, State.UNKNOWN)
    assert generation.state == {"poll": State.SUBMITTED, "submit": State.QUEUED}.get(
        where, State.UNKNOWN
    )
    assert settlements(generation) == ["hold"]
    if where != "sweep":
        assert generation.next_action_at >= before + timedelta(seconds=29)
        assert generation.submit_attempts == 0
        alert = ProviderAlert.objects.get()
        assert (alert.provider, alert.kind) == ("aivideoapi", "node_not_configured")
        assert "worker-b" in alert.message
    assert len(aiv.calls) == 0


def test_a_stale_heartbeat_does_not_keep_a_removed_provider_alive(aiv, make_job, settings):
    generation = aiv_job(make_job)
    beat("worker-b", "apixo,aivideoapi", age_s=3600)  # gone an hour ago
    beat("worker-c", "apixo")  # alive, without the provider either
    settings.AIVIDEOAPI_API_KEY = ""

    assert generation_poll(generation_id=generation.pk) == State.FAILED
    assert settlements(generation) == ["hold", "release"]


def test_the_heartbeat_records_the_providers_this_node_has_a_key_for(settings):
    from generations.workers import heartbeat_beat

    settings.AIVIDEOAPI_API_KEY = ""
    heartbeat_beat(node="node-x")
    assert WorkerHeartbeat.objects.get(node="node-x").provider_names == ["apixo"]
    settings.AIVIDEOAPI_API_KEY = "sk-live"
    heartbeat_beat(node="node-x")
    assert WorkerHeartbeat.objects.get(node="node-x").provider_names == ["apixo", "aivideoapi"]


# --- Status checks: every request counted in one place (issue #18 item 2) --------------------


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param({"json": envelope(task_data("task_x", "success"))}, id="final-success"),
        pytest.param({"json": envelope(task_data("task_x", "failed"))}, id="final-failed"),
        pytest.param({"json": envelope(task_data("task_x", "processing"))}, id="running"),
        pytest.param({"status": 200, "body": MAINTENANCE}, id="unreadable"),
        pytest.param({"status": 503, "json": envelope(None, code=503)}, id="5xx"),
        pytest.param({"body": requests.exceptions.ReadTimeout("slow")}, id="timeout"),
    ],
)
def test_every_status_request_of_a_poll_is_counted_whatever_the_answer(api, make_job, answer):
    """A poll whose answer is final counted nothing before (the job page said 0)."""
    generation = submitted(make_job, provider_task_id="task_x")

    generation_poll(generation_id=generation.pk)

    generation.refresh_from_db()
    assert status_calls(api) == generation.poll_count == 1


def test_an_expired_jobs_late_look_is_counted(api, make_job):
    generation = make_job(
        state=State.EXPIRED,
        provider_task_id="task_x",
        finished_at=timezone.now(),
        next_action_at=timezone.now(),
    )
    api.get(STATUS_URL, json=envelope(task_data("task_x", "processing")))

    assert generation_poll(generation_id=generation.pk) == State.EXPIRED

    generation.refresh_from_db()
    assert status_calls(api) == generation.poll_count == 1
