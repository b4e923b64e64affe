"""aivideoapi.ai: injected faults and limits, the /aivideoapi/_sim controls, and the
independence of the two providers sharing one port
(docs/providers/aivideoapi.md "Error Reference")."""

import http.client
import json
import time

import pytest

from generations.simulator.aivideoapi import RANDOM_FAILURES

from .conftest import AIV_MODEL, aiv_input, t2v_input

ENDPOINTS = [
    ("POST", "/v1/videos/generations"),
    ("GET", "/v1/tasks/3d0b5f3e-3c53-4f5e-9a34-0f4c8a2e8d11"),
    ("GET", "/v1/credits"),
]


def payload(method):
    return {"model": AIV_MODEL, "input": aiv_input()} if method == "POST" else None


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_rate_429_answers_rate_limit_exceeded(make_aiv, method, path):
    aiv = make_aiv(rate_429=1.0)

    answer = aiv.call(method, path, payload(method))

    assert answer.status == 429
    assert answer.json == {
        "error": {
            "code": "rate_limit_exceeded",
            "message": "Too many requests, please slow down.",
            "type": "rate_limit_error",
        }
    }
    assert aiv.tasks() == []


def test_rate_gateway_answers_a_proxys_html_502_or_504(make_aiv):
    aiv = make_aiv(rate_gateway=1.0, seed=1)
    answers = [aiv.submit(aiv_input()) for _ in range(12)]
    assert {answer.status for answer in answers} == {502, 504}
    assert all(b"<html>" in answer.body for answer in answers)
    assert aiv.tasks() == []


def test_rate_5xx_answers_internal_error_or_upstream_error(make_aiv):
    aiv = make_aiv(rate_5xx=1.0, seed=1)

    answers = [aiv.submit(aiv_input()) for _ in range(16)]

    seen = {(answer.status, answer.json["error"]["code"]) for answer in answers}
    assert seen == {(500, "internal_error"), (503, "upstream_error")}
    for answer in answers:
        expected_type = "api_error" if answer.status == 500 else "upstream_error"
        assert answer.json["error"]["type"] == expected_type
        assert answer.json["error"]["message"]
    assert aiv.tasks() == []
    assert aiv.call("GET", "/v1/credits").status in (500, 503)


def test_faults_come_after_authentication_and_the_ip_check(make_aiv):
    aiv = make_aiv(rate_5xx=1.0, rate_429=1.0)

    assert aiv.call("GET", "/v1/credits", key="sk-nope").status == 401
    aiv.configure(ip_not_allowed=True)
    assert aiv.call("GET", "/v1/credits").status == 403


def test_requests_per_minute_limit_is_429(make_aiv):
    aiv = make_aiv(requests_per_minute=3)

    statuses = [aiv.call("GET", "/v1/credits").status for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
    assert aiv.call("GET", "/v1/credits").json["error"]["code"] == "rate_limit_exceeded"
    assert aiv.stats()["max_requests_per_60s"] == 6


def test_concurrency_limit_is_429_until_a_task_finishes(make_aiv):
    aiv = make_aiv(max_concurrent_tasks=2)
    first = aiv.submit_ok(aiv_input())
    aiv.submit_ok(aiv_input(prompt="never mind [sim:slow]"))

    refused = aiv.submit(aiv_input())

    assert refused.status == 429
    assert refused.json["error"] == {
        "code": "rate_limit_exceeded",
        "message": "Too many concurrent tasks, please slow down.",
        "type": "rate_limit_error",
    }
    assert aiv.credits()["total_consumed"] == 24  # the refused one was not charged
    aiv.wait_final(first)
    assert aiv.submit(aiv_input()).status == 200


def test_latency_delays_answers(make_aiv):
    aiv = make_aiv(latency_ms=300)

    started = time.monotonic()
    aiv.call("GET", "/v1/credits")

    assert time.monotonic() - started >= 0.3


def test_drop_after_submit_closes_the_connection_but_keeps_the_task(make_aiv):
    aiv = make_aiv(drop_after_submit_rate=1.0)

    with pytest.raises(http.client.RemoteDisconnected):
        aiv.submit(aiv_input())

    (task,) = aiv.tasks()
    assert aiv.wait_final(task["taskId"])["status"] == "completed"
    assert aiv.stats()["responses"]["dropped"] == 1
    assert aiv.stats()["requests"]["generations"] == 1


def test_fail_rate_fails_every_task_with_a_documented_error(make_aiv):
    aiv = make_aiv(fail_rate=1.0, seed=7)

    ids = [aiv.submit_ok(aiv_input()) for _ in range(6)]
    errors = [aiv.wait_final(task_id)["error"] for task_id in ids]

    for error in errors:
        assert (error["code"], error["message"]) in RANDOM_FAILURES
    assert {error["code"] for error in errors} <= {"upstream_error", "internal_error"}
    assert aiv.credits()["balance"] == 20000  # every failure refunded


def test_fail_trigger_picks_a_random_documented_error(aiv):
    data = aiv.wait_final(aiv.submit_ok(aiv_input(prompt="please fail [sim:fail]")))

    assert (data["error"]["code"], data["error"]["message"]) in RANDOM_FAILURES


def test_slow_trigger_takes_ten_times_longer(aiv):
    slow = aiv.submit_ok(aiv_input(prompt="take your time [sim:slow]"))
    fast = aiv.submit_ok(aiv_input())

    aiv.wait_final(fast)

    assert aiv.task(slow).json["status"] in ("pending", "processing")


# --- controls ----------------------------------------------------------------------------------


def test_config_changes_behaviour_at_run_time_and_reset_restores_it(aiv):
    changed = aiv.configure(rate_429=1.0, balance_credits=700)
    assert changed.status == 200
    assert changed.json["data"]["rate_429"] == 1.0
    assert changed.json["data"]["balance_credits"] == 700
    assert aiv.call("GET", "/v1/credits").status == 429

    aiv.configure(rate_429=0.0)
    assert aiv.credits()["balance"] == 700
    aiv.submit_ok(aiv_input())

    reset = aiv.call("POST", "/_sim/reset", key=None)
    assert reset.status == 200
    assert reset.json["data"]["balance_credits"] == 20000
    assert aiv.tasks() == []
    assert aiv.credits() == {"balance": 20000, "total_purchased": 20000, "total_consumed": 0}
    assert aiv.call("GET", "/_sim/config", key=None).json["data"] == reset.json["data"]


def test_config_lists_every_aivideoapi_knob_and_no_apixo_only_one(aiv):
    knobs = aiv.call("GET", "/_sim/config", key=None).json["data"]

    assert knobs["api_key"] == "sk-test-aivideoapi-key"
    assert {"balance_credits", "spend_limit_credits", "ip_not_allowed"} <= set(knobs)
    assert not {"balance_usd", "max_video_bytes"} & set(knobs)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"rate_5xx": 2}', "rate_5xx must be between 0 and 1"),
        (b'{"ip_not_allowed": 1}', "ip_not_allowed must be of type bool"),
        (b'{"balance_credits": 1.5}', "balance_credits must be of type int"),
        (b'{"spend_limit_credits": -1}', "spend_limit_credits must not be negative"),
        (b'{"api_key": "not-sk"}', "api_key must start with 'sk-'"),
        (b'{"balance_usd": 5}', "Unknown knob: balance_usd"),
        (b"[]", "Request body must be a JSON object"),
    ],
)
def test_bad_config_update_is_400_and_changes_nothing(aiv, raw, error):
    before = aiv.call("GET", "/_sim/config", key=None).json["data"]

    answer = aiv.call("POST", "/_sim/config", raw=raw, key=None)

    assert answer.status == 400
    assert answer.json == {"code": 400, "message": "Invalid request", "data": {"error": error}}
    assert aiv.call("GET", "/_sim/config", key=None).json["data"] == before


def test_unknown_control_is_404(aiv):
    assert aiv.call("GET", "/_sim/nothing", key=None).status == 404
    assert aiv.call("GET", "/_sim/reset", key=None).status == 404


def test_stats_count_requests_per_endpoint_and_status_requests_per_task(aiv):
    task_id = aiv.submit_ok(aiv_input())
    aiv.task(task_id)
    aiv.task(task_id)
    aiv.task(task_id)
    aiv.call("GET", "/v1/credits", key="sk-wrong")

    stats = aiv.stats()

    assert stats["requests"] == {"generations": 1, "tasks": 3, "credits": 1}
    assert stats["responses"] == {"200": 4, "401": 1}
    assert stats["status_requests_per_task"] == {task_id: 3}
    assert stats["status_requests_avg"] == 3.0
    assert stats["max_requests_per_60s"] == 5
    assert stats["tasks"]["total"] == 1
    assert stats["callbacks"] == {"attempts": 0, "delivered": 0}
    json.dumps(stats)


def test_stats_and_tasks_use_the_provider_state_names(aiv):
    task_id = aiv.submit_ok(aiv_input())
    aiv.wait_final(task_id)

    stats = aiv.stats()
    (task,) = aiv.tasks()

    assert stats["tasks"] == {"total": 1, "active": 0, "completed": 1}
    assert task["state"] == "completed"
    assert task["model"] == AIV_MODEL
    assert task["status"] == aiv.task(task_id).json


# --- independence ------------------------------------------------------------------------------


def test_apixo_faults_do_not_touch_aivideoapi(aiv):
    aiv.apixo.configure(rate_5xx=1.0, rate_429=0.0, requests_per_minute=1, latency_ms=0)

    assert aiv.apixo.call("GET", "/api/v1/apikeys/current-balance").status >= 500
    for _ in range(3):
        assert aiv.call("GET", "/v1/credits").status == 200
    task_id = aiv.submit_ok(aiv_input())
    assert aiv.wait_final(task_id)["status"] == "completed"


def test_aivideoapi_faults_do_not_touch_apixo(aiv):
    aiv.configure(rate_5xx=1.0, fail_rate=1.0, ip_not_allowed=True)

    assert aiv.call("GET", "/v1/credits").status == 403
    task_id = aiv.apixo.submit_ok(t2v_input())
    assert aiv.apixo.wait_final(task_id)["state"] == "success"


def test_each_provider_has_its_own_store_counters_and_reset(aiv):
    aiv.apixo.submit_ok(t2v_input())
    aiv.submit_ok(aiv_input())
    aiv.submit_ok(aiv_input())

    assert len(aiv.apixo.tasks()) == 1
    assert len(aiv.tasks()) == 2
    assert aiv.apixo.stats()["requests"] == {"generateTask": 1}
    assert aiv.stats()["requests"] == {"generations": 2}

    aiv.apixo.call("POST", "/_sim/reset", key=None)  # APIXO only
    assert aiv.apixo.tasks() == []
    assert len(aiv.tasks()) == 2
    assert aiv.stats()["requests"] == {"generations": 2}

    aiv.call("POST", "/_sim/reset", key=None)
    assert aiv.tasks() == []


def test_knob_changes_stay_with_their_provider(aiv):
    aiv.configure(time_scale=0.5, callback_early=True)

    apixo_knobs = aiv.apixo.call("GET", "/_sim/config", key=None).json["data"]
    assert apixo_knobs["time_scale"] == 0.01
    assert apixo_knobs["callback_early"] is False
    assert aiv.apixo.configure(balance_credits=5).status == 400  # not an APIXO knob
