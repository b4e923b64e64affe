"""The aivideoapi.ai client against the documented contract (docs/providers/aivideoapi.md)."""

import inspect
import itertools
import json
from dataclasses import replace
from decimal import Decimal

import pytest
import requests
import responses
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from generations.providers.aivideoapi import MODEL, USD_PER_PROVIDER_CREDIT, AivideoapiClient
from generations.providers.apixo import ApixoClient
from generations.providers.base import GenerationRequest, ProviderClient, TaskStatus
from generations.providers.errors import (
    ProviderAuthError,
    ProviderBalanceError,
    ProviderConnectionError,
    ProviderError,
    ProviderNotFound,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderResponseError,
    ProviderServerError,
    ProviderSpendLimited,
    ProviderTaskNotFound,
)
from generations.providers.fields import GENERIC_FAIL_MESSAGE

BASE = "https://api.aivideoapi.test/v1"
KEY = "sk-test-key"
SUBMIT = f"{BASE}/videos/generations"
CREDITS = f"{BASE}/credits"
TASK_ID = "7d89c51e-9430-410e-909e-df347131ebaa"
TASK = f"{BASE}/tasks/{TASK_ID}"
FIRST, LAST = "https://example.com/first-frame.jpg", "https://example.com/last-frame.jpg"
CALLBACK = "https://your-server.com/webhook"
RESULT = "https://file.aivideoapi.ai/videos/2026/07/04/abc.mp4"


def client(**kwargs):
    return AivideoapiClient(BASE, KEY, connect_timeout=4.0, read_timeout=9.0, **kwargs)


def t2v(**changes):
    request = GenerationRequest(
        mode="text-to-video",
        prompt="A girl walking through a neon city at night, cinematic camera movement",
        resolution="720p",
        duration=5,
        sound=True,
        aspect_ratio="16:9",
    )
    return replace(request, **changes)


def i2v(**changes):
    return t2v(**{"mode": "image-to-video", "image_urls": (FIRST,), **changes})


def envelope(data, code=200, msg="success"):
    return {"code": code, "msg": msg, "data": data}


def error_body(code, message="Nope", type_="invalid_request_error"):
    return {"error": {"code": code, "message": message, "type": type_}}


# --- Request bodies ------------------------------------------------------------------------

# The docs/providers/aivideoapi.md "Examples" examples, plus "camera_fixed": False: the client
# always sends it (and generate_audio), so that the provider's defaults never decide for the member.
DOCUMENTED_BODIES = [
    pytest.param(
        t2v(),
        CALLBACK,
        {
            "model": "doubao-seedance-1.5-pro",
            "callback_url": "https://your-server.com/webhook",
            "input": {
                "prompt": "A girl walking through a neon city at night, cinematic camera movement",
                "duration": 5,
                "aspect_ratio": "16:9",
                "resolution": "720p",
                "generate_audio": True,
                "camera_fixed": False,
            },
        },
        id="doubao-seedance-1.5-pro Examples / Text-to-Video",
    ),
    pytest.param(
        i2v(
            prompt="The camera slowly pushes in. The character smiles and turns toward the light.",
            duration=8,
            aspect_ratio="9:16",
        ),
        None,
        {
            "model": "doubao-seedance-1.5-pro",
            "input": {
                "prompt": "The camera slowly pushes in. The character smiles and turns toward "
                "the light.",
                "image_urls": ["https://example.com/first-frame.jpg"],
                "duration": 8,
                "aspect_ratio": "9:16",
                "resolution": "720p",
                "generate_audio": True,
                "camera_fixed": False,
            },
        },
        id="doubao-seedance-1.5-pro Examples / First-Frame Image-to-Video",
    ),
    pytest.param(
        i2v(
            prompt="Animate the transition from the first frame to the final frame with a "
            "smooth cinematic move.",
            image_urls=(FIRST, LAST),
            duration=8,
            aspect_ratio="9:16",
            resolution="1080p",
            sound=False,
        ),
        None,
        {
            "model": "doubao-seedance-1.5-pro",
            "input": {
                "prompt": "Animate the transition from the first frame to the final frame with "
                "a smooth cinematic move.",
                # The example uses the object form; the string-array form is the first one
                # of docs/providers/aivideoapi.md "Image URLs Format", and the one the client sends.
                "image_urls": [
                    "https://example.com/first-frame.jpg",
                    "https://example.com/last-frame.jpg",
                ],
                "duration": 8,
                "aspect_ratio": "9:16",
                "resolution": "1080p",
                "generate_audio": False,
                "camera_fixed": False,
            },
        },
        id="doubao-seedance-1.5-pro Examples / First-and-Last-Frame Image-to-Video",
    ),
    pytest.param(
        t2v(
            prompt="  a quiet harbour at dawn  \n",
            resolution="480p",
            duration=12,
            sound=False,
            aspect_ratio=None,
            camera_fixed=True,
            seed=41485,
            watermark=False,
        ),
        CALLBACK,
        {
            "model": "doubao-seedance-1.5-pro",
            "callback_url": "https://your-server.com/webhook",
            "input": {
                "prompt": "a quiet harbour at dawn",
                "duration": 12,
                "resolution": "480p",
                "generate_audio": False,
                "watermark": False,
                "camera_fixed": True,
                "seed": 41485,
            },
        },
        id="doubao-seedance-1.5-pro Input Object / every optional field, no aspect ratio",
    ),
    pytest.param(
        i2v(duration=4, aspect_ratio="21:9", seed=-1, watermark=True),
        None,
        {
            "model": "doubao-seedance-1.5-pro",
            "input": {
                "prompt": "A girl walking through a neon city at night, cinematic camera movement",
                "image_urls": ["https://example.com/first-frame.jpg"],
                "duration": 4,
                "aspect_ratio": "21:9",
                "resolution": "720p",
                "generate_audio": True,
                "watermark": True,
                "camera_fixed": False,
                "seed": -1,
            },
        },
        id="doubao-seedance-1.5-pro Parameters / Seed -1",
    ),
    pytest.param(
        t2v(seed=4_294_967_295, aspect_ratio="1:1"),
        None,
        {
            "model": "doubao-seedance-1.5-pro",
            "input": {
                "prompt": "A girl walking through a neon city at night, cinematic camera movement",
                "duration": 5,
                "aspect_ratio": "1:1",
                "resolution": "720p",
                "generate_audio": True,
                "camera_fixed": False,
                "seed": 4294967295,
            },
        },
        id="doubao-seedance-1.5-pro Parameters / Seed 4294967295",
    ),
]


@pytest.mark.parametrize(("request_", "callback_url", "expected"), DOCUMENTED_BODIES)
def test_request_bodies_equal_the_documented_shapes(request_, callback_url, expected):
    body = client().build_request(request_, callback_url=callback_url)
    assert body == expected
    # Same JSON types too: duration an int, switches booleans (== alone lets 8.0 == 8 pass).
    assert json.dumps(body, sort_keys=True) == json.dumps(expected, sort_keys=True)


IMAGE_SETS = {"text-to-video": [()], "image-to-video": [(FIRST,), (FIRST, LAST)]}
# Every mode and image count with every optional field value; resolution, duration, sound
# and camera_fixed cycle through their values along the list.
COMBINATIONS = list(
    enumerate(
        (mode, images, aspect_ratio, seed, watermark, callback)
        for mode, image_sets in IMAGE_SETS.items()
        for images in image_sets
        for aspect_ratio, seed, watermark, callback in itertools.product(
            [None, "16:9", "4:3", "1:1", "3:4", "9:16", "21:9"],
            [None, -1, 0, 4_294_967_295],
            [None, True, False],
            [None, CALLBACK],
        )
    )
)


@pytest.mark.parametrize(("index", "combination"), COMBINATIONS)
def test_every_field_combination_gives_the_documented_body(index, combination):
    mode, images, aspect_ratio, seed, watermark, callback = combination
    resolution = ("480p", "720p", "1080p")[index % 3]
    sound, camera_fixed = bool(index % 2), bool(index // 2 % 2)
    duration = 4 + index % 9
    request = GenerationRequest(
        mode=mode,
        prompt=" a calm seaside sunrise ",
        resolution=resolution,
        duration=duration,
        sound=sound,
        aspect_ratio=aspect_ratio,
        camera_fixed=camera_fixed,
        image_urls=images,
        seed=seed,
        watermark=watermark,
    )
    expected_input = {"prompt": "a calm seaside sunrise"}
    if images:
        expected_input["image_urls"] = list(images)
    expected_input["duration"] = duration
    if aspect_ratio is not None:
        expected_input["aspect_ratio"] = aspect_ratio
    expected_input |= {"resolution": resolution, "generate_audio": sound}
    if watermark is not None:
        expected_input["watermark"] = watermark
    expected_input["camera_fixed"] = camera_fixed
    if seed is not None:
        expected_input["seed"] = seed
    expected = {"model": MODEL, "input": expected_input}
    if callback:
        expected["callback_url"] = callback
    body = client().build_request(request, callback_url=callback)
    assert json.dumps(body, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(t2v(mode="video-extend", video_urls=("https://e.com/v.mp4",)), id="extend"),
        pytest.param(t2v(video_urls=("https://example.com/v.mp4",)), id="video on t2v"),
        pytest.param(i2v(video_urls=("https://example.com/v.mp4",)), id="video on i2v"),
        pytest.param(t2v(mode="text-to-image"), id="unknown mode"),
        pytest.param(i2v(image_urls=()), id="0 images on i2v"),
        pytest.param(i2v(image_urls=(FIRST, LAST, FIRST)), id="3 images on i2v"),
        pytest.param(t2v(image_urls=(FIRST,)), id="image on t2v"),
        pytest.param(i2v(image_urls=("ftp://example.com/a.jpg",)), id="ftp image"),
        pytest.param(i2v(image_urls=("/a.jpg",)), id="relative image"),
        pytest.param(i2v(image_urls=({"url": FIRST},)), id="image as an object"),
        pytest.param(t2v(resolution="360p"), id="360p"),
        pytest.param(t2v(resolution="1080P"), id="1080P"),
        pytest.param(t2v(duration=3), id="duration 3"),
        pytest.param(t2v(duration=13), id="duration 13"),
        pytest.param(t2v(duration=5.0), id="duration float"),
        pytest.param(t2v(duration="5"), id="duration string"),
        pytest.param(t2v(duration=True), id="duration bool"),
        pytest.param(t2v(aspect_ratio="2:1"), id="aspect ratio 2:1"),
        pytest.param(t2v(aspect_ratio=""), id="aspect ratio empty"),
        pytest.param(t2v(prompt="  ab  "), id="prompt too short after trimming"),
        pytest.param(t2v(prompt="x" * 2501), id="prompt too long"),
        pytest.param(t2v(prompt=None), id="prompt None"),
        pytest.param(t2v(sound=1), id="sound int"),
        pytest.param(t2v(camera_fixed="no"), id="camera_fixed string"),
        pytest.param(t2v(watermark=0), id="watermark int"),
        pytest.param(t2v(seed=-2), id="seed -2"),
        pytest.param(t2v(seed=4_294_967_296), id="seed 2**32"),
        pytest.param(t2v(seed=1.0), id="seed float"),
        pytest.param(t2v(seed=True), id="seed bool"),
    ],
)
def test_invalid_requests_are_programming_errors(request_):
    with pytest.raises(ValueError):
        client().build_request(request_)


def test_prompt_limits_are_inclusive_after_trimming():
    assert client().build_request(t2v(prompt=" abc "))["input"]["prompt"] == "abc"
    assert client().build_request(t2v(prompt="x" * 2500))["input"]["prompt"] == "x" * 2500


@pytest.mark.parametrize("url", ["http://portal.test/hook", "ftp://portal.test/hook", "/hook", ""])
def test_callback_url_must_be_https(url):
    with pytest.raises(ValueError):
        client().build_request(t2v(), callback_url=url)


def test_http_callbacks_only_for_a_loopback_simulator():
    simulator = AivideoapiClient(
        "http://127.0.0.1:8765/aivideoapi/v1", KEY, allow_http_callbacks=True
    )
    body = simulator.build_request(t2v(), callback_url="http://127.0.0.1:8000/hook")
    assert body["callback_url"] == "http://127.0.0.1:8000/hook"
    with pytest.raises(ValueError):
        AivideoapiClient(BASE, KEY, allow_http_callbacks=True)


def test_model_for_each_mode():
    aivideoapi = client()
    assert aivideoapi.model_for("text-to-video") == "doubao-seedance-1.5-pro"
    assert aivideoapi.model_for("image-to-video") == "doubao-seedance-1.5-pro"
    with pytest.raises(ValueError, match="video_urls"):
        aivideoapi.model_for("video-extend")
    with pytest.raises(ValueError):
        aivideoapi.model_for("video-upscale")


# --- Submit --------------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("request_", [t2v(), i2v(), i2v(image_urls=(FIRST, LAST))])
def test_submit_posts_the_body_with_auth_and_timeouts(request_):
    responses.post(SUBMIT, json=envelope({"taskId": "cbf6b69d-4f03-4817-8ed7-94c0292184a8"}))
    aivideoapi = client()
    assert aivideoapi.submit(request_, callback_url=CALLBACK) == (
        "cbf6b69d-4f03-4817-8ed7-94c0292184a8"
    )
    assert len(responses.calls) == 1
    sent = responses.calls[0].request
    assert sent.method == "POST"
    assert sent.url == "https://api.aivideoapi.test/v1/videos/generations"
    assert sent.headers["Authorization"] == "Bearer sk-test-key"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Accept"] == "application/json"
    assert json.loads(sent.body) == aivideoapi.build_request(request_, callback_url=CALLBACK)
    assert sent.req_kwargs["timeout"] == (4.0, 9.0)


def test_submit_validates_before_sending():
    with responses.RequestsMock() as mock:  # fails if any request were sent
        with pytest.raises(ValueError):
            client().submit(t2v(resolution="360p"))
        assert len(mock.calls) == 0


# docs/providers/aivideoapi.md "Error Reference", one row each: status, code, type, then what the
# portal does with it.
ERROR_TABLE = [
    (400, "invalid_request", "invalid_request_error", ProviderRequestRejected, False, False),
    (401, "invalid_api_key", "authentication_error", ProviderAuthError, False, True),
    (402, "insufficient_credits", "billing_error", ProviderBalanceError, False, True),
    (403, "ip_not_allowed", "permission_error", ProviderAuthError, False, True),
    (404, "model_not_found", "invalid_request_error", ProviderNotFound, False, False),
    (404, "task_not_found", "invalid_request_error", ProviderTaskNotFound, False, False),
    (429, "rate_limit_exceeded", "rate_limit_error", ProviderRateLimited, True, False),
    (429, "spend_limit_exceeded", "billing_error", ProviderSpendLimited, False, True),
    (500, "internal_error", "api_error", ProviderServerError, True, False),
    (503, "upstream_error", "upstream_error", ProviderServerError, True, False),
]


@responses.activate
@pytest.mark.parametrize(
    ("status", "code", "type_", "cls", "retryable", "alert_admin"), ERROR_TABLE
)
def test_each_documented_error_maps_to_its_typed_error(
    status, code, type_, cls, retryable, alert_admin
):
    responses.post(SUBMIT, status=status, json=error_body(code, "Provider says no.", type_))
    with pytest.raises(ProviderError) as caught:
        client().submit(t2v())
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.code) == (status, code)
    assert (error.retryable, error.alert_admin) == (retryable, alert_admin)


def test_spend_limit_is_not_a_rate_limit():
    # A caller that retries rate limits must not retry a key's spend limit.
    assert not issubclass(ProviderSpendLimited, ProviderRateLimited)
    assert not issubclass(ProviderSpendLimited, ProviderBalanceError)


@responses.activate
def test_the_documented_400_quotes_the_provider_message():
    responses.post(SUBMIT, status=400, json=error_body("invalid_request", "'model' is required."))
    with pytest.raises(ProviderRequestRejected) as caught:
        client().submit(t2v())
    assert caught.value.message == (
        "The video service rejected the request. The service said: 'model' is required."
    )
    assert caught.value.detail == "'model' is required."


@responses.activate
def test_the_documented_402_body():
    responses.post(
        SUBMIT,
        status=402,
        json=error_body(
            "insufficient_credits",
            "Your credit balance is too low. Please top up.",
            "billing_error",
        ),
    )
    with pytest.raises(ProviderBalanceError) as caught:
        client().submit(t2v())
    assert caught.value.detail == "Your credit balance is too low. Please top up."


@responses.activate
def test_insufficient_credits_is_a_balance_error_under_any_status():
    responses.post(SUBMIT, status=400, json=error_body("insufficient_credits"))
    with pytest.raises(ProviderBalanceError) as caught:
        client().submit(t2v())
    assert (caught.value.status, caught.value.alert_admin) == (400, True)


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "cls", "retryable"),
    [
        (502, "<html>Bad Gateway</html>", ProviderServerError, True),
        (503, "", ProviderServerError, True),
        (500, json.dumps({"error": "boom"}), ProviderServerError, True),
        (429, "{}", ProviderRateLimited, True),
        (401, json.dumps({"code": 401, "msg": "no"}), ProviderAuthError, False),
        (404, json.dumps({"error": {"code": 7}}), ProviderNotFound, False),
        (418, "teapot", ProviderRequestRejected, False),
        (302, "", ProviderResponseError, False),
        (201, json.dumps(envelope({"taskId": "t"})), ProviderResponseError, False),
    ],
)
def test_answers_without_the_error_body_map_by_status(status, body, cls, retryable):
    responses.post(SUBMIT, status=status, body=body)
    with pytest.raises(ProviderError) as caught:
        client().submit(t2v())
    assert type(caught.value) is cls
    assert (caught.value.status, caught.value.retryable) == (status, retryable)


@responses.activate
@pytest.mark.parametrize(
    "body",
    [
        envelope({}),
        envelope({"taskId": ""}),
        envelope({"taskId": 123}),
        envelope({"taskId": None}),
        envelope({"taskId": " padded "}),
        envelope({"task_id": "t"}),
        envelope(None),
        envelope("cbf6b69d"),
        envelope({"taskId": "t"}, code=201),
        envelope({"taskId": "t"}, code=400),
        {"code": "200", "msg": "success", "data": {"taskId": "t"}},
        {"code": 200, "msg": "success"},
        {"msg": "success", "data": {"taskId": "t"}},
        error_body("invalid_request"),
        ["t"],
        None,
    ],
)
def test_submit_without_a_usable_task_id_is_a_response_error(body):
    responses.post(SUBMIT, json=body)
    with pytest.raises(ProviderResponseError) as caught:
        client().submit(t2v())
    assert (caught.value.status, caught.value.retryable) == (200, False)


@responses.activate
def test_submit_with_a_non_json_answer_is_a_response_error():
    responses.post(SUBMIT, body="OK")
    with pytest.raises(ProviderResponseError):
        client().submit(t2v())


@responses.activate
@pytest.mark.parametrize(
    ("raised", "cls", "retryable"),
    [
        (requests.exceptions.ConnectTimeout(), ProviderConnectionError, True),
        (requests.exceptions.ReadTimeout(), ProviderOutcomeUnknown, False),
        (requests.exceptions.ChunkedEncodingError(), ProviderOutcomeUnknown, False),
    ],
)
def test_submit_connect_errors_versus_lost_answers(raised, cls, retryable):
    responses.post(SUBMIT, body=raised)
    with pytest.raises(cls) as caught:
        client().submit(t2v())
    assert caught.value.retryable is retryable


# --- Status --------------------------------------------------------------------------------

# docs/providers/aivideoapi.md "Completed", verbatim.
COMPLETED = {
    "id": "7d89c51e-9430-410e-909e-df347131ebaa",
    "status": "completed",
    "model": "doubao-seedance-1.5-pro",
    "created_at": 1774790227,
    "completed_at": 1774796529,
    "output": {
        "urls": ["https://file.aivideoapi.ai/videos/2026/07/04/abc.mp4"],
        "metadata": {
            "seed": 41485,
            "ratio": "16:9",
            "duration": 5,
            "resolution": "720p",
            "generate_audio": True,
            "framespersecond": 24,
        },
    },
}
FAILED = {
    "id": TASK_ID,
    "status": "failed",
    "model": "doubao-seedance-1.5-pro",
    "created_at": 1774790227,
    "completed_at": 1774790240,
    "progress": 0,
    "error": {"code": "upstream_error", "message": "The input contains sensitive content."},
}


def task(**fields):
    return {"id": TASK_ID, **fields}


@responses.activate
def test_fetch_status_completed_as_documented():
    responses.get(TASK, json=COMPLETED)
    status = client().fetch_status(TASK_ID, model=MODEL)
    assert status == TaskStatus(
        task_id="7d89c51e-9430-410e-909e-df347131ebaa",
        state="success",
        raw_state="completed",
        result_urls=("https://file.aivideoapi.ai/videos/2026/07/04/abc.mp4",),
        create_time_ms=1774790227000,
        complete_time_ms=1774796529000,
        cost_time_ms=6302000,
    )
    assert status.is_final and status.succeeded
    sent = responses.calls[0].request
    assert sent.method == "GET"
    assert sent.url == "https://api.aivideoapi.test/v1/tasks/7d89c51e-9430-410e-909e-df347131ebaa"
    assert sent.headers["Authorization"] == "Bearer sk-test-key"
    assert sent.body is None
    assert sent.req_kwargs["timeout"] == (4.0, 9.0)


@responses.activate
def test_fetch_status_failed():
    responses.get(TASK, json=FAILED)
    assert client().fetch_status(TASK_ID, model=MODEL) == TaskStatus(
        task_id=TASK_ID,
        state="failed",
        raw_state="failed",
        fail_code="upstream_error",
        fail_message="The input contains sensitive content.",
        create_time_ms=1774790227000,
        complete_time_ms=1774790240000,
        cost_time_ms=13000,
    )


@responses.activate
@pytest.mark.parametrize(
    "error",
    [{}, None, {"code": None, "message": None}, {"message": "   "}, {"code": "x"}],
    ids=["empty", "null", "nulls", "blank message", "code only"],
)
def test_failed_without_a_message_gets_a_generic_one(error):
    body = task(status="failed") if error is None else task(status="failed", error=error)
    responses.get(TASK, json=body)
    status = client().fetch_status(TASK_ID, model=MODEL)
    assert status.state == "failed"
    assert status.fail_message == GENERIC_FAIL_MESSAGE
    assert status.fail_code == ((error or {}).get("code") or "")


@responses.activate
def test_a_long_failure_message_is_cut_to_1000_characters():
    responses.get(TASK, json=task(status="failed", error={"message": "x" * 5000}))
    assert client().fetch_status(TASK_ID, model=MODEL).fail_message == "x" * 1000


@responses.activate
@pytest.mark.parametrize(
    ("body", "state"),
    [
        (task(status="pending", created_at=1774790227, progress=0), "pending"),
        (task(status="processing", created_at=1774790227, progress=42), "processing"),
        (task(status="queued"), "unknown"),
        (task(status="cancelled"), "unknown"),
        (task(status=" Processing "), "processing"),
        ({**COMPLETED, "status": "COMPLETED"}, "success"),
    ],
)
def test_fetch_status_maps_states(body, state):
    responses.get(TASK, json=body)
    status = client().fetch_status(TASK_ID, model=MODEL)
    assert (status.state, status.raw_state) == (state, body["status"])
    assert status.is_final is (state in ("success", "failed"))
    assert status.result_urls == (() if state != "success" else (RESULT,))


@responses.activate
def test_running_task_times():
    responses.get(TASK, json=task(status="processing", created_at=1774790227, completed_at=None))
    status = client().fetch_status(TASK_ID, model=MODEL)
    assert (status.create_time_ms, status.complete_time_ms, status.cost_time_ms) == (
        1774790227000,
        None,
        None,
    )


@responses.activate
def test_completion_before_creation_gives_no_cost_time():
    responses.get(TASK, json={**COMPLETED, "created_at": 1774796530})
    status = client().fetch_status(TASK_ID, model=MODEL)
    assert (status.complete_time_ms, status.cost_time_ms) == (1774796529000, None)
    assert status.succeeded


@responses.activate
def test_several_result_urls_keep_their_order():
    urls = ["https://file.aivideoapi.ai/a.mp4", "http://file.aivideoapi.ai/b.mp4"]
    responses.get(TASK, json={**COMPLETED, "output": {"urls": urls}})
    assert client().fetch_status(TASK_ID, model=MODEL).result_urls == tuple(urls)


@responses.activate
def test_task_id_is_quoted_in_the_path():
    responses.get(f"{BASE}/tasks/a%2Fb%3Fc", json=task(id="a/b?c", status="pending"))
    assert client().fetch_status("a/b?c", model=MODEL).task_id == "a/b?c"
    assert responses.calls[0].request.url == f"{BASE}/tasks/a%2Fb%3Fc"


MALFORMED_TASKS = [
    pytest.param({**COMPLETED, "id": "other-task"}, id="other task"),
    pytest.param({k: v for k, v in COMPLETED.items() if k != "id"}, id="no id"),
    pytest.param({**COMPLETED, "id": 7}, id="id number"),
    pytest.param({**COMPLETED, "id": ""}, id="id empty"),
    pytest.param(task(), id="no status"),
    pytest.param(task(status=None), id="status null"),
    pytest.param(task(status=""), id="status empty"),
    pytest.param(task(status=3), id="status number"),
    pytest.param(task(status="pending", model=1), id="model number"),
    pytest.param(task(status="pending", created_at="1774790227"), id="created_at string"),
    pytest.param(task(status="pending", created_at=1774790227.5), id="created_at float"),
    pytest.param(task(status="pending", created_at=True), id="created_at bool"),
    pytest.param({**COMPLETED, "completed_at": "soon"}, id="completed_at string"),
    pytest.param({k: v for k, v in COMPLETED.items() if k != "output"}, id="no output"),
    pytest.param({**COMPLETED, "output": None}, id="output null"),
    pytest.param({**COMPLETED, "output": [RESULT]}, id="output list"),
    pytest.param({**COMPLETED, "output": {}}, id="no urls"),
    pytest.param({**COMPLETED, "output": {"urls": []}}, id="urls empty"),
    pytest.param({**COMPLETED, "output": {"urls": RESULT}}, id="urls string"),
    pytest.param({**COMPLETED, "output": {"urls": [{"url": RESULT}]}}, id="url object"),
    pytest.param({**COMPLETED, "output": {"urls": ["ftp://a.test/v.mp4"]}}, id="url ftp"),
    pytest.param({**COMPLETED, "output": {"urls": ["/v.mp4"]}}, id="url relative"),
    pytest.param({**COMPLETED, "output": {"urls": ["https://[::1/v"]}}, id="url broken"),
    pytest.param({**COMPLETED, "output": {"urls": [RESULT, None]}}, id="url null"),
    pytest.param(task(status="failed", error="boom"), id="error string"),
    pytest.param(task(status="failed", error={"code": 500}), id="error code number"),
    pytest.param(task(status="failed", error={"message": ["x"]}), id="error message list"),
    pytest.param([COMPLETED], id="list"),
    pytest.param(None, id="null"),
    pytest.param(envelope(COMPLETED), id="wrapped in an envelope"),
]


@responses.activate
@pytest.mark.parametrize("body", MALFORMED_TASKS)
def test_malformed_task_objects_are_response_errors(body):
    responses.get(TASK, json=body)
    with pytest.raises(ProviderResponseError):
        client().fetch_status(TASK_ID, model=MODEL)


@responses.activate
def test_status_of_an_unknown_task_is_not_found():
    responses.get(TASK, status=404, json=error_body("task_not_found", "Task ID does not exist"))
    with pytest.raises(ProviderTaskNotFound) as caught:
        client().fetch_status(TASK_ID, model=MODEL)
    assert (caught.value.code, caught.value.retryable) == ("task_not_found", False)


@responses.activate
@pytest.mark.parametrize(
    "answer",
    [
        {"json": error_body("model_not_found", "Model does not exist or is inactive")},
        {"body": "<html>404 Not Found</html>", "content_type": "text/html"},
        {"json": {"error": "task_not_found"}},
    ],
)
def test_only_the_documented_task_not_found_body_says_the_task_does_not_exist(answer):
    """docs/providers/aivideoapi.md "Error Reference": 404 ``task_not_found``; any other 404 proves
    nothing."""
    responses.get(TASK, status=404, **answer)
    with pytest.raises(ProviderNotFound) as caught:
        client().fetch_status(TASK_ID, model=MODEL)
    assert not isinstance(caught.value, ProviderTaskNotFound)


@responses.activate
def test_status_read_server_error_is_retryable():
    responses.get(TASK, status=503, json=error_body("upstream_error", type_="upstream_error"))
    with pytest.raises(ProviderServerError) as caught:
        client().fetch_status(TASK_ID, model=MODEL)
    assert caught.value.retryable is True


@pytest.mark.parametrize(
    ("task_id", "model"),
    [("", MODEL), (None, MODEL), (" t", MODEL), (TASK_ID, "seedance-1-5-pro"), (TASK_ID, None)],
)
def test_fetch_status_arguments_are_checked(task_id, model):
    with pytest.raises(ValueError):
        client().fetch_status(task_id, model=model)


# --- Callback ------------------------------------------------------------------------------


def callback_headers(event="task.completed", task_id=TASK_ID, timestamp="1774796530"):
    return {"X-Event": event, "X-Task-Id": task_id, "X-Timestamp": timestamp}


def test_parse_callback_completed_with_its_headers():
    status = client().parse_callback(json.dumps(COMPLETED).encode(), headers=callback_headers())
    assert status == TaskStatus(
        task_id=TASK_ID,
        state="success",
        raw_state="completed",
        result_urls=(RESULT,),
        create_time_ms=1774790227000,
        complete_time_ms=1774796529000,
        cost_time_ms=6302000,
    )


def test_parse_callback_failed_with_its_headers():
    status = client().parse_callback(
        json.dumps(FAILED).encode(), headers=callback_headers("task.failed")
    )
    assert (status.state, status.fail_code, status.fail_message) == (
        "failed",
        "upstream_error",
        "The input contains sensitive content.",
    )


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"x-event": "task.completed", "x-task-id": TASK_ID},
        {"X-EVENT": " Task.Completed ", "X-TASK-ID": f" {TASK_ID} "},
        {"X-Task-Id": TASK_ID},
        {"X-Event": "task.completed"},
        callback_headers(timestamp="not a time"),
        {"Content-Type": "application/json", "User-Agent": "aivideoapi"},
    ],
    ids=["none", "empty", "lower case", "upper case, padded", "id only", "event only",
         "timestamp not checked", "unrelated"],
)  # fmt: skip
def test_parse_callback_accepts_agreeing_or_absent_headers(headers):
    status = client().parse_callback(json.dumps(COMPLETED).encode(), headers=headers)
    assert (status.task_id, status.state) == (TASK_ID, "success")


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(COMPLETED, callback_headers(task_id="other-task"), id="other task id"),
        pytest.param(COMPLETED, callback_headers(task_id=""), id="empty task id"),
        pytest.param(COMPLETED, callback_headers("task.failed"), id="failed event, completed"),
        pytest.param(FAILED, callback_headers("task.completed"), id="completed event, failed"),
        pytest.param(COMPLETED, callback_headers("task.updated"), id="unknown event"),
        pytest.param(COMPLETED, callback_headers(""), id="empty event"),
        pytest.param(task(status="processing"), callback_headers(), id="event on a running task"),
        pytest.param(task(status="queued"), callback_headers(), id="event on an unknown status"),
        pytest.param(task(status="pending"), callback_headers("task.failed"), id="pending"),
    ],
)
def test_parse_callback_headers_that_contradict_the_body(body, headers):
    with pytest.raises(ProviderResponseError):
        client().parse_callback(json.dumps(body).encode(), headers=headers)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b"null",
        b"NaN",
        json.dumps(envelope(COMPLETED)).encode(),
        json.dumps({**COMPLETED, "output": {"urls": []}}).encode(),
        json.dumps(task()).encode(),
        b" " * 2_000_000,
    ],
)
def test_parse_callback_is_strict(body):
    with pytest.raises(ProviderResponseError):
        client().parse_callback(body)


def test_apixo_accepts_and_ignores_callback_headers():
    apixo = ApixoClient("https://api.apixo.test/api/v1", "test-key")
    body = json.dumps(
        {"code": 200, "message": "success", "data": {"taskId": "t1", "state": "processing"}}
    ).encode()
    assert apixo.parse_callback(body, headers=callback_headers("task.failed", "other")) == (
        apixo.parse_callback(body)
    )


# --- Credits and balance -------------------------------------------------------------------

DOCUMENTED_CREDITS = envelope({"balance": 9800, "total_purchased": 10000, "total_consumed": 200})


@responses.activate
def test_account_credits_as_documented():
    responses.get(CREDITS, json=DOCUMENTED_CREDITS)
    assert client().account_credits() == 9800
    sent = responses.calls[0].request
    assert (sent.method, sent.url) == ("GET", "https://api.aivideoapi.test/v1/credits")
    assert sent.headers["Authorization"] == "Bearer sk-test-key"
    assert sent.req_kwargs["timeout"] == (4.0, 9.0)


@responses.activate
@pytest.mark.parametrize(
    ("credits", "usd"),
    [(9800, "49"), (0, "0"), (1, "0.005"), (70, "0.35"), (123_457, "617.285"), (-3, "-0.015")],
)
def test_account_balance_is_credits_times_half_a_cent(credits, usd):
    responses.get(CREDITS, json=envelope({"balance": credits}))
    balance = client().account_balance()
    assert isinstance(balance, Decimal)
    assert balance == Decimal(usd)
    assert balance == credits * USD_PER_PROVIDER_CREDIT


def test_one_provider_credit_is_half_a_cent():
    assert Decimal("0.005") == USD_PER_PROVIDER_CREDIT


@responses.activate
@pytest.mark.parametrize(
    "body",
    [
        envelope({"balance": "9800"}),
        envelope({"balance": 9800.0}),
        envelope({"balance": True}),
        envelope({"balance": None}),
        envelope({"total_purchased": 10000}),
        envelope(9800),
        envelope(None),
        envelope({"balance": 9800}, code=402),
        {"code": "200", "data": {"balance": 9800}},
        {"balance": 9800},
        [9800],
    ],
)
def test_bad_credits_answers_are_response_errors(body):
    responses.get(CREDITS, json=body)
    with pytest.raises(ProviderResponseError):
        client().account_credits()
    with pytest.raises(ProviderResponseError):
        client().account_balance()


@responses.activate
def test_credits_with_a_bad_key():
    responses.get(
        CREDITS, status=401, json=error_body("invalid_api_key", type_="authentication_error")
    )
    with pytest.raises(ProviderAuthError) as caught:
        client().account_balance()
    assert caught.value.alert_admin is True


# --- Configuration and interface -----------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:8765/aivideoapi/v1", {"127.0.0.1:8765"}),
        ("http://localhost:9000/v1", {"localhost:9000"}),
        ("http://[::1]:8765/v1", {"[::1]:8765"}),
        ("https://127.0.0.1/v1", {"127.0.0.1:443"}),
        ("https://api.aivideoapi.ai/v1", set()),
        ("http://10.0.0.1:8765/v1", set()),
    ],
)
def test_download_allow_hosts_is_the_loopback_simulator_only(base_url, expected):
    assert AivideoapiClient(base_url, KEY).download_allow_hosts() == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "ftp://api.aivideoapi.ai"},
        {"base_url": "api.aivideoapi.ai/v1"},
        {"base_url": ""},
        {"api_key": ""},
        {"api_key": "sk key"},
        {"api_key": "sk-key\n"},
        {"connect_timeout": 0},
        {"read_timeout": -1},
        {"allow_http_callbacks": True},
    ],
)
def test_bad_configuration_is_refused(kwargs):
    arguments = {"base_url": BASE, "api_key": KEY, **kwargs}
    with pytest.raises(ValueError):
        AivideoapiClient(arguments.pop("base_url"), arguments.pop("api_key"), **arguments)


def test_configuration_is_kept():
    aivideoapi = AivideoapiClient(BASE + "/", KEY, connect_timeout=2, read_timeout=3)
    assert aivideoapi.name == "aivideoapi"
    assert aivideoapi.base_url == BASE
    assert (aivideoapi.connect_timeout, aivideoapi.read_timeout) == (2.0, 3.0)
    assert aivideoapi.allow_http_callbacks is False
    assert KEY not in repr(aivideoapi)


@pytest.mark.parametrize("cls", [ApixoClient, AivideoapiClient])
def test_clients_implement_the_protocol_signatures(cls):
    for name, member in inspect.getmembers(ProviderClient, inspect.isfunction):
        if name.startswith("_"):
            continue
        expected = inspect.signature(member)
        actual = inspect.signature(getattr(cls, name))
        assert list(actual.parameters) == list(expected.parameters), name
        for parameter in expected.parameters.values():
            assert actual.parameters[parameter.name].kind == parameter.kind, (name, parameter)


# --- Hypothesis: parsers raise only ProviderResponseError ----------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
TASK_KEYS = [
    "id", "status", "model", "created_at", "completed_at", "progress", "output", "error", "extra",
]  # fmt: skip
DOCUMENTED_TASKS = [
    task(status="pending", created_at=1774790227, progress=0),
    task(status="processing", created_at=1774790227, progress=50),
    task(status="queued"),
    COMPLETED,
    FAILED,
]


def mutate(data, replaced, removed):
    """Return ``data`` with some fields replaced by random JSON and some removed."""
    return {k: v for k, v in {**data, **replaced}.items() if k not in removed}


# Documented task objects, intact or damaged in up to two fields: reaches every branch.
task_objects = st.builds(
    mutate,
    st.sampled_from(DOCUMENTED_TASKS),
    st.just({}) | st.dictionaries(st.sampled_from(TASK_KEYS), json_values, max_size=2),
    st.just(set()) | st.sets(st.sampled_from(TASK_KEYS), max_size=2),
)
completed_with_random_output = st.builds(
    lambda output: {**COMPLETED, "output": output},
    st.fixed_dictionaries(
        {"urls": st.lists(st.text(max_size=30) | st.just(RESULT) | json_values, max_size=3)}
    )
    | json_values,
)
failed_with_random_error = st.builds(
    lambda error: {**FAILED, "error": error},
    st.fixed_dictionaries({}, optional={"code": json_values, "message": json_values}) | json_values,
)
documents = task_objects | task_objects | completed_with_random_output | failed_with_random_error
bodies = (
    documents.map(lambda d: json.dumps(d).encode())
    | documents.map(lambda d: json.dumps(d).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=200)
)
header_maps = st.none() | st.dictionaries(
    st.sampled_from(["X-Event", "x-task-id", "X-Timestamp", "X-Other"]),
    st.sampled_from(["task.completed", "task.failed", TASK_ID, ""]) | st.text(max_size=12),
    max_size=3,
)


def check_outcome(parse, *, task_id=None):
    """Run ``parse``; only a valid TaskStatus or a ProviderResponseError may come out."""
    try:
        status = parse()
    except ProviderResponseError as error:
        event(f"raised {type(error).__name__}")
        return
    event(f"parsed state {status.state}")
    assert status.state in {"pending", "processing", "success", "failed", "unknown"}
    if task_id is not None:
        assert status.task_id == task_id
    assert not status.succeeded or status.result_urls
    assert status.state != "failed" or status.fail_message
    assert status.cost_time_ms is None or status.cost_time_ms >= 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies)
def test_status_parser_raises_only_response_errors(body):
    with responses.RequestsMock() as mock:
        mock.get(TASK, body=body, status=200)
        check_outcome(lambda: client().fetch_status(TASK_ID, model=MODEL), task_id=TASK_ID)


@settings(max_examples=500, deadline=None)
@given(body=bodies, headers=header_maps)
def test_callback_parser_raises_only_response_errors(body, headers):
    check_outcome(lambda: client().parse_callback(body, headers=headers))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=json_values | st.builds(lambda e: {"error": e}, json_values),
    status=st.sampled_from([400, 401, 402, 403, 404, 429, 500, 502, 503]),
)
def test_error_answers_always_give_a_typed_error(body, status):
    with responses.RequestsMock() as mock:
        mock.post(SUBMIT, json=body, status=status)
        with pytest.raises(ProviderError) as caught:
            client().submit(t2v())
    assert caught.value.status == status
    assert not isinstance(caught.value, ProviderResponseError)
