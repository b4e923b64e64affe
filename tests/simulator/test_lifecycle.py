"""Task states over time, results and failures (docs/providers/apixo.md "Poll for result",
"Task failure codes"; "Status response fields", "Rate limits")."""

import json
import time

from generations.simulator.apixo import FAILURE_MESSAGES, RANDOM_FAILURES

from .conftest import PRO, t2v_input


def observed_states(sim, task_id, timeout=10.0):
    """Poll quickly until final; return the distinct states in order and the final data."""
    states, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = sim.status(task_id).json["data"]
        if not states or states[-1] != data["state"]:
            states.append(data["state"])
        if data["state"] in ("success", "failed"):
            return states, data
        time.sleep(0.02)
    raise AssertionError(f"not final: {states}")


def test_task_goes_pending_processing_success(make_sim):
    sim = make_sim(time_scale=0.04)  # 4 s clip: 40-60 s scaled, final within 1.6-2.4 s
    before = int(time.time() * 1000)

    task_id = sim.submit_ok(t2v_input())
    states, data = observed_states(sim, task_id)

    assert states == ["pending", "processing", "success"]
    assert set(data) == {"taskId", "state", "resultJson", "createTime", "completeTime", "costTime"}
    assert data["taskId"] == task_id
    assert before <= data["createTime"] <= data["completeTime"]
    assert data["costTime"] == data["completeTime"] - data["createTime"]
    assert 1590 <= data["costTime"] < 3000


def test_running_states_carry_only_the_documented_fields(sim):
    task_id = sim.submit_ok(t2v_input(prompt="slow one [sim:slow]"))

    data = sim.status(task_id).json["data"]

    assert data["state"] in ("pending", "processing")
    assert set(data) == {"taskId", "state", "createTime"}


def test_result_json_is_a_string_holding_result_urls(sim):
    task_id = sim.submit_ok(t2v_input())

    data = sim.wait_final(task_id)

    assert isinstance(data["resultJson"], str)
    urls = json.loads(data["resultJson"])["resultUrls"]
    assert urls == [f"{sim.base_url}/files/{task_id}.mp4"]


def test_public_base_url_sets_the_result_host(make_sim):
    sim = make_sim(public_base_url="https://files.example.test/")

    data = sim.wait_final(sim.submit_ok(t2v_input()))

    assert json.loads(data["resultJson"])["resultUrls"][0].startswith(
        "https://files.example.test/files/task_"
    )


def test_fail_trigger_ends_failed_with_a_documented_pair(sim):
    task_id = sim.submit_ok(t2v_input(prompt="please fail [sim:fail]"))

    states, data = observed_states(sim, task_id)

    assert states[-1] == "failed"
    assert set(data) == {
        "taskId",
        "state",
        "failCode",
        "failMsg",
        "createTime",
        "completeTime",
        "costTime",
    }
    assert data["failCode"] in RANDOM_FAILURES[PRO]
    assert data["failMsg"] == FAILURE_MESSAGES[data["failCode"]]


def test_fail_trigger_can_pick_the_code(sim):
    task_id = sim.submit_ok(t2v_input(prompt="nsfw [sim:fail=SensitiveContent]"))

    data = sim.wait_final(task_id)

    assert data["failCode"] == "SensitiveContent"
    assert data["failMsg"] == "Content violates upstream policy, please adjust the prompt"


def test_fail_rate_one_fails_every_task(make_sim):
    sim = make_sim(fail_rate=1.0, seed=7)

    ids = [sim.submit_ok(t2v_input()) for _ in range(3)]

    assert {sim.wait_final(task_id)["state"] for task_id in ids} == {"failed"}


def test_slow_trigger_takes_ten_times_longer(sim):
    slow = sim.submit_ok(t2v_input(prompt="take your time [sim:slow]"))
    fast = sim.submit_ok(t2v_input())

    sim.wait_final(fast)

    assert sim.status(slow).json["data"]["state"] in ("pending", "processing")


def test_longer_clips_take_longer(sim):
    short = sim.submit_ok(t2v_input(duration=4))
    long = sim.submit_ok(t2v_input(duration=12))

    short_cost = sim.wait_final(short)["costTime"]
    long_cost = sim.wait_final(long)["costTime"]

    # Never before the low end of the scaled typical range (the draw is within it); later only
    # if rendering lagged. 4 s: 40-60 s x 0.01; 12 s: 90-120 s x 0.01.
    assert short_cost >= 390
    assert long_cost >= 890
    assert long_cost > short_cost


def test_concurrency_limit_is_429_until_a_task_finishes(make_sim):
    sim = make_sim(max_concurrent_tasks=2)
    first = sim.submit_ok(t2v_input())
    sim.submit_ok(t2v_input(prompt="never mind [sim:slow]"))

    refused = sim.submit(t2v_input())

    assert refused.status == 429
    assert refused.json["code"] == 429
    sim.wait_final(first)
    assert sim.submit(t2v_input()).status == 200


def test_sim_tasks_lists_bodies_and_status_counts(sim):
    task_id = sim.submit_ok(t2v_input(), provider="value")
    sim.status(task_id)
    sim.status(task_id)

    (task,) = sim.tasks()

    assert task["taskId"] == task_id
    assert task["request"] == {"input": t2v_input(), "provider": "value"}
    assert task["statusRequests"] == 2
