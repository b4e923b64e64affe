"""Callback mode and webhook deliveries (services.callbacks, services.callback_tokens).

The provider is faked with ``responses``; every test checks the ledger too. Sources:
docs/providers/apixo.md "Webhooks" (no signature, duplicates, same envelope as statusTask),
docs/providers/apixo.md "Webhooks" (HTTPS callback_url), docs/architecture.md "Generation
lifecycle".
"""

import hashlib
import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import responses
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F
from django.utils import timezone

from generations.models import CreditAccount, Generation
from generations.providers import get_provider
from generations.selectors.ledger import ledger_mismatches
from generations.services import callbacks
from generations.services.callbacks import generation_callback_receive
from generations.services.dispatch import JOB_LEASE
from generations.services.lifecycle import generation_poll, generation_submit
from tests.fake_apixo import (
    ATTACKER_URL,
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


def submitted_job(make_job, task_id="task_1"):
    """A submitted callback-mode job and its webhook token."""
    generation = make_job(state=State.SUBMITTED, provider_task_id=task_id)
    return generation, give_token(generation)


def sent_body(api) -> dict:
    (call,) = [c for c in api.calls if c.request.url == SUBMIT_URL]
    return json.loads(call.request.body)


# --- Submitting in callback mode -------------------------------------------------------------


def test_https_public_base_url_submits_in_callback_mode_with_a_hashed_token(
    api, make_job, settings
):
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    settings.POLL_TIME_SCALE = 1.0
    api.post(SUBMIT_URL, json=envelope({"taskId": "task_1"}))
    generation = make_job()

    assert generation_submit(generation_id=generation.pk) == State.SUBMITTED

    body = sent_body(api)
    assert body["request_type"] == "callback"
    url = urlsplit(body["callback_url"])
    assert (url.scheme, url.netloc) == ("https", "studio.example.com")
    prefix = f"/webhooks/generations/{generation.pk}/"
    assert url.path.startswith(prefix) and url.path.endswith("/")
    token = url.path[len(prefix) : -1]
    assert len(token) >= 43  # 256 random bits, URL-safe base64
    generation.refresh_from_db()
    assert generation.callback_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in generation.callback_token_hash
    # Polling stays as the safety net, later than in polling mode (48 s + 60 s for 4 s).
    wait = (generation.next_action_at - generation.submitted_at).total_seconds()
    assert 107 <= wait <= 109


def test_each_submit_attempt_gets_a_new_token(api, make_job, settings):
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    api.post(SUBMIT_URL, status=503, json=envelope(None, code=503, message="Unavailable"))
    api.post(SUBMIT_URL, json=envelope({"taskId": "task_1"}))
    generation = make_job()

    assert generation_submit(generation_id=generation.pk) == State.QUEUED
    first_hash = Generation.objects.get(pk=generation.pk).callback_token_hash
    Generation.objects.filter(pk=generation.pk).update(next_action_at=timezone.now())
    assert generation_submit(generation_id=generation.pk) == State.SUBMITTED

    urls = [json.loads(c.request.body)["callback_url"] for c in api.calls]
    assert urls[0] != urls[1]
    assert Generation.objects.get(pk=generation.pk).callback_token_hash != first_hash


@pytest.mark.parametrize("public", ["", "http://studio.example.com"])
def test_without_https_the_job_is_submitted_for_polling(api, make_job, settings, public):
    settings.PUBLIC_BASE_URL = public
    settings.POLL_TIME_SCALE = 1.0
    api.post(SUBMIT_URL, json=envelope({"taskId": "task_1"}))
    generation = make_job()

    generation_submit(generation_id=generation.pk)

    body = sent_body(api)
    assert body["request_type"] == "async" and "callback_url" not in body
    generation.refresh_from_db()
    assert generation.callback_token_hash == ""
    wait = (generation.next_action_at - generation.submitted_at).total_seconds()
    assert 47 <= wait <= 49  # first_poll_delay: 48 s for a 4 s clip


def test_callback_allow_http_builds_portal_address_urls_for_a_loopback_simulator(
    make_job, settings
):
    settings.APIXO_BASE_URL = "http://127.0.0.1:9/api/v1"
    settings.APIXO_API_KEY = "test-key"
    settings.PUBLIC_BASE_URL = ""
    settings.CALLBACK_ALLOW_HTTP = True
    settings.PORTAL_ADDRESS = "127.0.0.1:8123"
    generation = make_job()
    with responses.RequestsMock() as api:
        api.post(
            "http://127.0.0.1:9/api/v1/generateTask/seedance-1-5-pro",
            json=envelope({"taskId": "task_1"}),
        )
        generation_submit(generation_id=generation.pk)
        body = json.loads(api.calls[0].request.body)

    assert body["request_type"] == "callback"
    assert body["callback_url"].startswith(
        f"http://127.0.0.1:8123/webhooks/generations/{generation.pk}/"
    )


def test_callback_allow_http_is_refused_for_a_real_provider(settings):
    settings.APIXO_BASE_URL = "https://api.apixo.ai/api/v1"
    settings.CALLBACK_ALLOW_HTTP = True
    with pytest.raises(ImproperlyConfigured):
        get_provider()


# --- Forged deliveries -----------------------------------------------------------------------


def snapshot(generation: Generation) -> dict:
    row = Generation.objects.filter(pk=generation.pk).values().get()
    return row | {"entries": settlements(generation)}


@pytest.mark.parametrize("kind", ["no token", "wrong token", "other job's token", "unknown job"])
def test_forged_callbacks_are_not_recognised_and_change_nothing(api, make_job, kind):
    generation, token = submitted_job(make_job)
    other, other_token = submitted_job(make_job, task_id="task_2")
    generation_id, sent = {
        "no token": (generation.pk, ""),
        "wrong token": (generation.pk, token[:-2] + "xx"),
        "other job's token": (generation.pk, other_token),
        "unknown job": (other.pk + 100, token),
    }[kind]
    before = snapshot(generation)

    recognised = generation_callback_receive(
        generation_id=generation_id, token=sent, body=callback_body("task_1", "success")
    )

    assert recognised is False
    assert snapshot(generation) == before
    assert len(api.calls) == 0  # not even a status read


def test_a_polling_job_recognises_no_token(api, make_job):
    generation = make_job(state=State.SUBMITTED, provider_task_id="task_1")
    assert not generation_callback_receive(
        generation_id=generation.pk, token="", body=callback_body("task_1", "success")
    )
    assert not generation_callback_receive(
        generation_id=generation.pk, token="x" * 43, body=callback_body("task_1", "success")
    )
    assert len(api.calls) == 0


def test_a_body_claiming_success_with_an_attackers_url_gets_what_the_status_says(api, make_job):
    generation, token = submitted_job(make_job)
    api.get(STATUS_URL, json=envelope(task_data("task_1", "failed")))
    api.get(ATTACKER_URL, body=b"never fetched")

    assert generation_callback_receive(
        generation_id=generation.pk,
        token=token,
        body=callback_body("task_1", "success", url=ATTACKER_URL),
    )

    generation.refresh_from_db()
    assert generation.state == State.FAILED
    assert generation.fail_code == "SensitiveContent"
    assert generation.result_url == ""
    assert settlements(generation) == ["hold", "release"]
    assert all("169.254" not in call.request.url for call in api.calls)
    assert ledger_mismatches() == []


def test_a_body_claiming_failure_does_not_fail_a_job_the_status_says_succeeded(api, make_job):
    generation, token = submitted_job(make_job)
    api.get(STATUS_URL, json=envelope(task_data("task_1", "success")))

    generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_1", "failed")
    )

    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED
    assert generation.result_url == RESULT_URL  # from the status answer
    assert settlements(generation) == ["hold", "capture"]


# --- Duplicate, late, out-of-order -----------------------------------------------------------


def test_duplicate_deliveries_finalize_once_and_read_the_status_once(api, make_job):
    generation, token = submitted_job(make_job)
    api.get(STATUS_URL, json=envelope(task_data("task_1", "success")))
    body = callback_body("task_1", "success")

    results = [
        generation_callback_receive(generation_id=generation.pk, token=token, body=body)
        for _ in range(3)
    ]

    assert results == [True, True, True]
    assert status_calls(api) == 1  # the duplicates found the job final
    assert settlements(generation) == ["hold", "capture"]
    account = CreditAccount.objects.get(user=generation.user)
    assert (account.balance, account.held) == (960, 0)


def test_a_late_callback_after_the_poller_finalized_changes_nothing(api, make_job):
    generation, token = submitted_job(make_job)
    api.get(STATUS_URL, json=envelope(task_data("task_1", "failed")))
    assert generation_poll(generation_id=generation.pk) == State.FAILED
    before = snapshot(generation)

    assert generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_1", "success")
    )

    assert snapshot(generation) == before
    assert status_calls(api) == 1


def test_out_of_order_deliveries_follow_the_status_not_the_bodies(api, make_job):
    generation, token = submitted_job(make_job)
    api.get(STATUS_URL, json=envelope(task_data("task_1", "processing")))
    api.get(STATUS_URL, json=envelope(task_data("task_1", "success")))

    # A stale "failed" body arrives first while the task still runs, then the real one.
    generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_1", "failed")
    )
    generation.refresh_from_db()
    assert generation.state == State.SUBMITTED
    assert generation.provider_state == "processing"
    assert generation.next_action_at <= timezone.now() + timedelta(seconds=1)
    generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_1", "success")
    )

    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED
    assert settlements(generation) == ["hold", "capture"]


def test_a_body_naming_another_task_confirms_the_jobs_own_task(api, make_job):
    generation, token = submitted_job(make_job)
    api.get(STATUS_URL, json=envelope(task_data("task_1", "success")))

    generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_999", "failed")
    )

    assert "taskId=task_1" in api.calls[0].request.url
    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED


@pytest.mark.parametrize("body", [b"", b"not json", b'{"code":200}', b"[1,2]", b"\xff\xfe"])
def test_a_malformed_body_with_the_right_token_is_recognised_and_confirmed(api, make_job, body):
    generation, token = submitted_job(make_job)
    api.get(STATUS_URL, json=envelope(task_data("task_1", "success")))

    assert generation_callback_receive(generation_id=generation.pk, token=token, body=body)

    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED


def test_a_status_error_hands_the_job_to_the_queue_at_once(
    api, make_job, monkeypatch, django_capture_on_commit_callbacks
):
    generation, token = submitted_job(make_job)
    Generation.objects.filter(pk=generation.pk).update(
        next_action_at=timezone.now() + timedelta(minutes=5)
    )
    api.get(STATUS_URL, status=503, json=envelope(None, code=503, message="Unavailable"))
    queued = []
    monkeypatch.setattr(callbacks, "enqueue", lambda task, *args, **kw: queued.append((task, args)))

    with django_capture_on_commit_callbacks(execute=True):
        assert generation_callback_receive(
            generation_id=generation.pk, token=token, body=callback_body("task_1", "success")
        )

    generation.refresh_from_db()
    assert generation.state == State.SUBMITTED
    assert queued == [("poll_generations", ([generation.pk],))]
    # Claimed like the dispatcher does: not polled twice, re-driven if the task is lost.
    assert generation.next_action_at <= timezone.now() + JOB_LEASE
    assert settlements(generation) == ["hold"]


# --- Early callbacks: before the submit answer was stored ------------------------------------


@pytest.mark.parametrize("state", [State.SUBMITTING, State.UNKNOWN, State.QUEUED])
def test_an_early_callback_adopts_the_task_id_and_finalizes(api, make_job, state):
    generation = make_job(state=state, submit_attempts=1)
    token = give_token(generation)
    api.get(STATUS_URL, json=envelope(task_data("task_77", "success")))

    assert generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_77", "success")
    )

    assert "taskId=task_77" in api.calls[0].request.url
    generation.refresh_from_db()
    assert (generation.state, generation.provider_task_id) == (State.SUCCEEDED, "task_77")
    assert generation.submitted_at is not None
    assert settlements(generation) == ["hold", "capture"]
    assert ledger_mismatches() == []


def test_a_callback_during_the_submit_call_wins_and_the_submit_answer_changes_nothing(
    api, make_job, settings
):
    """The simulator's ``callback_early``: the callback arrives before the submit answer."""
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    generation = make_job()
    api.get(STATUS_URL, json=envelope(task_data("task_5", "success")))

    def submit_answer(request):
        token = urlsplit(json.loads(request.body)["callback_url"]).path.rstrip("/").split("/")[-1]
        assert Generation.objects.get(pk=generation.pk).state == State.SUBMITTING
        assert generation_callback_receive(
            generation_id=generation.pk, token=token, body=callback_body("task_5", "success")
        )
        return 200, {}, json.dumps(envelope({"taskId": "task_5"}))

    api.add_callback(responses.POST, SUBMIT_URL, callback=submit_answer)

    assert generation_submit(generation_id=generation.pk) == ""  # someone else moved it

    generation.refresh_from_db()
    assert (generation.state, generation.provider_task_id) == (State.SUCCEEDED, "task_5")
    assert settlements(generation) == ["hold", "capture"]


def test_a_submit_error_after_an_early_callback_leaves_the_adopted_job_alone(
    api, make_job, settings
):
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    generation = make_job()
    api.get(STATUS_URL, json=envelope(task_data("task_6", "processing")))

    def submit_answer(request):
        token = urlsplit(json.loads(request.body)["callback_url"]).path.rstrip("/").split("/")[-1]
        generation_callback_receive(
            generation_id=generation.pk, token=token, body=callback_body("task_6", "success")
        )
        return 403, {}, json.dumps(envelope(None, code=403, message="Forbidden"))

    api.add_callback(responses.POST, SUBMIT_URL, callback=submit_answer)

    assert generation_submit(generation_id=generation.pk) == State.SUBMITTED

    generation.refresh_from_db()
    assert (generation.state, generation.provider_task_id) == (State.SUBMITTED, "task_6")
    assert settlements(generation) == ["hold"]


def test_an_early_callback_for_a_running_task_adopts_it_for_polling(api, make_job):
    generation = make_job(state=State.UNKNOWN, submit_attempts=1)
    token = give_token(generation)
    api.get(STATUS_URL, json=envelope(task_data("task_8", "processing")))

    generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_8", "success")
    )

    generation.refresh_from_db()
    assert (generation.state, generation.provider_task_id) == (State.SUBMITTED, "task_8")
    assert generation.next_action_at is not None
    assert settlements(generation) == ["hold"]


def test_an_early_callback_whose_status_read_fails_still_adopts_the_task(api, make_job):
    generation = make_job(state=State.UNKNOWN, submit_attempts=1)
    token = give_token(generation)
    api.get(STATUS_URL, status=429, json=envelope(None, code=429, message="Slow down"))

    generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_8", "success")
    )

    generation.refresh_from_db()
    assert (generation.state, generation.provider_task_id) == (State.SUBMITTED, "task_8")


def test_an_early_callback_naming_a_task_the_provider_does_not_know_adopts_nothing(api, make_job):
    generation = make_job(state=State.UNKNOWN, submit_attempts=1)
    token = give_token(generation)
    api.get(STATUS_URL, status=404, json=envelope(None, code=404, message="Task not found"))
    before = snapshot(generation)

    assert generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_404", "success")
    )

    # Only the status request it sent is counted (issue #18 item 2).
    assert snapshot(generation) == before | {"poll_count": status_calls(api) == 1}


def test_an_early_callback_naming_another_jobs_task_adopts_nothing(api, make_job):
    make_job(state=State.SUBMITTED, provider_task_id="task_taken")
    generation = make_job(state=State.UNKNOWN, submit_attempts=1)
    token = give_token(generation)
    before = snapshot(generation)

    assert generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_taken", "success")
    )

    assert snapshot(generation) == before
    assert len(api.calls) == 0


def test_an_early_callback_without_a_usable_task_id_changes_nothing_and_asks_for_a_retry(
    api, make_job
):
    """A 200 would end the provider's retries, and this delivery is the job's only copy of
    its taskId: the provider is asked to send it again (review: lost taskIds)."""
    generation = make_job(state=State.UNKNOWN, submit_attempts=1)
    token = give_token(generation)
    before = snapshot(generation)

    with pytest.raises(callbacks.CallbackRetryLater):
        generation_callback_receive(generation_id=generation.pk, token=token, body=b"{}")

    assert snapshot(generation) == before
    assert len(api.calls) == 0


# --- A lost submit answer: the callback's taskId is never thrown away (review: money) ----------


def unknown_job(make_job, **fields):
    """A job whose submit answer was lost: ``unknown``, no task id, a webhook token."""
    generation = make_job(state=State.UNKNOWN, submit_attempts=1, **fields)
    return generation, give_token(generation)


def assert_adopted_unconfirmed(generation, task_id):
    generation.refresh_from_db()
    assert (generation.state, generation.provider_task_id) == (State.SUBMITTED, task_id)
    assert generation.next_action_at is not None  # the poller confirms it
    assert settlements(generation) == ["hold"]  # adopting moves no money


def test_a_callback_on_a_node_without_the_key_adopts_the_task_of_an_unknown_job(make_job, settings):
    settings.AIVIDEOAPI_API_KEY = "sk-live"
    generation, token = unknown_job(
        make_job, provider="aivideoapi", model_id="doubao-seedance-1.5-pro"
    )
    settings.AIVIDEOAPI_API_KEY = ""  # this node's env lacks the key
    body = json.dumps({"id": "11111111-2222-3333-4444-555555555555", "status": "completed"})

    assert generation_callback_receive(
        generation_id=generation.pk, token=token, body=body.encode(), headers={}
    )

    assert_adopted_unconfirmed(generation, "11111111-2222-3333-4444-555555555555")


def test_a_callback_on_a_node_without_the_key_naming_no_task_asks_for_a_retry(make_job, settings):
    settings.AIVIDEOAPI_API_KEY = "sk-live"
    generation, token = unknown_job(
        make_job, provider="aivideoapi", model_id="doubao-seedance-1.5-pro"
    )
    settings.AIVIDEOAPI_API_KEY = ""
    before = snapshot(generation)

    with pytest.raises(callbacks.CallbackRetryLater):
        generation_callback_receive(generation_id=generation.pk, token=token, body=b"<html>")

    assert snapshot(generation) == before


def test_a_body_the_strict_parse_refuses_still_gives_its_task_id(api, make_job):
    """An envelope with an unexpected field value fails ``parse_callback``; its taskId is
    still read leniently and confirmed."""
    generation, token = unknown_job(make_job)
    api.get(STATUS_URL, json=envelope(task_data("task_9", "success")))
    body = json.dumps(envelope({"taskId": "task_9", "state": 7})).encode()

    assert generation_callback_receive(generation_id=generation.pk, token=token, body=body)

    generation.refresh_from_db()
    assert (generation.state, generation.provider_task_id) == (State.SUCCEEDED, "task_9")
    assert settlements(generation) == ["hold", "capture"]


def test_a_callback_while_the_provider_is_paused_adopts_the_task_unread(api, make_job):
    from generations.providers.errors import ProviderAuthError
    from generations.services.circuit import provider_circuit_open

    generation, token = unknown_job(make_job)
    provider_circuit_open(provider="apixo", error=ProviderAuthError(status=401))

    assert generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_p", "success")
    )

    assert status_calls(api) == 0
    assert_adopted_unconfirmed(generation, "task_p")


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 404, "body": "<html>Not Found</html>"},  # a proxy's 404, not the provider's
        {"status": 200, "body": "<html>maintenance</html>"},  # unreadable
        {"status": 200, "body": json.dumps(envelope({"state": "success"}))},  # no taskId
    ],
)
def test_a_callback_whose_confirming_read_is_not_an_answer_still_adopts(api, make_job, answer):
    generation, token = unknown_job(make_job)
    api.get(STATUS_URL, status=answer["status"], body=answer["body"])

    assert generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_r", "success")
    )

    assert_adopted_unconfirmed(generation, "task_r")


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (json.dumps(envelope({"taskId": "t1"})), {}, "t1"),
        (json.dumps({"id": "t2", "status": 5}), {}, "t2"),
        (b"not json", {"X-Task-Id": "t3"}, "t3"),
        (b"\xff", {"x-task-id": "t4"}, "t4"),
        (json.dumps({"id": "has space"}), {}, ""),
        (json.dumps({"id": "x" * 129}), {}, ""),
        (json.dumps({"id": 12}), {}, ""),
        (json.dumps([1, 2]), {}, ""),
        (b"", {}, ""),
    ],
)
def test_callback_task_id_reads_either_providers_shape(body, headers, expected):
    raw = body.encode() if isinstance(body, str) else body
    assert callbacks.callback_task_id(raw, headers) == expected


def test_a_callbacks_confirming_read_counts_as_a_status_check(api, make_job):
    """Issue #18 item 2: the job's "Status checks" counts every status request the provider
    saw, the webhook's confirmation included; the callback itself is not a request."""
    generation, token = submitted_job(make_job)
    Generation.objects.filter(pk=generation.pk).update(poll_count=F("poll_count") + 2)
    api.get(STATUS_URL, json=envelope(task_data("task_1", "processing")))

    generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_1", "success")
    )

    assert Generation.objects.get(pk=generation.pk).poll_count == 2 + status_calls(api) == 3


def test_a_webhook_on_a_node_without_the_providers_key_moves_no_money(make_job, settings):
    """Found in review: one web node's environment lacking a key is not an answer from the
    provider; the delivery is acknowledged and the job left to the workers."""
    settings.AIVIDEOAPI_API_KEY = "sk-live"
    job = make_job(
        state=State.SUBMITTED,
        provider="aivideoapi",
        model_id="doubao-seedance-1.5-pro",
        provider_task_id="11111111-2222-3333-4444-555555555555",
    )
    token = give_token(job)
    settings.AIVIDEOAPI_API_KEY = ""  # this node's env lacks the key

    assert generation_callback_receive(generation_id=job.pk, token=token, body=b"{}")

    job.refresh_from_db()
    assert job.state == State.SUBMITTED
    assert settlements(job) == ["hold"]


def test_a_submit_answer_arriving_after_the_sweeper_parked_the_job_is_kept(api, make_job, settings):
    """Review: a slow submit is moved to ``unknown`` by the sweeper; its taskId, when the
    answer comes, is recorded instead of dropped (the provider runs and bills the task), and
    the job gets back the full deadline that parking it had cut to 30 minutes."""
    from generations.services.lifecycle import unknown_outcome_changes

    generation = make_job()

    def submit_answer(request):
        Generation.objects.filter(pk=generation.pk).update(
            **unknown_outcome_changes(timezone.now())
        )
        return 200, {}, json.dumps(envelope({"taskId": "task_slow"}))

    api.add_callback(responses.POST, SUBMIT_URL, callback=submit_answer)

    assert generation_submit(generation_id=generation.pk) == State.SUBMITTED

    generation.refresh_from_db()
    assert (generation.state, generation.provider_task_id) == (State.SUBMITTED, "task_slow")
    assert generation.next_action_at is not None
    assert settlements(generation) == ["hold"]
    assert generation.deadline_at == generation.created_at + timedelta(
        seconds=settings.GENERATION_DEADLINE_SECONDS
    )


def test_an_adopted_unknown_job_gets_its_full_deadline_back(api, make_job, settings):
    """Review: parking a job as ``unknown`` cut its deadline to the 30-minute grace; once a
    callback gives its task id it is an ordinary submitted job again, and a slow task must
    not be expired and released while the provider still runs (and bills) it."""
    from generations.providers.errors import ProviderAuthError
    from generations.services.circuit import provider_circuit_open
    from generations.services.lifecycle import unknown_outcome_changes

    generation, token = unknown_job(make_job)
    Generation.objects.filter(pk=generation.pk).update(**unknown_outcome_changes(timezone.now()))
    generation.refresh_from_db()
    assert generation.deadline_at < generation.created_at + timedelta(hours=1)
    provider_circuit_open(provider="apixo", error=ProviderAuthError(status=401))

    assert generation_callback_receive(
        generation_id=generation.pk, token=token, body=callback_body("task_d", "success")
    )

    generation.refresh_from_db()
    assert generation.provider_task_id == "task_d"
    assert generation.deadline_at == generation.created_at + timedelta(
        seconds=settings.GENERATION_DEADLINE_SECONDS
    )
