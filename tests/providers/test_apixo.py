"""The APIXO client against the documented contract (docs/providers/apixo.md)."""

import json
from dataclasses import replace
from decimal import Decimal

import pytest
import requests
import responses
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from generations.providers.apixo import ApixoClient
from generations.providers.base import GenerationRequest, TaskStatus
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
    ProviderTaskNotFound,
)

BASE = "https://api.apixo.test/api/v1"
KEY = "test-key"
PRO, EXTEND = "seedance-1-5-pro", "seedance-1-5-pro-extend"
SUBMIT_PRO = f"{BASE}/generateTask/{PRO}"
SUBMIT_EXTEND = f"{BASE}/generateTask/{EXTEND}"
STATUS_PRO = f"{BASE}/statusTask/{PRO}"
START, END = "https://example.com/start-frame.jpg", "https://example.com/end-frame.jpg"
SOURCE = "https://example.com/source.mp4"
CALLBACK = "https://your-server.com/webhooks/apixo"

# Documented input fields: docs/providers/apixo.md "Request body" and "Parameters".
PRO_FIELDS = {"mode", "prompt", "resolution", "duration", "sound", "aspect_ratio", "fixed_lens"}
I2V_FIELDS = PRO_FIELDS | {"image_urls"}
EXTEND_FIELDS = {
    "mode", "prompt", "video_urls", "resolution", "duration", "sound", "camera_fixed", "seed",
    "watermark",
}  # fmt: skip
TOP_FIELDS = {"request_type", "callback_url", "provider", "input"}


def client(routing="auto", **kwargs):
    return ApixoClient(BASE, KEY, routing=routing, connect_timeout=4.0, read_timeout=9.0, **kwargs)


def t2v(**changes):
    request = GenerationRequest(
        mode="text-to-video",
        prompt="a calm seaside sunrise with gentle camera dolly movement",
        resolution="720p",
        duration=8,
        sound=False,
        aspect_ratio="16:9",
    )
    return replace(request, **changes)


def i2v(**changes):
    return t2v(**{"mode": "image-to-video", "image_urls": (START, END), **changes})


def extend(**changes):
    request = GenerationRequest(
        mode="video-extend",
        prompt="continue the same shot with a gentle smile and then a smooth ride-away",
        resolution="720p",
        duration=8,
        sound=True,
        camera_fixed=True,
        video_urls=(SOURCE,),
    )
    return replace(request, **changes)


def envelope(data, code=200, message="success"):
    return {"code": code, "message": message, "data": data}


# --- Request bodies ------------------------------------------------------------------------

DOCUMENTED_BODIES = [
    pytest.param(
        t2v(
            prompt="a clean product showcase on a neutral background, subtle lighting shifts, "
            "steady camera",
            camera_fixed=True,
        ),
        "auto",
        None,
        {
            "request_type": "async",
            "input": {
                "mode": "text-to-video",
                "prompt": "a clean product showcase on a neutral background, subtle lighting "
                "shifts, steady camera",
                "resolution": "720p",
                "duration": 8,
                "sound": False,
                "aspect_ratio": "16:9",
                "fixed_lens": True,
            },
        },
        id="seedance-1-5-pro Request body / Text-to-video",
    ),
    pytest.param(
        i2v(
            prompt="animate this landscape with moving clouds and soft wind",
            resolution="480p",
            duration=4,
            sound=True,
            aspect_ratio="1:1",
        ),
        "auto",
        None,
        {
            "request_type": "async",
            "input": {
                "mode": "image-to-video",
                "prompt": "animate this landscape with moving clouds and soft wind",
                "image_urls": [START, END],
                "resolution": "480p",
                "duration": 4,
                "sound": True,
                "aspect_ratio": "1:1",
                "fixed_lens": False,
            },
        },
        id="seedance-1-5-pro Request body / Image-to-video",
    ),
    pytest.param(
        i2v(
            prompt="turn the two frames into a smooth cinematic transition with ambient sound",
            sound=True,
        ),
        "auto",
        CALLBACK,
        {
            "request_type": "callback",
            "callback_url": CALLBACK,
            "input": {
                "mode": "image-to-video",
                "prompt": "turn the two frames into a smooth cinematic transition with ambient "
                "sound",
                "image_urls": [START, END],
                "resolution": "720p",
                "duration": 8,
                "sound": True,
                "aspect_ratio": "16:9",
                "fixed_lens": False,
            },
        },
        id="seedance-1-5-pro Webhook callback mode",
    ),
    pytest.param(
        t2v(sound=True),
        "value",
        None,
        {
            "request_type": "async",
            "provider": "value",
            "input": {
                "mode": "text-to-video",
                "prompt": "a calm seaside sunrise with gentle camera dolly movement",
                "resolution": "720p",
                "duration": 8,
                "sound": True,
                "aspect_ratio": "16:9",
                "fixed_lens": False,
            },
        },
        id="seedance-1-5-pro Example / Text-to-Video (provider value)",
    ),
    pytest.param(
        extend(
            prompt="keep the same framing, smile at the camera, then ride away naturally",
            resolution="480p",
            duration=4,
            sound=False,
        ),
        "auto",
        None,
        {
            "request_type": "async",
            "input": {
                "mode": "video-extend",
                "prompt": "keep the same framing, smile at the camera, then ride away naturally",
                "resolution": "480p",
                "duration": 4,
                "sound": False,
                "camera_fixed": True,
                "video_urls": [SOURCE],
            },
        },
        id="seedance-1-5-pro-extend Copy-paste async quickstart",
    ),
    pytest.param(
        extend(seed=123456, watermark=False),
        "auto",
        None,
        {
            "request_type": "async",
            "input": {
                "mode": "video-extend",
                "prompt": "continue the same shot with a gentle smile and then a smooth ride-away",
                "video_urls": [SOURCE],
                "resolution": "720p",
                "duration": 8,
                "sound": True,
                "camera_fixed": True,
                "seed": 123456,
                "watermark": False,
            },
        },
        id="seedance-1-5-pro-extend Request body",
    ),
    pytest.param(
        extend(
            prompt="continue the same scene with a smooth smile, then leave the frame naturally",
            seed=123456,
        ),
        "auto",
        CALLBACK,
        {
            "request_type": "callback",
            "callback_url": CALLBACK,
            "input": {
                "mode": "video-extend",
                "prompt": "continue the same scene with a smooth smile, then leave the frame "
                "naturally",
                "video_urls": [SOURCE],
                "resolution": "720p",
                "duration": 8,
                "sound": True,
                "camera_fixed": True,
                "seed": 123456,
            },
        },
        id="seedance-1-5-pro-extend Webhook callback mode",
    ),
]


@pytest.mark.parametrize(("request_", "routing", "callback_url", "expected"), DOCUMENTED_BODIES)
def test_request_bodies_equal_the_documented_examples(request_, routing, callback_url, expected):
    body = client(routing).build_request(request_, callback_url=callback_url)
    assert body == expected
    # Same JSON types too: duration an int, switches booleans (== alone lets 8.0 == 8 pass).
    assert json.dumps(body, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize("routing", ["value", "official"])
@pytest.mark.parametrize("request_", [t2v(), i2v(), extend()], ids=["t2v", "i2v", "extend"])
def test_routing_other_than_auto_is_sent_as_provider(routing, request_):
    assert client(routing).build_request(request_)["provider"] == routing


@pytest.mark.parametrize("request_", [t2v(), i2v(), extend()], ids=["t2v", "i2v", "extend"])
def test_auto_routing_leaves_provider_out(request_):
    assert "provider" not in client("auto").build_request(request_)


def test_prompt_is_sent_trimmed():
    body = client().build_request(t2v(prompt="  a calm sea  \n"))
    assert body["input"]["prompt"] == "a calm sea"


def test_missing_aspect_ratio_leaves_the_provider_default():
    assert "aspect_ratio" not in client().build_request(t2v(aspect_ratio=None))["input"]


def test_one_image_is_a_start_frame_only():
    body = client().build_request(i2v(image_urls=(START,)))
    assert body["input"]["image_urls"] == [START]


prompts = st.text(min_size=3, max_size=60).filter(lambda p: 3 <= len(p.strip()) <= 2500)
common = {
    "prompt": prompts,
    "duration": st.integers(4, 12),
    "sound": st.booleans(),
    "camera_fixed": st.booleans(),
}
pro_requests = st.builds(
    GenerationRequest,
    mode=st.sampled_from(["text-to-video", "image-to-video"]),
    resolution=st.sampled_from(["480p", "720p"]),
    aspect_ratio=st.none() | st.sampled_from(["1:1", "3:4", "4:3", "9:16", "16:9", "21:9"]),
    **common,
).map(
    lambda r: (
        replace(r, image_urls=(START, END)[: 1 + len(r.prompt) % 2])
        if r.mode == "image-to-video"
        else r
    )
)
extend_requests = st.builds(
    GenerationRequest,
    mode=st.just("video-extend"),
    resolution=st.sampled_from(["480p", "720p", "1080p"]),
    video_urls=st.just((SOURCE,)),
    seed=st.none() | st.integers(0, 2_147_483_647),
    watermark=st.none() | st.booleans(),
    **common,
)


@given(
    request_=pro_requests | extend_requests,
    routing=st.sampled_from(["auto", "value", "official"]),
    callback=st.none() | st.just(CALLBACK),
)
def test_every_valid_combination_sends_only_documented_fields(request_, routing, callback):
    body = client(routing).build_request(request_, callback_url=callback)
    fields = body["input"]
    assert set(body) <= TOP_FIELDS
    assert body["request_type"] == ("callback" if callback else "async")
    assert ("callback_url" in body) == bool(callback)
    if request_.mode == "video-extend":
        assert set(fields) <= EXTEND_FIELDS
        assert type(fields["camera_fixed"]) is bool
        assert fields["video_urls"] == [SOURCE]
        assert ("seed" in fields) == (request_.seed is not None)
        assert ("watermark" in fields) == (request_.watermark is not None)
    else:
        assert set(fields) <= (I2V_FIELDS if request_.mode == "image-to-video" else PRO_FIELDS)
        assert type(fields["fixed_lens"]) is bool
        assert fields["fixed_lens"] is request_.camera_fixed
    assert type(fields["duration"]) is int
    assert type(fields["sound"]) is bool
    assert fields["mode"] == request_.mode
    assert fields["resolution"] == request_.resolution
    json.dumps(body, allow_nan=False)  # serialisable as sent


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(t2v(resolution="1080p"), id="1080p on seedance-1-5-pro"),
        pytest.param(t2v(resolution="360p"), id="unknown resolution"),
        pytest.param(i2v(image_urls=()), id="0 images"),
        pytest.param(i2v(image_urls=(START, END, START)), id="3 images"),
        pytest.param(t2v(image_urls=(START,)), id="images on text-to-video"),
        pytest.param(i2v(image_urls=("ftp://example.com/a.jpg",)), id="ftp image"),
        pytest.param(extend(video_urls=(SOURCE, SOURCE)), id="2 videos"),
        pytest.param(extend(video_urls=()), id="0 videos"),
        pytest.param(extend(aspect_ratio="16:9"), id="aspect ratio on extend"),
        pytest.param(extend(image_urls=(START,)), id="images on extend"),
        pytest.param(t2v(video_urls=(SOURCE,)), id="video on text-to-video"),
        pytest.param(t2v(seed=1), id="seed on text-to-video"),
        pytest.param(i2v(watermark=False), id="watermark on image-to-video"),
        pytest.param(t2v(aspect_ratio="2:1"), id="unknown aspect ratio"),
        pytest.param(t2v(duration=3), id="duration 3"),
        pytest.param(t2v(duration=13), id="duration 13"),
        pytest.param(t2v(duration="8"), id="duration string"),
        pytest.param(t2v(duration=8.0), id="duration float"),
        pytest.param(t2v(duration=True), id="duration bool"),
        pytest.param(t2v(sound="yes"), id="sound string"),
        pytest.param(t2v(camera_fixed=1), id="camera_fixed int"),
        pytest.param(t2v(prompt="  ab  "), id="prompt too short after trimming"),
        pytest.param(t2v(prompt="x" * 2501), id="prompt too long"),
        pytest.param(extend(seed=-1), id="seed negative"),
        pytest.param(extend(seed=2**31), id="seed too large"),
        pytest.param(extend(watermark="no"), id="watermark string"),
        pytest.param(t2v(mode="text-to-image"), id="unknown mode"),
    ],
)
def test_invalid_requests_are_programming_errors(request_):
    with pytest.raises(ValueError):
        client().build_request(request_)


@pytest.mark.parametrize("url", ["http://portal.test/hook", "ftp://portal.test/hook", "/hook"])
def test_callback_url_must_be_https(url):
    with pytest.raises(ValueError):
        client().build_request(t2v(), callback_url=url)


def test_model_for_each_mode():
    apixo = client()
    assert apixo.model_for("text-to-video") == PRO
    assert apixo.model_for("image-to-video") == PRO
    assert apixo.model_for("video-extend") == EXTEND
    with pytest.raises(ValueError):
        apixo.model_for("video-upscale")


# --- Submit --------------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(
    ("request_", "url"), [(t2v(), SUBMIT_PRO), (i2v(), SUBMIT_PRO), (extend(), SUBMIT_EXTEND)]
)
def test_submit_posts_the_body_with_auth_and_timeouts(request_, url):
    responses.post(url, json=envelope({"taskId": "task_12345678"}))
    apixo = client()
    assert apixo.submit(request_) == "task_12345678"
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == apixo.build_request(request_)
    assert sent.req_kwargs["timeout"] == (4.0, 9.0)


@responses.activate
@pytest.mark.parametrize(
    ("status", "cls", "retryable", "alert_admin"),
    [
        (400, ProviderRequestRejected, False, False),
        (401, ProviderAuthError, False, True),
        (402, ProviderBalanceError, False, True),
        (403, ProviderAuthError, False, True),
        (404, ProviderNotFound, False, False),
        (429, ProviderRateLimited, True, False),
        (500, ProviderServerError, True, False),
        (502, ProviderServerError, True, False),
        (503, ProviderServerError, True, False),
        (504, ProviderServerError, True, False),
    ],
)
def test_each_documented_http_status_maps_to_its_typed_error(status, cls, retryable, alert_admin):
    responses.post(SUBMIT_PRO, status=status, json=envelope(None, code=status, message="Nope"))
    with pytest.raises(cls) as caught:
        client().submit(t2v())
    error = caught.value
    assert (error.status, error.retryable, error.alert_admin) == (status, retryable, alert_admin)
    assert error.code == str(status)


@responses.activate
@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (400, ProviderRequestRejected),
        (401, ProviderAuthError),
        (402, ProviderBalanceError),
        (429, ProviderRateLimited),
        (500, ProviderServerError),
        (0, ProviderResponseError),
    ],
)
def test_http_200_with_an_error_body_code_is_that_error(code, cls):
    responses.post(SUBMIT_PRO, status=200, json=envelope(None, code=code, message="Nope"))
    with pytest.raises(cls) as caught:
        client().submit(t2v())
    assert caught.value.status == 200


@responses.activate
def test_a_400_quotes_the_validation_detail():
    responses.post(
        SUBMIT_PRO,
        status=400,
        json=envelope(
            {"error": "Missing required field: input.prompt"}, code=400, message="Invalid request"
        ),
    )
    with pytest.raises(ProviderRequestRejected) as caught:
        client().submit(t2v())
    assert "Invalid request: Missing required field: input.prompt" in caught.value.message


@responses.activate
def test_a_400_insufficient_credits_is_a_balance_error():
    # docs/providers/apixo.md "HTTP errors" documents this shape.
    responses.post(
        SUBMIT_PRO, status=400, json=envelope(None, code=400, message="Insufficient credits")
    )
    with pytest.raises(ProviderBalanceError) as caught:
        client().submit(t2v())
    assert caught.value.alert_admin is True


@responses.activate
def test_the_documented_401_body():
    responses.post(
        SUBMIT_PRO, status=401, json={"code": 401, "message": "Invalid or missing API key"}
    )
    with pytest.raises(ProviderAuthError):
        client().submit(t2v())


@responses.activate
def test_an_html_502_from_a_proxy_is_a_server_error():
    responses.post(SUBMIT_PRO, status=502, body="<html>Bad Gateway</html>")
    with pytest.raises(ProviderServerError) as caught:
        client().submit(t2v())
    assert caught.value.retryable is True


@responses.activate
@pytest.mark.parametrize(
    "body",
    [
        envelope({}),
        envelope({"taskId": ""}),
        envelope({"taskId": 123}),
        envelope({"taskId": " padded "}),
        envelope(None),
        envelope("task_1"),
        {"code": 200, "message": "success"},
        {"code": "200", "data": {"taskId": "t"}},
        ["task_1"],
    ],
)
def test_submit_without_a_usable_task_id_is_a_response_error(body):
    responses.post(SUBMIT_PRO, json=body)
    with pytest.raises(ProviderResponseError):
        client().submit(t2v())


@responses.activate
def test_submit_with_a_non_json_answer_is_a_response_error():
    responses.post(SUBMIT_PRO, body="OK")
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
    responses.post(SUBMIT_PRO, body=raised)
    with pytest.raises(cls) as caught:
        client().submit(t2v())
    assert caught.value.retryable is retryable


def test_submit_validates_before_sending():
    with responses.RequestsMock() as mock:  # fails if any request were sent
        with pytest.raises(ValueError):
            client().submit(t2v(resolution="1080p"))
        assert len(mock.calls) == 0


# --- Status --------------------------------------------------------------------------------


def status_answer(**data):
    return envelope({"taskId": "task_12345678", **data})


SUCCESS = {
    "state": "success",
    "resultJson": '{"resultUrls":["https://file.apixo.ai/xxx.mp4"]}',
    "createTime": 1767965610929,
    "completeTime": 1767965695412,
    "costTime": 84483,
}


@responses.activate
def test_fetch_status_success_as_documented():
    responses.get(STATUS_PRO, json=status_answer(**SUCCESS))
    status = client().fetch_status("task_12345678", model=PRO)
    assert status == TaskStatus(
        task_id="task_12345678",
        state="success",
        raw_state="success",
        result_urls=("https://file.apixo.ai/xxx.mp4",),
        create_time_ms=1767965610929,
        complete_time_ms=1767965695412,
        cost_time_ms=84483,
    )
    assert status.is_final and status.succeeded
    sent = responses.calls[0].request
    assert sent.url == f"{STATUS_PRO}?taskId=task_12345678"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.req_kwargs["timeout"] == (4.0, 9.0)


@responses.activate
def test_fetch_status_of_an_extend_task_uses_the_extend_model():
    responses.get(f"{BASE}/statusTask/{EXTEND}", json=status_answer(state="processing"))
    assert client().fetch_status("task_12345678", model=EXTEND).state == "processing"


@responses.activate
@pytest.mark.parametrize(
    ("data", "state", "final"),
    [
        ({"state": "pending", "createTime": 1}, "pending", False),
        ({"state": "processing", "createTime": 1767965610929}, "processing", False),
        ({"state": "processing_r2"}, "unknown", False),
        ({"state": "queued"}, "unknown", False),
        ({"state": "SUCCESS", "resultJson": SUCCESS["resultJson"]}, "success", True),
    ],
)
def test_fetch_status_normalises_states(data, state, final):
    responses.get(STATUS_PRO, json=status_answer(**data))
    status = client().fetch_status("task_12345678", model=PRO)
    assert (status.state, status.is_final, status.raw_state) == (state, final, data["state"])


@responses.activate
def test_fetch_status_failed_as_documented():
    responses.get(
        STATUS_PRO,
        json=status_answer(
            state="failed",
            failCode="SensitiveContent",
            failMsg="Content violates upstream policy, please adjust the prompt",
            createTime=1767965610929,
            completeTime=1767965620132,
            costTime=9203,
        ),
    )
    status = client().fetch_status("task_12345678", model=PRO)
    assert status.is_final and not status.succeeded
    assert status.fail_code == "SensitiveContent"
    assert status.fail_message == "Content violates upstream policy, please adjust the prompt"
    assert status.cost_time_ms == 9203


@responses.activate
@pytest.mark.parametrize("extra", [{}, {"failMsg": None}, {"failMsg": "  "}])
def test_failed_without_a_message_gets_a_generic_one(extra):
    responses.get(STATUS_PRO, json=status_answer(state="failed", **extra))
    status = client().fetch_status("task_12345678", model=PRO)
    assert status.fail_code == ""
    assert status.fail_message


@responses.activate
@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"state": "success"}, id="no resultJson"),
        pytest.param({"state": "success", "resultJson": None}, id="null resultJson"),
        pytest.param(
            {"state": "success", "resultJson": {"resultUrls": ["https://a.test/v.mp4"]}},
            id="object instead of a JSON string",
        ),
        pytest.param({"state": "success", "resultJson": "{not json"}, id="not JSON"),
        pytest.param({"state": "success", "resultJson": "[]"}, id="not an object"),
        pytest.param({"state": "success", "resultJson": "{}"}, id="no resultUrls"),
        pytest.param({"state": "success", "resultJson": '{"resultUrls":[]}'}, id="empty"),
        pytest.param({"state": "success", "resultJson": '{"resultUrls":"x"}'}, id="not a list"),
        pytest.param({"state": "success", "resultJson": '{"resultUrls":[1]}'}, id="not a string"),
        pytest.param(
            {"state": "success", "resultJson": '{"resultUrls":["ftp://a.test/v.mp4"]}'}, id="ftp"
        ),
        pytest.param(
            {"state": "success", "resultJson": '{"resultUrls":["/v.mp4"]}'}, id="relative"
        ),
        pytest.param(
            {"state": "success", "resultJson": '{"resultUrls":["https://[::1/v"]}'}, id="bad URL"
        ),
        pytest.param({"state": "success", "resultJson": "NaN"}, id="NaN"),
    ],
)
def test_malformed_result_json_is_a_response_error(data):
    responses.get(STATUS_PRO, json=status_answer(**data))
    with pytest.raises(ProviderResponseError):
        client().fetch_status("task_12345678", model=PRO)


@responses.activate
@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"taskId": "task_other", "state": "processing"}, id="other task"),
        pytest.param({"taskId": "task_12345678"}, id="no state"),
        pytest.param({"taskId": "task_12345678", "state": 3}, id="state not a string"),
        pytest.param({"taskId": "task_12345678", "state": ""}, id="empty state"),
        pytest.param({"state": "processing"}, id="no taskId"),
        pytest.param(
            {"taskId": "task_12345678", "state": "processing", "createTime": "1767965610929"},
            id="time as a string",
        ),
        pytest.param(
            {"taskId": "task_12345678", "state": "processing", "createTime": True}, id="time bool"
        ),
        pytest.param(
            {"taskId": "task_12345678", "state": "failed", "failCode": 12}, id="failCode number"
        ),
        pytest.param(None, id="null data"),
        pytest.param([], id="list data"),
    ],
)
def test_malformed_task_data_is_a_response_error(data):
    responses.get(STATUS_PRO, json=envelope(data))
    with pytest.raises(ProviderResponseError):
        client().fetch_status("task_12345678", model=PRO)


@responses.activate
def test_status_of_an_unknown_task_is_not_found():
    responses.get(STATUS_PRO, status=404, json=envelope(None, code=404, message="Task not found"))
    with pytest.raises(ProviderTaskNotFound):
        client().fetch_status("task_12345678", model=PRO)


@responses.activate
def test_a_200_envelope_with_code_404_says_the_task_does_not_exist():
    """docs/providers/apixo.md "Envelope and states": a 200 whose body code is not 200 carries that
    code."""
    responses.get(STATUS_PRO, json=envelope(None, code=404, message="Task not found"))
    with pytest.raises(ProviderTaskNotFound):
        client().fetch_status("task_12345678", model=PRO)


@responses.activate
@pytest.mark.parametrize(
    "answer",
    [
        {"body": "<html>404 Not Found</html>", "content_type": "text/html"},
        {"json": {"error": "not found"}},
        {"json": envelope(None, code=500, message="odd")},
    ],
)
def test_a_404_without_the_documented_envelope_proves_nothing_about_the_task(answer):
    responses.get(STATUS_PRO, status=404, **answer)
    with pytest.raises(ProviderError) as caught:
        client().fetch_status("task_12345678", model=PRO)
    assert not isinstance(caught.value, ProviderTaskNotFound)


@pytest.mark.parametrize(("task_id", "model"), [("", PRO), ("t", "seedance-2"), (None, PRO)])
def test_fetch_status_arguments_are_checked(task_id, model):
    with pytest.raises(ValueError):
        client().fetch_status(task_id, model=model)


# --- Callback ------------------------------------------------------------------------------


def test_parse_callback_success():
    body = json.dumps(status_answer(**SUCCESS)).encode()
    status = client().parse_callback(body)
    assert status.succeeded
    assert status.result_urls == ("https://file.apixo.ai/xxx.mp4",)


def test_parse_callback_failed():
    body = json.dumps(status_answer(state="failed", failCode="Timeout", failMsg="Too slow"))
    status = client().parse_callback(body.encode())
    assert (status.state, status.fail_code, status.fail_message) == (
        "failed",
        "Timeout",
        "Too slow",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'{"code": 200}',
        b'{"code": "200", "data": {"taskId": "t", "state": "success"}}',
        b'{"code": 500, "message": "x", "data": {"taskId": "t", "state": "failed"}}',
        b'{"code": 200, "data": {"taskId": "t", "state": "success", "resultJson": "{}"}}',
        b'{"code": 200, "data": {"taskId": "t"}}',
        b" " * 2_000_000,
    ],
)
def test_parse_callback_is_strict(body):
    with pytest.raises(ProviderResponseError):
        client().parse_callback(body)


# --- Balance -------------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(
    ("data", "expected"), [(74.87, "74.87"), (0, "0"), (1e-05, "0.00001"), (10**400, "1e400")]
)
def test_account_balance_in_usd(data, expected):
    responses.get(f"{BASE}/apikeys/current-balance", json=envelope(data))
    assert client().account_balance() == Decimal(expected)


@responses.activate
@pytest.mark.parametrize("data", ["74.87", True, None, {"balance": 1}])
def test_account_balance_must_be_a_number(data):
    responses.get(f"{BASE}/apikeys/current-balance", json=envelope(data))
    with pytest.raises(ProviderResponseError):
        client().account_balance()


@responses.activate
def test_account_balance_with_a_bad_key():
    responses.get(f"{BASE}/apikeys/current-balance", status=401, json={"code": 401})
    with pytest.raises(ProviderAuthError):
        client().account_balance()


# --- Configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:8765/api/v1", {"127.0.0.1:8765"}),
        ("http://localhost:9000/api/v1", {"localhost:9000"}),
        ("http://[::1]:8765/api/v1", {"[::1]:8765"}),
        ("http://127.0.0.1/api/v1", {"127.0.0.1:80"}),
        ("https://api.apixo.ai/api/v1", set()),
        ("http://10.0.0.1:8765/api/v1", set()),
    ],
)
def test_download_allow_hosts_is_the_loopback_simulator_only(base_url, expected):
    assert ApixoClient(base_url, KEY).download_allow_hosts() == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "ftp://api.apixo.ai"},
        {"base_url": "api.apixo.ai/api/v1"},
        {"api_key": ""},
        {"api_key": "key with space"},
        {"api_key": "key\n"},
        {"routing": "cheapest"},
        {"connect_timeout": 0},
        {"read_timeout": -1},
    ],
)
def test_bad_configuration_is_refused(kwargs):
    arguments = {"base_url": BASE, "api_key": KEY, **kwargs}
    with pytest.raises(ValueError):
        ApixoClient(arguments.pop("base_url"), arguments.pop("api_key"), **arguments)


def test_repr_hides_the_key():
    assert KEY not in repr(client())


def test_trailing_slash_in_base_url_is_dropped():
    assert ApixoClient(BASE + "/", KEY).base_url == BASE


# --- Hypothesis: parsers raise only ProviderError -----------------------------------------

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
    "taskId", "state", "resultJson", "failCode", "failMsg", "createTime", "completeTime",
    "costTime", "extra",
]  # fmt: skip
DOCUMENTED_DATA = [
    {"taskId": "task_12345678", "state": "pending", "createTime": 1767965610929},
    {"taskId": "task_12345678", "state": "processing", "createTime": 1767965610929},
    {"taskId": "task_12345678", "state": "processing_r2"},
    {"taskId": "task_12345678", **SUCCESS},
    {"taskId": "task_12345678", "state": "failed", "failCode": "Timeout", "failMsg": "Slow"},
]


def mutate(data, replaced, removed):
    """Return ``data`` with some fields replaced by random JSON and some removed."""
    return {k: v for k, v in {**data, **replaced}.items() if k not in removed}


# Documented task objects, intact or damaged in up to two fields: reaches every branch.
task_data = st.builds(
    mutate,
    st.sampled_from(DOCUMENTED_DATA),
    st.just({}) | st.dictionaries(st.sampled_from(TASK_KEYS), json_values, max_size=2),
    st.just(set()) | st.sets(st.sampled_from(TASK_KEYS), max_size=2),
)
result_json_strings = st.builds(
    json.dumps,
    st.fixed_dictionaries(
        {"resultUrls": st.lists(st.text(max_size=30) | st.just("https://a.test/v.mp4"), max_size=3)}
    ),
)
envelopes = st.fixed_dictionaries(
    {
        "code": st.sampled_from([200] * 6 + [400, 500, "200", None]),
        "data": task_data
        | task_data
        | st.builds(
            lambda rj: {"taskId": "task_12345678", "state": "success", "resultJson": rj},
            result_json_strings,
        )
        | json_values,
    },
    optional={"message": json_values},
)
bodies = (
    envelopes.map(lambda e: json.dumps(e).encode())
    | envelopes.map(lambda e: json.dumps(e).encode())
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=200)
)


def check_outcome(parse):
    """Run ``parse``; only a valid TaskStatus or a ProviderError may come out."""
    try:
        status = parse()
    except ProviderError as error:
        event(f"raised {type(error).__name__}")
        return
    event(f"parsed state {status.state}")
    assert status.state in {"pending", "processing", "success", "failed", "unknown"}
    assert not status.succeeded or status.result_urls
    assert status.state != "failed" or status.fail_message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, http_status=st.sampled_from([200, 200, 200, 201, 302, 400, 404, 429, 502]))
def test_status_parser_raises_only_provider_errors(body, http_status):
    with responses.RequestsMock() as mock:
        mock.get(STATUS_PRO, body=body, status=http_status)
        check_outcome(lambda: client().fetch_status("task_12345678", model=PRO))


@settings(max_examples=500, deadline=None)
@given(body=bodies)
def test_callback_parser_raises_only_provider_errors(body):
    check_outcome(lambda: client().parse_callback(body))
