"""Webhook delivery, retries and callback faults (docs/providers/apixo.md "Webhooks")."""

import json
import time

import pytest

from generations.simulator.callbacks import MISMATCH_RESULT_URL

from .conftest import t2v_input


def submit_with_callback(sim, local_server, prompt="a quiet forest at dawn"):
    return sim.submit_ok(
        t2v_input(prompt=prompt),
        request_type="callback",
        callback_url=local_server.url("/hooks/apixo?token=abc"),
    )


def test_final_state_is_posted_once_as_the_status_envelope(sim, local_server):
    task_id = submit_with_callback(sim, local_server)

    (delivery,) = local_server.wait_for(1)
    time.sleep(0.3)  # nothing else arrives

    assert len(local_server.received) == 1
    assert delivery.path == "/hooks/apixo?token=abc"
    assert delivery.json == sim.status(task_id).json
    assert delivery.json["data"]["state"] == "success"


def test_failed_task_is_posted_too(sim, local_server):
    task_id = submit_with_callback(sim, local_server, prompt="bad [sim:fail=Timeout]")

    (delivery,) = local_server.wait_for(1)

    assert delivery.json["data"]["taskId"] == task_id
    assert delivery.json["data"]["failCode"] == "Timeout"


def test_async_tasks_get_no_callback(sim, local_server):
    task_id = sim.submit_ok(t2v_input(), callback_url=local_server.url("/hook"))
    sim.wait_final(task_id)
    time.sleep(0.2)

    assert local_server.received == []


def test_receiver_error_is_retried_after_the_scaled_delay(sim, local_server):
    local_server.post_statuses = [500]

    submit_with_callback(sim, local_server)
    first, second = local_server.wait_for(2)

    assert second.at - first.at == pytest.approx(30 * 0.01, abs=0.2)  # 30 s x time_scale
    assert second.body == first.body


def test_callback_is_abandoned_after_three_retries(make_sim, local_server):
    sim = make_sim(callback_time_scale=0.001)  # retries after 0.03 s, 0.12 s, 0.6 s
    local_server.post_statuses = [503] * 10

    task_id = submit_with_callback(sim, local_server)
    local_server.wait_for(4)
    time.sleep(0.8)  # longer than the last retry delay (0.6 s): a fifth attempt would show

    assert len(local_server.received) == 4
    (task,) = sim.tasks()
    assert [attempt["status"] for attempt in task["callbacks"]] == [503] * 4
    assert task["taskId"] == task_id
    assert sim.stats()["callbacks"] == {"attempts": 4, "delivered": 0}


def test_slow_receiver_counts_as_a_failed_attempt(make_sim, local_server):
    sim = make_sim(callback_timeout_s=0.2)
    local_server.post_delay_s = 0.5

    submit_with_callback(sim, local_server)
    local_server.wait_for(2)  # the first attempt timed out, so it was retried

    (task,) = sim.tasks()
    assert task["callbacks"][0]["status"] is None
    assert task["callbacks"][0]["error"]


def test_duplicate_rate_sends_the_callback_twice(make_sim, local_server):
    sim = make_sim(callback_duplicate_rate=1.0)

    submit_with_callback(sim, local_server)
    first, second = local_server.wait_for(2)

    assert first.body == second.body


def test_early_callback_arrives_before_the_submit_answer(make_sim, local_server):
    sim = make_sim(callback_early=True)

    task_id = submit_with_callback(sim, local_server)

    assert len(local_server.received) == 1  # already there when submit returned
    assert local_server.received[0].json["data"]["taskId"] == task_id
    assert sim.status(task_id).json["data"]["state"] == "success"


def test_late_callback_waits_callback_delay(make_sim, local_server):
    sim = make_sim(callback_delay_s=0.6)

    task_id = submit_with_callback(sim, local_server)
    data = sim.wait_final(task_id)
    (delivery,) = local_server.wait_for(1)

    assert delivery.at * 1000 - data["completeTime"] >= 550


def test_mismatched_callback_claims_success_with_an_attacker_url(make_sim, local_server):
    sim = make_sim(callback_mismatch=True)

    task_id = submit_with_callback(sim, local_server, prompt="fails [sim:fail]")
    (delivery,) = local_server.wait_for(1)

    claimed = delivery.json["data"]
    assert claimed["state"] == "success"
    assert json.loads(claimed["resultJson"])["resultUrls"] == [MISMATCH_RESULT_URL]
    assert sim.status(task_id).json["data"]["state"] == "failed"


def test_mismatched_callback_claims_failure_for_a_success(make_sim, local_server):
    sim = make_sim(callback_mismatch=True)

    task_id = submit_with_callback(sim, local_server)
    (delivery,) = local_server.wait_for(1)

    assert delivery.json["data"]["state"] == "failed"
    assert "resultJson" not in delivery.json["data"]
    assert sim.status(task_id).json["data"]["state"] == "success"


def test_drop_rate_loses_the_callback_but_not_the_task(make_sim, local_server):
    sim = make_sim(callback_drop_rate=1.0)

    task_id = submit_with_callback(sim, local_server)
    data = sim.wait_final(task_id)
    time.sleep(0.3)  # a delivery would have arrived by now

    assert data["state"] == "success"
    assert local_server.received == []
    assert sim.stats()["callbacks"] == {"attempts": 0, "delivered": 0}
