"""Every documented 400 of generateTask, and the variants the docs accept
(docs/providers/apixo.md "Parameters")."""

import json

import pytest

from .conftest import EXTEND, PRO, extend_input, t2v_input

IMAGE = "http://127.0.0.1:9/start.png"  # never fetched successfully; only the answer matters
VIDEO = "http://127.0.0.1:9/source.mp4"


def without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


def i2v_input(**overrides: object) -> dict:
    return t2v_input(mode="image-to-video", image_urls=[IMAGE]) | overrides


def body(input_data: object, **top: object) -> bytes:
    return json.dumps({"input": input_data} | top).encode()


REJECTED = [
    # Body and top-level fields (docs/providers/apixo.md "Parameters").
    ("not json", PRO, b"{not json", "Request body must be valid JSON"),
    ("array body", PRO, b"[]", "Request body must be a JSON object"),
    ("unknown top field", PRO, body(t2v_input(), model=PRO), "Unsupported field: model"),
    (
        "bad request_type",
        PRO,
        body(t2v_input(), request_type="sync"),
        "Invalid field: request_type must be one of: async, callback",
    ),
    (
        "callback without url",
        PRO,
        body(t2v_input(), request_type="callback"),
        "Missing required field: callback_url",
    ),
    (
        "relative callback url",
        PRO,
        body(t2v_input(), request_type="callback", callback_url="/hook"),
        "Invalid field: callback_url must be an absolute HTTP(S) URL",
    ),
    (
        "ftp callback url",
        PRO,
        body(t2v_input(), request_type="callback", callback_url="ftp://example.com/hook"),
        "Invalid field: callback_url must be an absolute HTTP(S) URL",
    ),
    (
        "bad provider",
        PRO,
        body(t2v_input(), provider="cheapest"),
        "Invalid field: provider must be one of: auto, value, official",
    ),
    ("no input", PRO, b'{"request_type": "async"}', "Missing required field: input"),
    ("input not object", PRO, body("text"), "Invalid field: input must be an object"),
    # input fields of seedance-1-5-pro (docs/providers/apixo.md "Common validation fixes").
    ("no mode", PRO, body(without(t2v_input(), "mode")), "Missing required field: input.mode"),
    (
        "extend mode on pro",
        PRO,
        body(t2v_input(mode="video-extend")),
        "Invalid field: input.mode must be one of: text-to-video, image-to-video",
    ),
    (
        "unknown input field",
        PRO,
        body(t2v_input(negative_prompt="blur")),
        "Unsupported field: input.negative_prompt",
    ),
    (
        "camera_fixed on pro",
        PRO,
        body(t2v_input(camera_fixed=True)),
        "Unsupported field: input.camera_fixed",
    ),
    (
        "no prompt",
        PRO,
        body(without(t2v_input(), "prompt")),
        "Missing required field: input.prompt",
    ),
    ("null prompt", PRO, body(t2v_input(prompt=None)), "Missing required field: input.prompt"),
    (
        "prompt not string",
        PRO,
        body(t2v_input(prompt=123)),
        "Invalid field: input.prompt must be a string",
    ),
    (
        "prompt short after trim",
        PRO,
        body(t2v_input(prompt="  ab   ")),
        "Invalid field: input.prompt must be 3-2500 characters after trimming",
    ),
    (
        "prompt too long",
        PRO,
        body(t2v_input(prompt="x" * 2501)),
        "Invalid field: input.prompt must be 3-2500 characters after trimming",
    ),
    (
        "no resolution",
        PRO,
        body(without(t2v_input(), "resolution")),
        "Missing required field: input.resolution",
    ),
    (
        "1080p on pro",
        PRO,
        body(t2v_input(resolution="1080p")),
        "Invalid field: input.resolution must be one of: 480p, 720p",
    ),
    (
        "no duration",
        PRO,
        body(without(t2v_input(), "duration")),
        "Missing required field: input.duration",
    ),
    *[
        (
            f"duration {value!r}",
            PRO,
            body(t2v_input(duration=value)),
            "Invalid field: input.duration must be an integer from 4 to 12",
        )
        for value in (3, 13, "8", 8.5, True)
    ],
    ("no sound", PRO, body(without(t2v_input(), "sound")), "Missing required field: input.sound"),
    (
        "sound as string",
        PRO,
        body(t2v_input(sound="true")),
        "Invalid field: input.sound must be a boolean (true or false)",
    ),
    (
        "bad aspect ratio",
        PRO,
        body(t2v_input(aspect_ratio="2:1")),
        "Invalid field: input.aspect_ratio must be one of: 1:1, 3:4, 4:3, 9:16, 16:9, 21:9",
    ),
    (
        "fixed_lens not boolean",
        PRO,
        body(t2v_input(fixed_lens="yes")),
        "Invalid field: input.fixed_lens must be a boolean (true or false)",
    ),
    (
        "images on text-to-video",
        PRO,
        body(t2v_input(image_urls=[IMAGE])),
        "Invalid field: input.image_urls is only allowed for image-to-video",
    ),
    (
        "image-to-video without images",
        PRO,
        body(without(i2v_input(), "image_urls")),
        "Missing required field: input.image_urls",
    ),
    *[
        (
            f"{len(urls)} images",
            PRO,
            body(i2v_input(image_urls=urls)),
            "Invalid field: input.image_urls must be an array of 1-2 URL(s)",
        )
        for urls in ([], [IMAGE] * 3)
    ],
    (
        "image urls not a list",
        PRO,
        body(i2v_input(image_urls=IMAGE)),
        "Invalid field: input.image_urls must be an array of 1-2 URL(s)",
    ),
    *[
        (
            f"image url {url!r}",
            PRO,
            body(i2v_input(image_urls=[IMAGE, url])),
            "Invalid field: input.image_urls[1] must be an absolute HTTP(S) URL",
        )
        for url in ("ftp://example.com/a.png", "/a.png", 42, "http:// space.png")
    ],
    # input fields of seedance-1-5-pro-extend (docs/providers/apixo.md "Parameters",
    # "Common validation fixes").
    (
        "pro mode on extend",
        EXTEND,
        body(extend_input(VIDEO, mode="text-to-video")),
        "Invalid field: input.mode must be one of: video-extend",
    ),
    (
        "aspect_ratio on extend",
        EXTEND,
        body(extend_input(VIDEO, aspect_ratio="16:9")),
        "Unsupported field: input.aspect_ratio",
    ),
    (
        "images on extend",
        EXTEND,
        body(extend_input(VIDEO, image_urls=[IMAGE])),
        "Unsupported field: input.image_urls",
    ),
    (
        "no video_urls",
        EXTEND,
        body(without(extend_input(VIDEO), "video_urls")),
        "Missing required field: input.video_urls",
    ),
    (
        "two videos",
        EXTEND,
        body(extend_input(VIDEO, video_urls=[VIDEO, VIDEO])),
        "Invalid field: input.video_urls must be an array of exactly 1 URL(s)",
    ),
    (
        "video url not http",
        EXTEND,
        body(extend_input("file:///etc/passwd")),
        "Invalid field: input.video_urls[0] must be an absolute HTTP(S) URL",
    ),
    (
        "2160p on extend",
        EXTEND,
        body(extend_input(VIDEO, resolution="2160p")),
        "Invalid field: input.resolution must be one of: 480p, 720p, 1080p",
    ),
    *[
        (
            f"extend duration {value!r}",
            EXTEND,
            body(extend_input(VIDEO, duration=value)),
            "Invalid field: input.duration must be an integer from 4 to 12",
        )
        for value in ("13", "abc", "8.0", " 8", False)
    ],
    (
        "camera_fixed not boolean",
        EXTEND,
        body(extend_input(VIDEO, camera_fixed="true")),
        "Invalid field: input.camera_fixed must be a boolean (true or false)",
    ),
    (
        "contradicting fixed_lens",
        EXTEND,
        body(extend_input(VIDEO, camera_fixed=True, fixed_lens=False)),
        "Invalid field: input.fixed_lens (legacy alias) contradicts input.camera_fixed",
    ),
    *[
        (
            f"seed {value!r}",
            EXTEND,
            body(extend_input(VIDEO, seed=value)),
            "Invalid field: input.seed must be an integer from 0 to 2147483647",
        )
        for value in (-1, 2**31, True, "7")
    ],
    (
        "watermark not boolean",
        EXTEND,
        body(extend_input(VIDEO, watermark="no")),
        "Invalid field: input.watermark must be a boolean (true or false)",
    ),
]


@pytest.mark.parametrize(
    ("model", "raw", "detail"),
    [case[1:] for case in REJECTED],
    ids=[case[0] for case in REJECTED],
)
def test_invalid_request_is_400_with_detail(sim, model, raw, detail):
    answer = sim.call("POST", f"/api/v1/generateTask/{model}", raw=raw)

    assert answer.status == 400
    assert answer.json == {"code": 400, "message": "Invalid request", "data": {"error": detail}}


ACCEPTED = [
    (
        "minimal text-to-video",
        PRO,
        {"input": without(without(t2v_input(), "aspect_ratio"), "fixed_lens")},
    ),
    (
        "documented quickstart",
        PRO,
        {"request_type": "async", "input": t2v_input(resolution="720p")},
    ),
    ("provider field", PRO, {"provider": "official", "input": t2v_input()}),
    ("two images", PRO, {"input": i2v_input(image_urls=[IMAGE, IMAGE], sound=True)}),
    (
        "https callback",
        PRO,
        {"request_type": "callback", "callback_url": "https://x.test/h", "input": t2v_input()},
    ),
    ("prompt at 2500 after trim", PRO, {"input": t2v_input(prompt="  " + "y" * 2500 + "  ")}),
    ("extend numeric string duration", EXTEND, {"input": extend_input(VIDEO, duration="8")}),
    (
        "extend 1080p with sound",
        EXTEND,
        {"input": extend_input(VIDEO, resolution="1080p", sound=True)},
    ),
    (
        "extend legacy fixed_lens",
        EXTEND,
        {"input": without(extend_input(VIDEO), "camera_fixed") | {"fixed_lens": False}},
    ),
    (
        "extend minimal",
        EXTEND,
        {
            "input": without(
                without(without(extend_input(VIDEO), "seed"), "watermark"), "camera_fixed"
            )
        },
    ),
]


@pytest.mark.parametrize(
    ("model", "payload"), [case[1:] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED]
)
def test_documented_variants_are_accepted(sim, model, payload):
    answer = sim.call("POST", f"/api/v1/generateTask/{model}", payload)

    assert answer.status == 200, answer.body
    assert answer.json["code"] == 200
    assert answer.json["message"] == "success"
    assert answer.json["data"]["taskId"].startswith("task_")


def test_http_callback_url_needs_the_flag(make_sim):
    strict = make_sim(allow_http_callbacks=False)

    answer = strict.submit(
        t2v_input(), request_type="callback", callback_url="http://127.0.0.1:9/hook"
    )

    assert answer.status == 400
    assert answer.json["data"] == {"error": "Invalid field: callback_url must be an HTTPS URL"}
