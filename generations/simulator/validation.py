"""Validate ``generateTask`` request bodies exactly as strictly as the APIXO docs state them.

Sources: docs/providers/apixo.md "Parameters" / "Common validation fixes" (``seedance-1-5-pro``),
docs/providers/apixo.md "Parameters" (``seedance-1-5-pro-extend``),
docs/providers/apixo.md "Request body" (``provider``), docs/providers/apixo.md "Envelope and states"
(error detail style: ``Missing required field: input.prompt``).

Every rejection raises :class:`RequestError` whose ``detail`` becomes
``{"code":400,"message":"Invalid request","data":{"error":detail}}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

PRO = "seedance-1-5-pro"
EXTEND = "seedance-1-5-pro-extend"

ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9", "21:9")
DEFAULT_ASPECT_RATIO = "1:1"  # docs/providers/apixo.md "Parameters"
PROVIDERS = ("auto", "value", "official")
REQUEST_TYPES = ("async", "callback")
PROMPT_MIN, PROMPT_MAX = 3, 2500
DURATION_MIN, DURATION_MAX = 4, 12
SEED_MAX = 2_147_483_647
TOP_LEVEL_FIELDS = ("request_type", "callback_url", "provider", "input")


@dataclass(frozen=True)
class ModelSpec:
    """What one model accepts and what it costs (docs/providers/apixo.md "Billing")."""

    name: str
    modes: tuple[str, ...]
    resolutions: tuple[str, ...]
    usd_per_second: dict[tuple[str, bool], Decimal]
    fields: dict[str, frozenset[str]]  # allowed input fields per mode


_PRO_COMMON = frozenset(
    {"mode", "prompt", "resolution", "duration", "sound", "aspect_ratio", "fixed_lens"}
)
MODELS: dict[str, ModelSpec] = {
    PRO: ModelSpec(
        name=PRO,
        modes=("text-to-video", "image-to-video"),
        resolutions=("480p", "720p"),
        usd_per_second={
            ("480p", False): Decimal("0.01"),
            ("480p", True): Decimal("0.02"),
            ("720p", False): Decimal("0.02"),
            ("720p", True): Decimal("0.04"),
        },
        fields={
            "text-to-video": _PRO_COMMON,
            "image-to-video": _PRO_COMMON | {"image_urls"},
        },
    ),
    EXTEND: ModelSpec(
        name=EXTEND,
        modes=("video-extend",),
        resolutions=("480p", "720p", "1080p"),
        usd_per_second={
            ("480p", False): Decimal("0.012"),
            ("480p", True): Decimal("0.024"),
            ("720p", False): Decimal("0.024"),
            ("720p", True): Decimal("0.048"),
            ("1080p", False): Decimal("0.052"),
            ("1080p", True): Decimal("0.104"),
        },
        fields={
            "video-extend": frozenset(
                {
                    "mode",
                    "prompt",
                    "video_urls",
                    "resolution",
                    "duration",
                    "sound",
                    "camera_fixed",
                    "fixed_lens",
                    "seed",
                    "watermark",
                }
            ),
        },
    ),
}


class RequestError(ValueError):
    """A request body breaks a documented rule; ``detail`` is the client-facing message."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class TaskSpec:
    """A validated ``generateTask`` request, reduced to what the simulator acts on."""

    model: str
    mode: str
    prompt: str
    resolution: str
    duration: int
    sound: bool
    aspect_ratio: str
    image_urls: tuple[str, ...]
    video_urls: tuple[str, ...]
    request_type: str
    callback_url: str | None

    @property
    def price_usd(self) -> Decimal:
        """Return the documented price: per-second rate times requested duration (Billing)."""
        rate = MODELS[self.model].usd_per_second[(self.resolution, self.sound)]
        return rate * self.duration


def decode_body(raw_body: bytes) -> dict:
    """Return the JSON object of a request body; raise RequestError if it is not one."""
    try:
        body = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RequestError("Request body must be valid JSON") from None
    if not isinstance(body, dict):
        raise RequestError("Request body must be a JSON object")
    return body


def parse_submit(model: str, body: dict, *, allow_http_callbacks: bool) -> TaskSpec:
    """Validate a decoded ``generateTask/<model>`` body; raise RequestError on any violation.

    ``model`` must be a key of MODELS (the caller answers 404 otherwise).
    """
    _reject_unknown(body, TOP_LEVEL_FIELDS, prefix="")

    request_type = body.get("request_type", "async")
    _one_of(request_type, REQUEST_TYPES, "request_type")
    callback_url = body.get("callback_url")
    if request_type == "callback" and callback_url is None:
        raise RequestError("Missing required field: callback_url")
    if callback_url is not None:
        schemes = ("https", "http") if allow_http_callbacks else ("https",)
        if not is_url(callback_url, schemes):
            expected = "an absolute HTTP(S) URL" if allow_http_callbacks else "an HTTPS URL"
            raise RequestError(f"Invalid field: callback_url must be {expected}")
    if "provider" in body:
        _one_of(body["provider"], PROVIDERS, "provider")

    if "input" not in body:
        raise RequestError("Missing required field: input")
    data = body["input"]
    if not isinstance(data, dict):
        raise RequestError("Invalid field: input must be an object")
    return _parse_input(MODELS[model], data, request_type, callback_url)


def _parse_input(
    spec: ModelSpec, data: dict, request_type: str, callback_url: str | None
) -> TaskSpec:
    mode = _required(data, "mode")
    _one_of(mode, spec.modes, "input.mode")
    if mode == "text-to-video" and "image_urls" in data:
        raise RequestError("Invalid field: input.image_urls is only allowed for image-to-video")
    _reject_unknown(data, spec.fields[mode], prefix="input.")

    prompt = _required(data, "prompt")
    if not isinstance(prompt, str):
        raise RequestError("Invalid field: input.prompt must be a string")
    if not PROMPT_MIN <= len(prompt.strip()) <= PROMPT_MAX:
        raise RequestError(
            f"Invalid field: input.prompt must be {PROMPT_MIN}-{PROMPT_MAX} characters "
            "after trimming"
        )

    image_urls: tuple[str, ...] = ()
    video_urls: tuple[str, ...] = ()
    if mode == "image-to-video":
        image_urls = _url_list(_required(data, "image_urls"), "input.image_urls", 1, 2)
    if mode == "video-extend":
        video_urls = _url_list(_required(data, "video_urls"), "input.video_urls", 1, 1)

    resolution = _required(data, "resolution")
    _one_of(resolution, spec.resolutions, "input.resolution")
    duration = _duration(_required(data, "duration"), numeric_strings=spec.name == EXTEND)
    sound = _required(data, "sound")
    _boolean(sound, "input.sound")

    aspect_ratio = data.get("aspect_ratio", DEFAULT_ASPECT_RATIO)
    _one_of(aspect_ratio, ASPECT_RATIOS, "input.aspect_ratio")
    for flag in ("fixed_lens", "camera_fixed", "watermark"):
        if flag in data:
            _boolean(data[flag], f"input.{flag}")
    both = "camera_fixed" in data and "fixed_lens" in data
    if both and data["camera_fixed"] != data["fixed_lens"]:
        raise RequestError(
            "Invalid field: input.fixed_lens (legacy alias) contradicts input.camera_fixed"
        )
    if "seed" in data:
        seed = data["seed"]
        if not _is_int(seed) or not 0 <= seed <= SEED_MAX:
            raise RequestError(f"Invalid field: input.seed must be an integer from 0 to {SEED_MAX}")

    return TaskSpec(
        model=spec.name,
        mode=mode,
        prompt=prompt,
        resolution=resolution,
        duration=duration,
        sound=sound,
        aspect_ratio=aspect_ratio,
        image_urls=image_urls,
        video_urls=video_urls,
        request_type=request_type,
        callback_url=callback_url if request_type == "callback" else None,
    )


def _required(data: dict, name: str) -> object:
    if name not in data or data[name] is None:
        raise RequestError(f"Missing required field: input.{name}")
    return data[name]


def _reject_unknown(data: dict, allowed: frozenset[str] | tuple[str, ...], prefix: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise RequestError(f"Unsupported field: {prefix}{unknown[0]}")


def _one_of(value: object, choices: tuple[str, ...], path: str) -> None:
    if not isinstance(value, str) or value not in choices:
        raise RequestError(f"Invalid field: {path} must be one of: {', '.join(choices)}")


def _boolean(value: object, path: str) -> None:
    if not isinstance(value, bool):
        raise RequestError(f"Invalid field: {path} must be a boolean (true or false)")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _duration(value: object, *, numeric_strings: bool) -> int:
    """Check 4-12 seconds; docs/providers/apixo.md "Parameters": numeric strings accepted by the
    extend backend."""
    if numeric_strings and isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not _is_int(value) or not DURATION_MIN <= value <= DURATION_MAX:  # type: ignore[operator]
        raise RequestError(
            f"Invalid field: input.duration must be an integer from {DURATION_MIN} "
            f"to {DURATION_MAX}"
        )
    return value  # type: ignore[return-value]


def _url_list(value: object, path: str, minimum: int, maximum: int) -> tuple[str, ...]:
    count = f"exactly {minimum}" if minimum == maximum else f"{minimum}-{maximum}"
    if not isinstance(value, list) or not minimum <= len(value) <= maximum:
        raise RequestError(f"Invalid field: {path} must be an array of {count} URL(s)")
    for index, url in enumerate(value):
        if not is_url(url, ("http", "https")):
            raise RequestError(f"Invalid field: {path}[{index}] must be an absolute HTTP(S) URL")
    return tuple(value)


def is_url(value: object, schemes: tuple[str, ...]) -> bool:
    """Tell whether ``value`` is an absolute URL with one of ``schemes`` and a host."""
    if not isinstance(value, str) or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in schemes and bool(parts.hostname)
