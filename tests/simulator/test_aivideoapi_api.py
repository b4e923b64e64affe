"""aivideoapi.ai: authentication, answer shapes, the task object in each state, credits and the
documented error codes (docs/providers/aivideoapi.md "Create Task", "Query Task", "Pricing",
"Error Reference"; "Query Task"; docs/providers/aivideoapi.md "Keys and limits" and
"Credits balance")."""

import time
import uuid

import pytest

from .conftest import AIV_KEY, AIV_MODEL, aiv_input

ENDPOINTS = [
    ("POST", "/v1/videos/generations"),
    ("GET", "/v1/tasks/ad7971fb-2fb6-44b0-bb38-77e9fe83a5a1"),
    ("GET", "/v1/credits"),
]


def assert_error(answer, status: int, code: str, kind: str, message: str | None = None) -> None:
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"] == "application/json"
    assert set(answer.json) == {"error"}
    error = answer.json["error"]
    assert set(error) == {"code", "message", "type"}
    assert (error["code"], error["type"]) == (code, kind)
    assert isinstance(error["message"], str) and error["message"]
    if message is not None:
        assert error["message"] == message


def body_for(method: str) -> dict | None:
    return {"model": AIV_MODEL, "input": aiv_input()} if method == "POST" else None


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing API key. Send 'Authorization: Bearer sk-...'."),
        ({"Authorization": ""}, "Missing API key. Send 'Authorization: Bearer sk-...'."),
        (
            {"Authorization": f"Basic {AIV_KEY}"},
            "Missing API key. Send 'Authorization: Bearer sk-...'.",
        ),
        ({"Authorization": "Bearer "}, "Missing API key. Send 'Authorization: Bearer sk-...'."),
        ({"Authorization": "Bearer test-key"}, "Invalid API key: keys start with 'sk-'."),
        ({"Authorization": "Bearer sk-wrong"}, "API key is invalid, disabled, or deleted."),
    ],
    ids=["missing", "empty", "basic", "bearer-empty", "no-sk-prefix", "wrong"],
)
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_bad_or_missing_key_is_401_invalid_api_key(aiv, headers, message, method, path):
    answer = aiv.call(method, path, body_for(method), key=None, headers=headers)

    assert_error(answer, 401, "invalid_api_key", "authentication_error", message)


def test_the_apixo_key_is_not_an_aivideoapi_key(aiv):
    assert aiv.call("GET", "/v1/credits", key="test-key").status == 401
    assert aiv.apixo.call("GET", "/api/v1/apikeys/current-balance", key=AIV_KEY).status == 401


def test_default_key_is_the_documented_simulator_key(make_aiv):
    aiv = make_aiv(api_key="sk-sim-aivideoapi-key")

    assert aiv.call("GET", "/v1/credits", key="sk-sim-aivideoapi-key").status == 200


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_ip_not_allowed_is_403_after_authentication(make_aiv, method, path):
    aiv = make_aiv(ip_not_allowed=True)

    answer = aiv.call(method, path, body_for(method))

    assert_error(
        answer, 403, "ip_not_allowed", "permission_error", "Request IP not in the key's allowlist."
    )
    assert aiv.call(method, path, body_for(method), key="sk-wrong").status == 401
    assert aiv.tasks() == []


# --- routing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v1/unknown", "/v1/tasks/", "/v1/tasks/a/b", "/v1/videos", "/v2/credits", ""]
)
def test_unknown_endpoint_is_404_not_found(aiv, path):
    answer = aiv.call("GET", path)

    assert_error(answer, 404, "not_found", "invalid_request_error")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/videos/generations"),
        ("PUT", "/v1/videos/generations"),
        ("POST", "/v1/tasks/c2902cbb-d90a-41ae-b544-9645e8390204"),
        ("DELETE", "/v1/tasks/6dc05de0-fafb-4b29-92e7-71b8d27c0662"),
        ("POST", "/v1/credits"),
    ],
)
def test_wrong_method_is_405(aiv, method, path):
    answer = aiv.call(method, path, {} if method in ("POST", "PUT") else None)

    assert_error(answer, 405, "method_not_allowed", "invalid_request_error")


# Fixed ids: parameters must be the same in every pytest-xdist worker.
@pytest.mark.parametrize(
    "task_id", ["f50ff243-7e69-4ea9-af31-6188ce4e57cf", "task_0000", "not-a-uuid"]
)
def test_unknown_task_is_404_task_not_found(aiv, task_id):
    answer = aiv.task(task_id)

    assert_error(
        answer,
        404,
        "task_not_found",
        "invalid_request_error",
        f"Task '{task_id}' does not exist.",
    )


def test_apixo_tasks_are_not_aivideoapi_tasks(aiv):
    apixo_task = aiv.apixo.submit_ok(
        {
            "mode": "text-to-video",
            "prompt": "a calm seaside sunrise",
            "resolution": "480p",
            "duration": 4,
            "sound": False,
        }
    )
    aiv_task = aiv.submit_ok(aiv_input())

    assert aiv.task(apixo_task).status == 404
    assert aiv.apixo.status(aiv_task).status == 404


# --- submit ------------------------------------------------------------------------------------


def test_submit_answer_is_the_documented_envelope_with_msg(aiv):
    answer = aiv.submit(aiv_input())

    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert set(answer.json) == {"code", "msg", "data"}
    assert (answer.json["code"], answer.json["msg"]) == (200, "success")
    assert set(answer.json["data"]) == {"taskId"}
    task_id = answer.json["data"]["taskId"]
    assert str(uuid.UUID(task_id)) == task_id  # a canonical, lower-case UUID


def test_task_ids_are_unique(aiv):
    ids = {aiv.submit_ok(aiv_input()) for _ in range(5)}

    assert len(ids) == 5


# --- the task object ---------------------------------------------------------------------------


def observed(aiv, task_id, timeout=10.0):
    """Poll quickly until final; return the distinct statuses in order, every object seen."""
    statuses, seen, deadline = [], [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = aiv.task(task_id).json
        seen.append(data)
        if not statuses or statuses[-1] != data["status"]:
            statuses.append(data["status"])
        if data["status"] in ("completed", "failed"):
            return statuses, seen
        time.sleep(0.02)
    raise AssertionError(f"not final: {statuses}")


RUNNING_KEYS = {"id", "status", "model", "created_at", "completed_at", "progress"}


def test_task_goes_pending_processing_completed_with_the_documented_fields(make_aiv):
    aiv = make_aiv(time_scale=0.04)  # 4 s clip: pending 0.3 s, final at 2 s
    before = int(time.time())

    task_id = aiv.submit_ok(aiv_input(duration=4, seed=41485))
    statuses, seen = observed(aiv, task_id)

    assert statuses == ["pending", "processing", "completed"]
    for data in seen[:-1]:
        assert set(data) == RUNNING_KEYS
        assert data["completed_at"] is None
        assert data["id"] == task_id
        assert data["model"] == AIV_MODEL
        assert data["created_at"] >= before
        if data["status"] == "pending":
            assert data["progress"] == 0
        else:
            assert 1 <= data["progress"] <= 99
    progress = [data["progress"] for data in seen]
    assert progress == sorted(progress)  # never goes back
    final = seen[-1]
    assert set(final) == RUNNING_KEYS | {"output"}
    assert final["progress"] == 100
    assert isinstance(final["created_at"], int) and isinstance(final["completed_at"], int)
    assert final["created_at"] <= final["completed_at"] <= int(time.time())
    assert final["output"] == {
        "urls": [f"{aiv.base_url}/aivideoapi/files/{task_id}.mp4"],
        "metadata": {
            "seed": 41485,
            "ratio": "16:9",
            "duration": 4,
            "resolution": "480p",
            "generate_audio": False,
            "framespersecond": 24,
        },
    }


def test_failed_task_carries_error_code_and_message(aiv):
    task_id = aiv.submit_ok(aiv_input(prompt="please fail [sim:fail=upstream_error]"))

    statuses, seen = observed(aiv, task_id)

    assert statuses[-1] == "failed"
    final = seen[-1]
    assert set(final) == RUNNING_KEYS | {"error"}
    assert final["error"] == {
        "code": "upstream_error",
        "message": "The request failed because the input text may contain sensitive information.",
    }
    assert isinstance(final["completed_at"], int)
    assert 0 <= final["progress"] < 100


def test_metadata_reports_the_defaults_and_a_random_seed(aiv):
    absent = aiv.submit_ok({"prompt": "defaults only"})
    minus_one = aiv.submit_ok({"prompt": "random seed", "seed": -1})
    zero = aiv.submit_ok({"prompt": "seed zero", "seed": 0})
    top = aiv.submit_ok({"prompt": "largest seed", "seed": 4294967295})

    metadata = {
        name: aiv.wait_final(task_id)["output"]["metadata"]
        for name, task_id in [("absent", absent), ("-1", minus_one), ("0", zero), ("top", top)]
    }

    assert {key: metadata["absent"][key] for key in metadata["absent"] if key != "seed"} == {
        "ratio": "16:9",
        "duration": 5,
        "resolution": "720p",
        "generate_audio": True,
        "framespersecond": 24,
    }
    for name in ("absent", "-1"):
        assert isinstance(metadata[name]["seed"], int)
        assert 0 <= metadata[name]["seed"] <= 4294967295
    assert metadata["0"]["seed"] == 0
    assert metadata["top"]["seed"] == 4294967295


def test_seed_knob_makes_random_seeds_reproducible(make_aiv):
    first = make_aiv(seed=3)
    second = make_aiv(seed=3)

    seeds = [
        client.wait_final(client.submit_ok({"prompt": "same seed"}))["output"]["metadata"]["seed"]
        for client in (first, second)
    ]

    assert seeds[0] == seeds[1]


def test_ratio_alias_is_reported_as_ratio(aiv):
    task_id = aiv.submit_ok({"prompt": "portrait", "ratio": "9:16", "duration": 4})

    assert aiv.wait_final(task_id)["output"]["metadata"]["ratio"] == "9:16"


def test_public_base_url_sets_the_result_host(make_aiv):
    aiv = make_aiv(public_base_url="https://files.example.test/")

    data = aiv.wait_final(aiv.submit_ok(aiv_input()))

    assert data["output"]["urls"][0].startswith("https://files.example.test/aivideoapi/files/")


# --- credits -----------------------------------------------------------------------------------


def test_credits_answer_is_the_documented_envelope(aiv):
    answer = aiv.call("GET", "/v1/credits")

    assert answer.status == 200
    assert answer.json == {
        "code": 200,
        "msg": "success",
        "data": {"balance": 20000, "total_purchased": 20000, "total_consumed": 0},
    }


@pytest.mark.parametrize(
    ("resolution", "audio", "duration", "price"),
    [
        ("720p", True, 5, 70),  # docs/providers/aivideoapi.md "Pricing" examples
        ("1080p", False, 8, 120),
        ("480p", True, 12, 84),
        ("480p", False, 4, 12),
        ("720p", False, 10, 70),
        ("1080p", True, 6, 180),
    ],
)
def test_price_is_deducted_at_submit(make_aiv, resolution, audio, duration, price):
    aiv = make_aiv(balance_credits=1000)

    aiv.submit_ok(
        aiv_input(
            prompt="priced [sim:slow]",
            resolution=resolution,
            generate_audio=audio,
            duration=duration,
        )
    )

    assert aiv.credits() == {
        "balance": 1000 - price,
        "total_purchased": 1000,
        "total_consumed": price,
    }


def test_failed_task_is_refunded(make_aiv):
    aiv = make_aiv(balance_credits=1000)
    done = aiv.submit_ok(aiv_input(resolution="720p", generate_audio=True, duration=5))  # 70
    failed = aiv.submit_ok(aiv_input(prompt="doomed [sim:fail]", resolution="1080p", duration=8))
    assert aiv.credits()["balance"] == 1000 - 70 - 120  # both held at submit

    assert aiv.wait_final(done)["status"] == "completed"
    assert aiv.wait_final(failed)["status"] == "failed"

    assert aiv.credits() == {"balance": 930, "total_purchased": 1000, "total_consumed": 70}


def test_short_balance_is_402_insufficient_credits(make_aiv):
    aiv = make_aiv(balance_credits=69)

    answer = aiv.submit(aiv_input(resolution="720p", generate_audio=True, duration=5))  # 70

    assert_error(
        answer,
        402,
        "insufficient_credits",
        "billing_error",
        "Your credit balance is too low. Please top up.",
    )
    assert aiv.tasks() == []
    assert aiv.credits()["balance"] == 69
    assert aiv.submit(aiv_input(resolution="720p", generate_audio=False, duration=9)).status == 200


def test_spend_limit_is_429_spend_limit_exceeded(make_aiv):
    aiv = make_aiv(spend_limit_credits=30)
    first = aiv.submit_ok(aiv_input(prompt="first [sim:fail]", duration=4))  # 12, refunded
    aiv.submit_ok(aiv_input(prompt="second [sim:slow]", duration=5))  # 15: 27 of 30

    refused = aiv.submit(aiv_input(duration=4))  # 12 more would be 39

    assert_error(refused, 429, "spend_limit_exceeded", "billing_error", "Key spend limit reached.")
    assert len(aiv.tasks()) == 2
    aiv.wait_final(first)  # the failed task's 12 credits come back, and the allowance too
    assert aiv.submit(aiv_input(duration=4)).status == 200


def test_spend_limit_knob_can_be_set_at_run_time(aiv):
    assert aiv.configure(spend_limit_credits=0).status == 200

    assert aiv.submit(aiv_input()).json["error"]["code"] == "spend_limit_exceeded"

    aiv.configure(spend_limit_credits=None)
    assert aiv.submit(aiv_input()).status == 200


def test_balance_knob_sets_the_live_balance(aiv):
    aiv.submit_ok(aiv_input(prompt="slow [sim:slow]", duration=4))  # 12

    aiv.configure(balance_credits=500)

    assert aiv.credits() == {"balance": 500, "total_purchased": 512, "total_consumed": 12}
