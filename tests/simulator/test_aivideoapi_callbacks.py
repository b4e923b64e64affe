"""aivideoapi.ai callbacks: headers, body, retries and the callback faults
(docs/providers/aivideoapi.md "Callback")."""

import time

import pytest

from generations.simulator.callbacks import MISMATCH_RESULT_URL

from .conftest import aiv_input


def submit_with_callback(aiv, local_server, prompt="a quiet forest at dawn"):
    return aiv.submit_ok(
        aiv_input(prompt=prompt), callback_url=local_server.url("/hooks/aiv?t=abc")
    )


def test_completed_task_is_posted_once_with_the_documented_headers(aiv, local_server):
    task_id = submit_with_callback(aiv, local_server)

    (delivery,) = local_server.wait_for(1)
    time.sleep(0.3)  # nothing else arrives

    assert len(local_server.received) == 1
    assert delivery.path == "/hooks/aiv?t=abc"
    assert delivery.json == aiv.task(task_id).json  # the same object as GET /tasks/{id}
    assert delivery.json["status"] == "completed"
    headers = delivery.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Event"] == "task.completed"
    assert headers["X-Task-Id"] == task_id
    assert headers["X-Timestamp"].isdigit()
    assert abs(int(headers["X-Timestamp"]) - delivery.at) <= 2  # Unix seconds
    assert not any("signature" in name.lower() for name in headers)  # none documented


def test_failed_task_is_posted_with_task_failed(aiv, local_server):
    task_id = submit_with_callback(aiv, local_server, prompt="bad [sim:fail=internal_error]")

    (delivery,) = local_server.wait_for(1)

    assert delivery.headers["X-Event"] == "task.failed"
    assert delivery.headers["X-Task-Id"] == task_id
    assert delivery.json["status"] == "failed"
    assert delivery.json["error"] == {
        "code": "internal_error",
        "message": "Unexpected server error.",
    }
    assert delivery.json == aiv.task(task_id).json


def test_tasks_without_callback_url_get_no_callback(aiv, local_server):
    aiv.wait_final(aiv.submit_ok(aiv_input()))
    time.sleep(0.2)

    assert local_server.received == []


def test_retries_come_immediately_then_after_3_and_10_minutes_scaled(make_aiv, local_server):
    aiv = make_aiv(callback_time_scale=0.001)  # 3 min -> 0.18 s, 10 min -> 0.6 s
    local_server.post_statuses = [500, 503]

    task_id = submit_with_callback(aiv, local_server)
    first, second, third = local_server.wait_for(3)
    data = aiv.task(task_id).json
    time.sleep(0.3)

    assert first.at - data["completed_at"] < 1.5  # the 1st attempt is immediate
    assert second.at - first.at == pytest.approx(180 * 0.001, abs=0.15)
    assert third.at - second.at == pytest.approx(600 * 0.001, abs=0.2)
    assert first.body == second.body == third.body
    assert len(local_server.received) == 3  # delivered on the 3rd attempt: no more
    (task,) = aiv.tasks()
    assert [attempt["status"] for attempt in task["callbacks"]] == [500, 503, 200]
    assert aiv.stats()["callbacks"] == {"attempts": 3, "delivered": 1}


def test_callback_is_marked_failed_after_three_attempts(make_aiv, local_server):
    aiv = make_aiv(callback_time_scale=0.001)
    local_server.post_statuses = [502] * 10

    submit_with_callback(aiv, local_server)
    local_server.wait_for(3)
    time.sleep(1.0)  # longer than the last delay (0.6 s): a 4th attempt would show

    assert len(local_server.received) == 3
    (task,) = aiv.tasks()
    assert [attempt["attempt"] for attempt in task["callbacks"]] == [1, 2, 3]
    assert aiv.stats()["callbacks"] == {"attempts": 3, "delivered": 0}


@pytest.mark.parametrize("status", [201, 202, 204, 299])
def test_any_2xx_answer_is_a_delivery(aiv, local_server, status):
    local_server.post_statuses = [status]

    submit_with_callback(aiv, local_server)
    local_server.wait_for(1)
    time.sleep(0.5)  # a retry would come after 3 min x 0.01 = 1.8 s; wait for the record

    assert len(local_server.received) == 1
    assert aiv.stats()["callbacks"] == {"attempts": 1, "delivered": 1}


@pytest.mark.parametrize("status", [301, 400, 404, 500])
def test_non_2xx_answer_is_retried(make_aiv, local_server, status):
    aiv = make_aiv(callback_time_scale=0.001)
    local_server.post_statuses = [status]

    submit_with_callback(aiv, local_server)
    first, second = local_server.wait_for(2)

    # The documented 180 s retry delay, scaled by 0.001: never sooner (a lower bound is
    # exact); later only by how busy the machine is, far below the unscaled 180 s.
    assert 0.17 <= second.at - first.at < 10


def test_unreachable_receiver_is_retried_and_recorded(make_aiv):
    aiv = make_aiv(callback_time_scale=0.001)

    aiv.submit_ok(aiv_input(), callback_url="http://127.0.0.1:9/closed-port")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and aiv.stats()["callbacks"]["attempts"] < 3:
        time.sleep(0.05)

    (task,) = aiv.tasks()
    assert [attempt["status"] for attempt in task["callbacks"]] == [None, None, None]
    assert all(attempt["error"] for attempt in task["callbacks"])


def test_slow_receiver_counts_as_a_failed_attempt(make_aiv, local_server):
    aiv = make_aiv(callback_timeout_s=0.2, callback_time_scale=0.001)
    local_server.post_delay_s = 0.5

    submit_with_callback(aiv, local_server)
    local_server.wait_for(2)

    (task,) = aiv.tasks()
    assert task["callbacks"][0]["status"] is None
    assert task["callbacks"][0]["error"]


def test_duplicate_rate_sends_the_callback_twice(make_aiv, local_server):
    aiv = make_aiv(callback_duplicate_rate=1.0)

    submit_with_callback(aiv, local_server)
    first, second = local_server.wait_for(2)

    assert first.body == second.body
    assert first.headers["X-Task-Id"] == second.headers["X-Task-Id"]


def test_drop_rate_loses_the_callback_but_not_the_task(make_aiv, local_server):
    aiv = make_aiv(callback_drop_rate=1.0)

    task_id = submit_with_callback(aiv, local_server)
    data = aiv.wait_final(task_id)
    time.sleep(0.3)

    assert data["status"] == "completed"
    assert local_server.received == []
    assert aiv.stats()["callbacks"] == {"attempts": 0, "delivered": 0}


def test_early_callback_arrives_before_the_submit_answer(make_aiv, local_server):
    aiv = make_aiv(callback_early=True)

    task_id = submit_with_callback(aiv, local_server)

    assert len(local_server.received) == 1  # already there when submit returned
    assert local_server.received[0].headers["X-Task-Id"] == task_id
    assert aiv.task(task_id).json["status"] == "completed"


def test_late_callback_waits_callback_delay(make_aiv, local_server):
    aiv = make_aiv(callback_delay_s=1.2)
    submitted = time.time()

    task_id = submit_with_callback(aiv, local_server)
    aiv.wait_final(task_id)
    (delivery,) = local_server.wait_for(1)

    # Final no sooner than the low end of 40-60 s x 0.01 for a 4 s clip, then the delay.
    assert delivery.at - submitted >= 0.4 + 1.2


def test_mismatched_callback_claims_success_with_an_attacker_url(make_aiv, local_server):
    aiv = make_aiv(callback_mismatch=True)

    task_id = submit_with_callback(aiv, local_server, prompt="fails [sim:fail]")
    (delivery,) = local_server.wait_for(1)

    claimed = delivery.json
    assert claimed["status"] == "completed"
    assert delivery.headers["X-Event"] == "task.completed"  # the headers agree with the lie
    assert claimed["output"]["urls"] == [MISMATCH_RESULT_URL]
    assert "error" not in claimed
    assert aiv.task(task_id).json["status"] == "failed"
    (task,) = aiv.tasks()
    assert task["callbacks"][0]["state"] == "completed"  # what the body claimed


def test_mismatched_callback_claims_failure_for_a_success(make_aiv, local_server):
    aiv = make_aiv(callback_mismatch=True)

    task_id = submit_with_callback(aiv, local_server)
    (delivery,) = local_server.wait_for(1)

    assert delivery.json["status"] == "failed"
    assert delivery.headers["X-Event"] == "task.failed"
    assert set(delivery.json["error"]) == {"code", "message"}
    assert "output" not in delivery.json
    assert aiv.task(task_id).json["status"] == "completed"


def test_reset_forgets_pending_callbacks(make_aiv, local_server):
    aiv = make_aiv(callback_delay_s=0.5)

    submit_with_callback(aiv, local_server)
    aiv.call("POST", "/_sim/reset", key=None)
    time.sleep(1.2)

    assert local_server.received == []
