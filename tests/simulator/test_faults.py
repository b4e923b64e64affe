"""Injected HTTP faults, rate limits and the /_sim controls (docs/providers/apixo.md "HTTP errors";
"Rate limits")."""

import http.client
import json
import time

import pytest

from .conftest import PRO, t2v_input

API_PATHS = [
    ("POST", f"/api/v1/generateTask/{PRO}"),
    ("GET", f"/api/v1/statusTask/{PRO}?taskId=task_1"),
    ("GET", "/api/v1/apikeys/current-balance"),
]


@pytest.mark.parametrize(("method", "path"), API_PATHS)
def test_rate_429_one_answers_every_request_429(make_sim, method, path):
    sim = make_sim(rate_429=1.0)

    answer = sim.call(method, path, {"input": t2v_input()} if method == "POST" else None)

    assert answer.status == 429
    assert answer.json == {"code": 429, "message": "Rate limit exceeded", "data": None}


@pytest.mark.parametrize(
    ("knob", "expected"), [("rate_5xx", {500, 503}), ("rate_gateway", {502, 504})]
)
def test_rate_5xx_and_rate_gateway_answer_their_server_errors(make_sim, knob, expected):
    """500/503 are the provider's own errors; 502/504 a gateway's, which may have passed the
    request on (docs/providers.md "Stricter reading")."""
    sim = make_sim(**{knob: 1.0}, seed=1)

    answers = [sim.submit(t2v_input()) for _ in range(12)]

    statuses = {answer.status for answer in answers}
    assert statuses == expected
    for answer in answers:
        assert answer.json["code"] == answer.status
        assert answer.json["message"]
        assert answer.json["data"] is None
    assert sim.tasks() == []


def test_faults_come_after_authentication(make_sim):
    sim = make_sim(rate_5xx=1.0)

    assert sim.call("GET", "/api/v1/apikeys/current-balance", key="nope").status == 401


def test_drop_after_submit_closes_the_connection_but_keeps_the_task(make_sim):
    sim = make_sim(drop_after_submit_rate=1.0)

    with pytest.raises(http.client.RemoteDisconnected):
        sim.submit(t2v_input())

    (task,) = sim.tasks()
    assert sim.wait_final(task["taskId"])["state"] == "success"
    assert sim.stats()["responses"]["dropped"] == 1


def test_latency_delays_answers(make_sim):
    sim = make_sim(latency_ms=300)

    started = time.monotonic()
    sim.call("GET", "/api/v1/apikeys/current-balance")

    assert time.monotonic() - started >= 0.3


def test_requests_per_minute_limit_is_429(make_sim):
    sim = make_sim(requests_per_minute=3)

    statuses = [sim.call("GET", "/api/v1/apikeys/current-balance").status for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
    assert sim.stats()["max_requests_per_60s"] == 5


def test_config_changes_behaviour_at_run_time_and_reset_restores_it(sim):
    changed = sim.configure(rate_429=1.0, balance_usd=3.5)
    assert changed.status == 200
    assert changed.json["data"]["rate_429"] == 1.0
    assert sim.call("GET", "/api/v1/apikeys/current-balance").status == 429

    sim.configure(rate_429=0.0)
    assert sim.call("GET", "/api/v1/apikeys/current-balance").json["data"] == 3.5
    sim.submit_ok(t2v_input())

    reset = sim.call("POST", "/_sim/reset", key=None)
    assert reset.json["data"]["balance_usd"] == 100.0
    assert sim.tasks() == []
    assert sim.call("GET", "/api/v1/apikeys/current-balance").json["data"] == 100.0
    assert sim.call("GET", "/_sim/config", key=None).json["data"] == reset.json["data"]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"fail_rate": 2}', "fail_rate must be between 0 and 1"),
        (b'{"fail_rate": "0.5"}', "fail_rate must be of type float"),
        (b'{"callback_early": 1}', "callback_early must be of type bool"),
        (b'{"time_scale": 0}', "time_scale must be positive"),
        (b'{"warp_speed": 9}', "Unknown knob: warp_speed"),
        (b"[]", "Request body must be a JSON object"),
    ],
)
def test_bad_config_update_is_400_and_changes_nothing(sim, raw, error):
    before = sim.call("GET", "/_sim/config", key=None).json["data"]

    answer = sim.call("POST", "/_sim/config", raw=raw, key=None)

    assert answer.status == 400
    assert answer.json["data"] == {"error": error}
    assert sim.call("GET", "/_sim/config", key=None).json["data"] == before


def test_stats_count_requests_per_endpoint_and_status_requests_per_task(sim):
    task_id = sim.submit_ok(t2v_input())
    sim.status(task_id)
    sim.status(task_id)
    sim.status(task_id)
    sim.call("GET", "/api/v1/apikeys/current-balance", key="wrong")

    stats = sim.stats()

    assert stats["requests"] == {"generateTask": 1, "statusTask": 3, "current-balance": 1}
    assert stats["responses"] == {"200": 4, "401": 1}
    assert stats["status_requests_per_task"] == {task_id: 3}
    assert stats["status_requests_avg"] == 3.0
    assert stats["max_requests_per_60s"] == 5
    assert stats["tasks"]["total"] == 1
    assert stats["callbacks"] == {"attempts": 0, "delivered": 0}
    json.dumps(stats)  # JSON-ready


@pytest.mark.parametrize(("method", "path"), API_PATHS)
def test_rate_unreadable_answers_a_maintenance_page_or_a_redirect(make_sim, method, path):
    """Not a provider answer: what a proxy in front of it sends during maintenance."""
    sim = make_sim(rate_unreadable=1.0, seed=3)

    answers = [
        sim.call(method, path, {"input": t2v_input()} if method == "POST" else None)
        for _ in range(8)
    ]

    assert {answer.status for answer in answers} == {200, 302}
    for answer in answers:
        if answer.status == 302:
            assert answer.headers["Location"] == "/maintenance"
        else:
            assert answer.headers["Content-Type"].startswith("text/html")
            assert b"maintenance" in answer.body.lower()
    assert sim.tasks() == []
