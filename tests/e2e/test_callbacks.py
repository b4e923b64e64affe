"""Callback mode end to end: the simulator POSTs real webhooks to the running portal.

How callback mode is reached in tests: APIXO takes only public HTTPS callback URLs
(docs/providers/apixo.md "Webhooks"), so with the loopback simulator the portal's
``CALLBACK_ALLOW_HTTP`` setting gives it ``http://PORTAL_ADDRESS/webhooks/...`` URLs (here: the live
server), and the simulator accepts them with its ``allow_http_callbacks`` knob. With a real provider
the setting is refused; callback mode then needs an HTTPS ``PUBLIC_BASE_URL``.
"""

import time

import pytest
import requests
from django.core.management import call_command
from django.urls import reverse

from generations.models import CreditEntry, Generation
from generations.providers import GenerationRequest, get_provider
from generations.selectors.ledger import ledger_mismatches
from generations.services.callbacks import generation_callback_receive
from generations.services.generations import GenerationSpec, generation_create
from generations.services.ledger import credits_grant, credits_hold
from generations.services.lifecycle import generation_poll
from tests.concurrency import run_in_threads
from tests.conftest import requires_postgres
from tests.factories import GenerationFactory, UserFactory
from tests.fake_apixo import give_token

from .conftest import drive_until_settled

pytestmark = pytest.mark.django_db(transaction=True)
State = Generation.State


@pytest.fixture
def callback_portal(simulator, live_server, settings):
    """Run the portal where the simulator can reach it, in callback mode over plain HTTP."""
    settings.CALLBACK_ALLOW_HTTP = True
    settings.PUBLIC_BASE_URL = ""
    settings.PORTAL_ADDRESS = live_server.url.removeprefix("http://")
    return live_server


def configure(simulator, **knobs) -> None:
    answer = requests.post(f"{simulator.base_url}/_sim/config", json=knobs, timeout=5)
    assert answer.status_code == 200, answer.text


def sim_task(simulator, task_id: str | None = None) -> dict:
    tasks = requests.get(f"{simulator.base_url}/_sim/tasks", timeout=5).json()["data"]
    if task_id is None:
        (task,) = tasks
        return task
    return next(task for task in tasks if task["taskId"] == task_id)


def wait_for_delivery(simulator, *, count: int = 1, timeout: float = 20.0) -> dict:
    """Wait until the only task has ``count`` callback attempts answered 200; return it.

    The simulator records an attempt after the portal answered it, so once it shows, the
    portal's webhook request (status read and finalization included) is over.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tasks = requests.get(f"{simulator.base_url}/_sim/tasks", timeout=5).json()["data"]
        if tasks:
            (task,) = tasks
            if sum(1 for c in task["callbacks"] if c["status"] == 200) >= count:
                return task
        time.sleep(0.02)
    raise AssertionError(f"no {count} delivered callback(s) after {timeout} s: {tasks}")


def create_job(member, prompt: str = "a lighthouse in a storm at night") -> Generation:
    """Create and submit (django-q2 sync in tests) a 4 s, 480p silent job: 40 credits."""
    spec = GenerationSpec(
        mode="text-to-video", prompt=prompt, resolution="480p", duration=4, sound=False
    )
    generation = generation_create(user=member, spec=spec)
    generation.refresh_from_db()
    return generation


def kinds(generation: Generation) -> list[str]:
    return list(generation.credit_entries.order_by("id").values_list("kind", flat=True))


def test_a_webhook_delivery_is_visible_to_the_member_within_a_second(
    client, member, callback_portal, simulator, settings
):
    settings.POLL_TIME_SCALE = 100.0  # the safety-net poll would come hours later
    credits_grant(user=member, amount=1000, actor=None)

    generation = create_job(member)
    assert generation.state == State.SUBMITTED and generation.uses_callback
    request = sim_task(simulator)["request"]
    assert request["request_type"] == "callback"
    assert request["callback_url"].startswith(f"{callback_portal.url}/webhooks/generations/")

    task = wait_for_delivery(simulator)
    completed_ms = task["status"]["completeTime"]
    delivered_ms = task["callbacks"][0]["at"]  # when the portal's 200 came back
    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED
    assert generation.finished_at.timestamp() * 1000 - completed_ms < 1000
    assert delivered_ms - completed_ms < 1000
    assert task["statusRequests"] == 1  # the confirmation read; no poll was needed
    client.force_login(member)
    panel = client.get(reverse("generations:status", args=[generation.pk])).content.decode()
    assert 'data-state="succeeded"' in panel
    assert 'id="result-video"' in panel  # stored already
    assert kinds(generation) == ["hold", "capture"]
    call_command("ledger_check")


def test_an_early_callback_before_the_submit_answer_is_resolved(member, callback_portal, simulator):
    configure(simulator, callback_early=True)
    credits_grant(user=member, amount=1000, actor=None)

    generation = create_job(member)

    task = sim_task(simulator)
    assert task["callbacks"][0]["status"] == 200  # delivered before the submit answer
    assert (generation.state, generation.provider_task_id) == (State.SUCCEEDED, task["taskId"])
    assert kinds(generation) == ["hold", "capture"]
    assert ledger_mismatches() == []


def test_a_dropped_submit_answer_waits_in_unknown_until_the_callback(
    member, callback_portal, simulator, settings
):
    settings.POLL_TIME_SCALE = 100.0
    configure(simulator, drop_after_submit_rate=1.0)
    credits_grant(user=member, amount=1000, actor=None)

    generation = create_job(member)
    assert generation.state in (State.UNKNOWN, State.SUBMITTED, State.SUCCEEDED)

    task = wait_for_delivery(simulator)
    generation.refresh_from_db()
    assert (generation.state, generation.provider_task_id) == (State.SUCCEEDED, task["taskId"])
    stats = requests.get(f"{simulator.base_url}/_sim/stats", timeout=5).json()["data"]
    assert stats["requests"]["generateTask"] == 1  # never re-sent
    assert kinds(generation) == ["hold", "capture"]
    assert ledger_mismatches() == []


def test_duplicate_callbacks_settle_once(member, callback_portal, simulator, settings):
    settings.POLL_TIME_SCALE = 100.0
    configure(simulator, callback_duplicate_rate=1.0)
    credits_grant(user=member, amount=1000, actor=None)

    generation = create_job(member)
    task = wait_for_delivery(simulator, count=2)

    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED
    assert task["statusRequests"] == 1  # the duplicate found the job final
    assert kinds(generation) == ["hold", "capture"]


def test_a_mismatched_callback_body_loses_to_the_status(
    member, callback_portal, simulator, settings
):
    settings.POLL_TIME_SCALE = 100.0
    configure(simulator, callback_mismatch=True)
    credits_grant(user=member, amount=1000, actor=None)

    generation = create_job(member, prompt="a storm the provider refuses [sim:fail=Timeout]")
    task = wait_for_delivery(simulator)

    assert task["callbacks"][0]["state"] == "success"  # what the body claimed
    generation.refresh_from_db()
    assert (generation.state, generation.fail_code) == (State.FAILED, "Timeout")
    assert generation.result_url == ""  # the attacker's URL was never taken, nor fetched
    assert kinds(generation) == ["hold", "release"]


def test_with_every_callback_dropped_all_jobs_finish_by_polling(member, callback_portal, simulator):
    configure(simulator, callback_drop_rate=1.0, fail_rate=0.3)
    credits_grant(user=member, amount=1000, actor=None)

    jobs = [create_job(member, prompt=f"a paper lantern, take {n}") for n in range(4)]
    assert all(job.uses_callback for job in jobs)
    for job in jobs:
        drive_until_settled(job)

    assert {job.state for job in jobs} <= {State.SUCCEEDED, State.FAILED}
    stats = requests.get(f"{simulator.base_url}/_sim/stats", timeout=5).json()["data"]
    assert stats["callbacks"]["attempts"] == 0
    # The job pages count what the provider saw (issue #18 item 2).
    for job in jobs:
        job.refresh_from_db()
        assert stats["status_requests_per_task"][job.provider_task_id] == job.poll_count >= 1
    assert CreditEntry.objects.filter(kind__in=["capture", "release"]).count() == 4
    call_command("ledger_check")


# --- PostgreSQL: real concurrency ------------------------------------------------------------


@requires_postgres
@pytest.mark.parametrize("prompt", ["a quiet harbour at dawn", "refused [sim:fail]"])
def test_50_parallel_duplicate_callbacks_and_a_poll_settle_once(simulator, prompt):
    user = UserFactory(credits=1000)
    client = get_provider()
    task_id = client.submit(
        GenerationRequest(
            mode="text-to-video", prompt=prompt, resolution="480p", duration=4, sound=False
        )
    )
    generation = GenerationFactory(
        user=user, state=State.SUBMITTED, provider_task_id=task_id, prompt=prompt
    )
    credits_hold(user=user, amount=generation.price_credits, generation=generation)
    token = give_token(generation)
    deadline = time.monotonic() + 20
    while not client.fetch_status(task_id, model="seedance-1-5-pro").is_final:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status_url = f"{simulator.api_base_url}/statusTask/seedance-1-5-pro?taskId={task_id}"
    body = requests.get(
        status_url, headers={"Authorization": "Bearer sim-apixo-key"}, timeout=5
    ).content

    def deliver_or_poll(i: int):
        if i == 50:
            return generation_poll(generation_id=generation.pk)
        return generation_callback_receive(generation_id=generation.pk, token=token, body=body)

    results = run_in_threads(deliver_or_poll, 51)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert results[:50] == [True] * 50
    generation.refresh_from_db()
    assert generation.state in (State.SUCCEEDED, State.FAILED)
    settled = CreditEntry.objects.filter(generation=generation, kind__in=["capture", "release"])
    assert settled.count() == 1
    assert settled.get().kind == ("capture" if generation.state == State.SUCCEEDED else "release")
    assert ledger_mismatches() == []
    call_command("ledger_check")
