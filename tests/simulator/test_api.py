"""Authentication, routing, envelope and balance (docs/providers/apixo.md "Envelope and states",
"HTTP errors", "Balance endpoint")."""

import pytest

from .conftest import EXTEND, PRO, t2v_input

UNAUTHORIZED = {"code": 401, "message": "Invalid or missing API key", "data": None}


@pytest.mark.parametrize("key", [None, "wrong-key", ""], ids=["missing", "wrong", "empty"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/api/v1/generateTask/{PRO}"),
        ("GET", f"/api/v1/statusTask/{PRO}?taskId=task_1"),
        ("GET", "/api/v1/apikeys/current-balance"),
    ],
)
def test_bad_or_missing_key_is_401(sim, key, method, path):
    answer = sim.call(method, path, {"input": t2v_input()} if method == "POST" else None, key=key)

    assert answer.status == 401
    assert answer.json == UNAUTHORIZED


def test_basic_scheme_is_not_accepted(sim):
    answer = sim.call(
        "GET",
        "/api/v1/apikeys/current-balance",
        key=None,
        headers={"Authorization": "Basic test-key"},
    )

    assert answer.status == 401


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/generateTask/seedance-2-0"),
        ("GET", "/api/v1/statusTask/seedance-2-0?taskId=task_1"),
        ("POST", "/api/v1/generateTask/"),
        ("GET", "/api/v1/unknown"),
    ],
)
def test_unknown_model_or_path_is_404(sim, method, path):
    answer = sim.call(method, path, {"input": t2v_input()} if method == "POST" else None)

    assert answer.status == 404
    assert answer.json["code"] == 404
    assert answer.json["data"] is None


def test_wrong_method_is_405(sim):
    answer = sim.call("GET", f"/api/v1/generateTask/{PRO}")

    assert answer.status == 405
    assert answer.json["code"] == 405


def test_status_needs_task_id(sim):
    answer = sim.call("GET", f"/api/v1/statusTask/{PRO}")

    assert answer.status == 400
    assert answer.json["data"] == {"error": "Missing required parameter: taskId"}


def test_unknown_task_is_404(sim):
    answer = sim.status("task_00000000000000000000000000000000")

    assert answer.status == 404
    assert answer.json == {"code": 404, "message": "Task not found", "data": None}


def test_task_is_not_found_under_the_other_model(sim):
    task_id = sim.submit_ok(t2v_input())

    assert sim.status(task_id, EXTEND).status == 404
    assert sim.status(task_id, PRO).status == 200


def test_submit_answer_is_the_documented_envelope(sim):
    answer = sim.submit(t2v_input())

    assert answer.headers["Content-Type"] == "application/json"
    assert set(answer.json) == {"code", "message", "data"}
    assert set(answer.json["data"]) == {"taskId"}


def test_balance_is_debited_by_the_documented_price_on_success(make_sim):
    sim = make_sim(balance_usd=10.0)
    balance = sim.call("GET", "/api/v1/apikeys/current-balance")
    assert balance.json == {"code": 200, "message": "success", "data": 10.0}

    # 720p with sound: $0.04/s x 8 s = $0.32 (docs/providers/apixo.md "Billing").
    done = sim.submit_ok(t2v_input(resolution="720p", sound=True, duration=8))
    # Failed tasks cost nothing.
    failed = sim.submit_ok(t2v_input(prompt="doomed [sim:fail]", duration=12))
    assert sim.wait_final(done)["state"] == "success"
    assert sim.wait_final(failed)["state"] == "failed"

    balance = sim.call("GET", "/api/v1/apikeys/current-balance").json["data"]
    assert balance == pytest.approx(9.68)


def test_extend_price_uses_the_extend_table(make_sim, local_server):
    sim = make_sim(balance_usd=1.0)
    # 1080p with sound: $0.104/s x 4 s = $0.416 is held at submit
    # (docs/providers/apixo.md "Billing").
    sim.submit_ok(
        {
            "mode": "video-extend",
            "prompt": "go on [sim:slow]",
            "video_urls": ["http://127.0.0.1:9/v.mp4"],
            "resolution": "1080p",
            "duration": 4,
            "sound": True,
        },
        EXTEND,
    )

    balance = sim.call("GET", "/api/v1/apikeys/current-balance").json["data"]
    assert balance == pytest.approx(0.584)


def test_low_balance_is_402(make_sim):
    sim = make_sim(balance_usd=0.15)

    answer = sim.submit(t2v_input(resolution="720p", duration=8))  # $0.16

    assert answer.status == 402
    assert answer.json == {"code": 402, "message": "Insufficient balance", "data": None}
    assert sim.tasks() == []
    assert sim.submit(t2v_input(resolution="480p", duration=8)).status == 200  # $0.08
