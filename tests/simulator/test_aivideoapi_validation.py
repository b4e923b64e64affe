"""aivideoapi.ai: every 400 of ``POST /videos/generations``, the 404 for another model, and the
variants the docs accept (docs/providers/aivideoapi.md "Request Body", "Input Object",
"Image URLs Format", "Parameters", "Error Codes")."""

import json

import pytest

from .conftest import AIV_MODEL, aiv_input

IMAGE = "http://127.0.0.1:9/start.png"  # never fetched successfully; only the answer matters


def body(input_data: object = None, **top: object) -> bytes:
    payload = {"model": AIV_MODEL} | ({} if input_data is None else {"input": input_data})
    return json.dumps(payload | top).encode()


def without(data: dict, key: str) -> dict:
    return {k: v for k, v in data.items() if k != key}


REJECTED = [
    # Body and top level (docs/providers/aivideoapi.md "Request Body"; the "'model' is required."
    # example).
    ("not json", b"{not json", "Request body must be valid JSON."),
    ("not utf-8", b"\xff\xfe", "Request body must be valid JSON."),
    ("empty body", b"", "Request body must be valid JSON."),
    ("array body", b"[]", "Request body must be a JSON object."),
    ("string body", b'"model"', "Request body must be a JSON object."),
    ("no model", json.dumps({"input": aiv_input()}).encode(), "'model' is required."),
    ("null model", body(aiv_input(), model=None), "'model' is required."),
    ("numeric model", body(aiv_input(), model=15), "'model' must be a string."),
    ("unknown top field", body(aiv_input(), provider="auto"), "Unknown parameter 'provider'."),
    (
        "apixo request_type",
        body(aiv_input(), request_type="callback"),
        "Unknown parameter 'request_type'.",
    ),
    ("no input", body(), "'input' is required."),
    ("null input", body(None, input=None), "'input' is required."),
    ("input array", body([aiv_input()]), "'input' must be an object."),
    ("input string", body("a prompt"), "'input' must be an object."),
    (
        "relative callback",
        body(aiv_input(), callback_url="/hook"),
        "'callback_url' must be an HTTP(S) URL.",
    ),
    (
        "ftp callback",
        body(aiv_input(), callback_url="ftp://example.com/hook"),
        "'callback_url' must be an HTTP(S) URL.",
    ),
    (
        "numeric callback",
        body(aiv_input(), callback_url=42),
        "'callback_url' must be an HTTP(S) URL.",
    ),
    (
        "null callback",
        body(aiv_input(), callback_url=None),
        "'callback_url' must be an HTTP(S) URL.",
    ),
    # Not supported by this model (docs/providers/aivideoapi.md "Input Object").
    *[
        (
            f"unsupported {name}",
            body(aiv_input(**{name: value})),
            f"'input.{name}' is not supported by this model.",
        )
        for name, value in [
            ("video_urls", ["https://example.com/v.mp4"]),
            ("audio_urls", []),
            ("generation_type", "reference"),
            ("web_search", False),
            ("return_last_frame", True),
        ]
    ],
    (
        "unknown input field",
        body(aiv_input(mode="text-to-video")),
        "Unknown parameter 'input.mode'.",
    ),
    ("apixo sound field", body(aiv_input(sound=True)), "Unknown parameter 'input.sound'."),
    # prompt
    ("no prompt", body(without(aiv_input(), "prompt")), "'input.prompt' is required."),
    ("null prompt", body(aiv_input(prompt=None)), "'input.prompt' is required."),
    ("empty prompt", body(aiv_input(prompt="")), "'input.prompt' must be a non-empty string."),
    ("blank prompt", body(aiv_input(prompt="  \n ")), "'input.prompt' must be a non-empty string."),
    ("numeric prompt", body(aiv_input(prompt=7)), "'input.prompt' must be a non-empty string."),
    # image_urls (docs/providers/aivideoapi.md "Generation Modes", "Image URLs Format")
    (
        "three images",
        body(aiv_input(image_urls=[IMAGE, IMAGE, IMAGE])),
        "'input.image_urls' accepts at most 2 images (first frame, last frame).",
    ),
    (
        "image_urls string",
        body(aiv_input(image_urls=IMAGE)),
        "'input.image_urls' must be an array of at most 2 images.",
    ),
    (
        "image_urls null",
        body(aiv_input(image_urls=None)),
        "'input.image_urls' must be an array of at most 2 images.",
    ),
    (
        "image entry number",
        body(aiv_input(image_urls=[IMAGE, 5])),
        "'input.image_urls[1]' must be a URL string or an object with a 'url'.",
    ),
    (
        "image relative",
        body(aiv_input(image_urls=["/start.png"])),
        "'input.image_urls[0]' must be a public HTTP(S) URL.",
    ),
    (
        "image ftp",
        body(aiv_input(image_urls=["ftp://example.com/a.png"])),
        "'input.image_urls[0]' must be a public HTTP(S) URL.",
    ),
    (
        "image data url",
        body(aiv_input(image_urls=["data:image/png;base64,AAAA"])),
        "'input.image_urls[0]' must be a public HTTP(S) URL.",
    ),
    (
        "image object without url",
        body(aiv_input(image_urls=[{}])),
        "'input.image_urls[0].url' is required.",
    ),
    (
        "image object extra key",
        body(aiv_input(image_urls=[{"url": IMAGE, "role": "first_frame"}])),
        "Unknown parameter 'input.image_urls[0].role'.",
    ),
    (
        "image object bad url",
        body(aiv_input(image_urls=[{"url": IMAGE}, {"url": "nope"}])),
        "'input.image_urls[1].url' must be a public HTTP(S) URL.",
    ),
    # duration (docs/providers/aivideoapi.md "Duration")
    *[
        (
            f"duration {value!r}",
            body(aiv_input(duration=value)),
            "'input.duration' must be an integer between 4 and 12.",
        )
        for value in (3, 13, 0, -5, 5.0, 5.5, "5", True, None)
    ],
    # aspect ratio (docs/providers/aivideoapi.md "Aspect Ratio")
    *[
        (
            f"aspect_ratio {value!r}",
            body(aiv_input(aspect_ratio=value)),
            "'input.aspect_ratio' must be one of: 16:9, 4:3, 1:1, 3:4, 9:16, 21:9.",
        )
        for value in ("2:1", "16x9", "", 1.77, None)
    ],
    (
        "bad ratio alias",
        body(without(aiv_input(), "aspect_ratio") | {"ratio": "9:21"}),
        "'input.ratio' must be one of: 16:9, 4:3, 1:1, 3:4, 9:16, 21:9.",
    ),
    (
        "ratio disagrees",
        body(aiv_input(aspect_ratio="16:9", ratio="9:16")),
        "'input.aspect_ratio' and its alias 'input.ratio' disagree.",
    ),
    # resolution
    *[
        (
            f"resolution {value!r}",
            body(aiv_input(resolution=value)),
            "'input.resolution' must be one of: 480p, 720p, 1080p.",
        )
        for value in ("4k", "720P", "720", 720, None)
    ],
    # booleans
    *[
        (
            f"{name} {value!r}",
            body(aiv_input(**{name: value})),
            f"'input.{name}' must be a boolean.",
        )
        for name in ("generate_audio", "watermark", "camera_fixed")
        for value in ("true", 1, 0, None)
    ],
    # seed (docs/providers/aivideoapi.md "Seed")
    *[
        (
            f"seed {value!r}",
            body(aiv_input(seed=value)),
            "'input.seed' must be an integer between -1 and 4294967295.",
        )
        for value in (-2, 4294967296, 1.5, "42", True, None)
    ],
]


@pytest.mark.parametrize(
    ("raw", "message"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED]
)
def test_rule_breaking_body_is_400_invalid_request(aiv, raw, message):
    answer = aiv.call("POST", "/v1/videos/generations", raw=raw)

    assert answer.status == 400, answer.body
    assert answer.json == {
        "error": {"code": "invalid_request", "message": message, "type": "invalid_request_error"}
    }
    assert aiv.tasks() == []
    assert aiv.credits()["balance"] == 20000


def test_https_only_callbacks_without_the_knob(make_aiv):
    aiv = make_aiv(allow_http_callbacks=False)

    refused = aiv.submit(aiv_input(), callback_url="http://127.0.0.1:9/hook")
    accepted = aiv.submit(aiv_input(), callback_url="https://portal.example.test/hook?t=1")

    assert refused.status == 400
    assert refused.json["error"]["message"] == "'callback_url' must be an HTTPS URL."
    assert accepted.status == 200


@pytest.mark.parametrize(
    "model", ["seedance-1-5-pro", "doubao-seedance-2.0", "DOUBAO-SEEDANCE-1.5-PRO", ""]
)
def test_another_model_is_404_model_not_found(aiv, model):
    answer = aiv.call("POST", "/v1/videos/generations", {"model": model, "input": aiv_input()})

    assert answer.status == 404
    assert answer.json == {
        "error": {
            "code": "model_not_found",
            "message": f"Model '{model}' does not exist or is inactive.",
            "type": "invalid_request_error",
        }
    }
    assert aiv.tasks() == []


def test_oversized_body_is_400(aiv):
    raw = json.dumps({"model": AIV_MODEL, "input": aiv_input(prompt="x" * 1_100_000)}).encode()

    answer = aiv.call("POST", "/v1/videos/generations", raw=raw)

    assert answer.status == 400
    assert answer.json["error"]["message"] == "Request body too large."


ACCEPTED = [
    ("prompt only", {"prompt": "a red kite over the dunes"}),
    ("documented t2v example", aiv_input(duration=5, resolution="720p", generate_audio=True)),
    ("one image string", aiv_input(image_urls=[IMAGE])),
    ("two image strings", aiv_input(image_urls=[IMAGE, IMAGE])),
    ("image objects", aiv_input(image_urls=[{"url": IMAGE}, {"url": IMAGE}])),
    ("mixed image forms", aiv_input(image_urls=[IMAGE, {"url": IMAGE}])),
    ("no images", aiv_input(image_urls=[])),
    ("ratio alias", without(aiv_input(), "aspect_ratio") | {"ratio": "21:9"}),
    ("ratio agrees", aiv_input(aspect_ratio="1:1", ratio="1:1")),
    *[(f"ratio {r}", aiv_input(aspect_ratio=r)) for r in ("4:3", "1:1", "3:4", "9:16", "21:9")],
    *[(f"duration {d}", aiv_input(duration=d)) for d in (4, 12)],
    ("1080p", aiv_input(resolution="1080p")),
    ("all flags", aiv_input(generate_audio=True, watermark=True, camera_fixed=True)),
    *[(f"seed {s}", aiv_input(seed=s)) for s in (-1, 0, 4294967295)],
    ("https callback", aiv_input()),
]


@pytest.mark.parametrize("input_data", [a[1] for a in ACCEPTED], ids=[a[0] for a in ACCEPTED])
def test_documented_variants_are_accepted(aiv, input_data):
    answer = aiv.submit(input_data, callback_url="https://portal.example.test/hook")

    assert answer.status == 200, answer.body
    (task,) = aiv.tasks()
    assert task["request"] == {
        "model": AIV_MODEL,
        "input": input_data,
        "callback_url": "https://portal.example.test/hook",
    }
