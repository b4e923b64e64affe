"""Validate aivideoapi.ai create-task bodies exactly as strictly as its docs state them.

Source: docs/providers/aivideoapi.md "Model", "Pricing", "Request Body",
"Input Object", "Image URLs Format", "Parameters" and the ``invalid_request`` example
(``'model' is required.``, whose style every message here follows).

Every rejection raises :class:`~.validation.RequestError` (answered 400 ``invalid_request``)
or :class:`ModelNotFoundError` (404 ``model_not_found``); ``detail`` is the message.
Image URLs must be absolute HTTP(S) URLs; whether they are *public* shows when the task fetches
them (the simulator runs next to local servers, so a loopback host is accepted here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .validation import RequestError, is_url

MODEL = "doubao-seedance-1.5-pro"  # docs/providers/aivideoapi.md "Model"
# docs/providers/aivideoapi.md "Aspect Ratio"
ASPECT_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
RESOLUTIONS = ("480p", "720p", "1080p")  # docs/providers/aivideoapi.md "Input Object"
DEFAULT_ASPECT_RATIO, DEFAULT_RESOLUTION, DEFAULT_DURATION = "16:9", "720p", 5
DURATION_MIN, DURATION_MAX = 4, 12  # docs/providers/aivideoapi.md "Duration"
SEED_MIN, SEED_MAX = -1, 4_294_967_295  # docs/providers/aivideoapi.md "Seed"
MAX_IMAGES = 2  # docs/providers/aivideoapi.md "Generation Modes": 0, 1 or 2 images
# docs/providers/aivideoapi.md "Pricing": credits per second of requested duration, by (resolution,
# generate_audio).
CREDITS_PER_SECOND = {
    ("480p", False): 3,
    ("480p", True): 7,
    ("720p", False): 7,
    ("720p", True): 14,
    ("1080p", False): 15,
    ("1080p", True): 30,
}
TOP_LEVEL_FIELDS = ("model", "input", "callback_url")  # docs/providers/aivideoapi.md "Request Body"
# docs/providers/aivideoapi.md "Input Object" (``ratio`` is the documented alias of aspect_ratio)
INPUT_FIELDS = (
    "prompt",
    "image_urls",
    "duration",
    "aspect_ratio",
    "ratio",
    "resolution",
    "generate_audio",
    "watermark",
    "camera_fixed",
    "seed",
)
# docs/providers/aivideoapi.md "Input Object": "video_urls, audio_urls, generation_type, web_search,
# and return_last_frame are not supported by this model."
UNSUPPORTED_FIELDS = (
    "video_urls",
    "audio_urls",
    "generation_type",
    "web_search",
    "return_last_frame",
)


class ModelNotFoundError(RequestError):
    """The ``model`` names no model of this API (404 ``model_not_found``)."""


@dataclass(frozen=True)
class AivideoapiSpec:
    """A validated create-task request (``seed`` as given: None, -1 or a fixed seed)."""

    model: str
    prompt: str
    resolution: str
    duration: int
    sound: bool  # input.generate_audio
    aspect_ratio: str
    image_urls: tuple[str, ...]
    callback_url: str | None
    watermark: bool
    camera_fixed: bool
    seed: int | None
    video_urls: tuple[str, ...] = ()  # never any: not supported by this model

    @property
    def mode(self) -> str:
        """Return the generation mode the number of images selects
        (docs/providers/aivideoapi.md "Generation Modes")."""
        return ("text-to-video", "first-frame", "first-and-last-frame")[len(self.image_urls)]

    @property
    def price_credits(self) -> int:
        """Return the documented price: duration x per-second rate
        (docs/providers/aivideoapi.md "Pricing")."""
        return CREDITS_PER_SECOND[(self.resolution, self.sound)] * self.duration


def decode_body(raw_body: bytes) -> dict:
    """Return the JSON object of a request body; raise RequestError if it is not one."""
    try:
        body = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RequestError("Request body must be valid JSON.") from None
    if not isinstance(body, dict):
        raise RequestError("Request body must be a JSON object.")
    return body


def parse_submit(body: dict, *, allow_http_callbacks: bool) -> AivideoapiSpec:
    """Validate a decoded ``POST /videos/generations`` body; raise on the first violation."""
    model = body.get("model")
    if model is None:
        raise RequestError("'model' is required.")
    if not isinstance(model, str):
        raise RequestError("'model' must be a string.")
    if model != MODEL:
        raise ModelNotFoundError(f"Model '{model}' does not exist or is inactive.")
    _reject_unknown(body, TOP_LEVEL_FIELDS, prefix="")

    callback_url = body.get("callback_url")
    if "callback_url" in body:
        schemes = ("https", "http") if allow_http_callbacks else ("https",)
        if not is_url(callback_url, schemes):
            expected = "an HTTP(S) URL" if allow_http_callbacks else "an HTTPS URL"
            raise RequestError(f"'callback_url' must be {expected}.")

    data = body.get("input")
    if data is None:
        raise RequestError("'input' is required.")
    if not isinstance(data, dict):
        raise RequestError("'input' must be an object.")
    for name in UNSUPPORTED_FIELDS:
        if name in data:
            raise RequestError(f"'input.{name}' is not supported by this model.")
    _reject_unknown(data, INPUT_FIELDS, prefix="input.")

    prompt = data.get("prompt")
    if prompt is None:
        raise RequestError("'input.prompt' is required.")
    if not isinstance(prompt, str) or not prompt.strip():
        raise RequestError("'input.prompt' must be a non-empty string.")

    image_urls = _image_urls(data)
    duration = data.get("duration", DEFAULT_DURATION)
    if not _is_int(duration) or not DURATION_MIN <= duration <= DURATION_MAX:
        raise RequestError(
            f"'input.duration' must be an integer between {DURATION_MIN} and {DURATION_MAX}."
        )
    aspect_ratio = _aspect_ratio(data)
    resolution = data.get("resolution", DEFAULT_RESOLUTION)
    _one_of(resolution, RESOLUTIONS, "input.resolution")
    defaults = (("generate_audio", True), ("watermark", False), ("camera_fixed", False))
    flags = {name: _boolean(data.get(name, default), f"input.{name}") for name, default in defaults}
    seed = data.get("seed")
    if "seed" in data and (not _is_int(seed) or not SEED_MIN <= seed <= SEED_MAX):
        raise RequestError(f"'input.seed' must be an integer between {SEED_MIN} and {SEED_MAX}.")

    return AivideoapiSpec(
        model=model,
        prompt=prompt,
        resolution=resolution,
        duration=duration,
        sound=flags["generate_audio"],
        aspect_ratio=aspect_ratio,
        image_urls=image_urls,
        callback_url=callback_url,
        watermark=flags["watermark"],
        camera_fixed=flags["camera_fixed"],
        seed=seed,
    )


def _aspect_ratio(data: dict) -> str:
    """Return ``aspect_ratio`` or its alias ``ratio`` (docs/providers/aivideoapi.md "Input Object");
    both must agree."""
    for name in ("aspect_ratio", "ratio"):
        if name in data:
            _one_of(data[name], ASPECT_RATIOS, f"input.{name}")
    if "aspect_ratio" in data and "ratio" in data and data["aspect_ratio"] != data["ratio"]:
        raise RequestError("'input.aspect_ratio' and its alias 'input.ratio' disagree.")
    return data.get("aspect_ratio", data.get("ratio", DEFAULT_ASPECT_RATIO))


def _image_urls(data: dict) -> tuple[str, ...]:
    """Return 0-2 image URLs given as strings or ``{"url": ...}`` objects
    (docs/providers/aivideoapi.md "Image URLs Format")."""
    if "image_urls" not in data:
        return ()
    value = data["image_urls"]
    if not isinstance(value, list):
        raise RequestError(f"'input.image_urls' must be an array of at most {MAX_IMAGES} images.")
    if len(value) > MAX_IMAGES:
        raise RequestError(
            f"'input.image_urls' accepts at most {MAX_IMAGES} images (first frame, last frame)."
        )
    urls = []
    for index, item in enumerate(value):
        path = f"input.image_urls[{index}]"
        if isinstance(item, dict):
            _reject_unknown(item, ("url",), prefix=f"{path}.")
            if "url" not in item:
                raise RequestError(f"'{path}.url' is required.")
            item, path = item["url"], f"{path}.url"
        elif not isinstance(item, str):
            raise RequestError(f"'{path}' must be a URL string or an object with a 'url'.")
        if not is_url(item, ("http", "https")):
            raise RequestError(f"'{path}' must be a public HTTP(S) URL.")
        urls.append(item)
    return tuple(urls)


def _reject_unknown(data: dict, allowed: tuple[str, ...], prefix: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise RequestError(f"Unknown parameter '{prefix}{unknown[0]}'.")


def _one_of(value: object, choices: tuple[str, ...], path: str) -> None:
    if not isinstance(value, str) or value not in choices:
        raise RequestError(f"'{path}' must be one of: {', '.join(choices)}.")


def _boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise RequestError(f"'{path}' must be a boolean.")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
