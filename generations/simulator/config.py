"""Configuration of the simulator: every knob, its default and how to set it.

The simulator speaks two providers' APIs on one port, each with its own knobs, task store,
request counters and random source: APIXO (:class:`SimulatorConfig`) and aivideoapi.ai
(:class:`AivideoapiConfig`). Both are immutable and share the knobs of :class:`BaseConfig`.

Setting knobs
-------------
An APIXO config is built from, in increasing priority:

1. the defaults below (or keyword arguments in code, e.g. ``SimulatorConfig(time_scale=0.01)``);
2. environment variables ``SIMULATOR_<KNOB>`` in upper case, e.g. ``SIMULATOR_FAIL_RATE=0.2``
   (read by :func:`config_from_env`; booleans accept ``1/true/yes/on`` and ``0/false/no/off``,
   an empty value sets an optional knob to ``None``; unknown ``SIMULATOR_*`` names are ignored);
3. command-line flags of ``python -m generations.simulator``: ``--<knob-with-dashes>``,
   e.g. ``--fail-rate 0.2 --callback-early --no-allow-http-callbacks``.

The aivideoapi.ai config is built the same way with its own names, in increasing priority:

1. the :class:`AivideoapiConfig` defaults;
2. the *environment knobs* (:data:`INHERITED_KNOBS`: time scales, callback timeout, HTTP
   callbacks, input fetching, media directory, public base URL, seed) taken from the final
   APIXO config, so ``--time-scale 0.01 --allow-http-callbacks`` apply to both providers;
3. environment variables ``SIMULATOR_AIVIDEOAPI_<KNOB>``, e.g.
   ``SIMULATOR_AIVIDEOAPI_RATE_5XX=0.5`` (read by :func:`aivideoapi_config_from_env`);
4. flags ``--aivideoapi-<knob-with-dashes>``, e.g. ``--aivideoapi-balance-credits 500``,
   ``--aivideoapi-ip-not-allowed`` / ``--no-aivideoapi-ip-not-allowed``.

Fault, account and rate knobs are never inherited. In code, ``start_in_thread(config,
aivideoapi_config=AivideoapiConfig(...))`` sets the aivideoapi.ai config explicitly; without
it the aivideoapi.ai config is :func:`aivideoapi_defaults` (defaults plus inherited knobs).

At run time ``POST /_sim/config`` (APIXO) and ``POST /aivideoapi/_sim/config`` merge a JSON
object into that provider's live config only (JSON types, checked like everything else);
``POST /_sim/reset`` and ``POST /aivideoapi/_sim/reset`` restore that provider's starting
config, forget its tasks and reset its counters.

Shared knobs (both providers)
-----------------------------
Account and contract (docs/providers/apixo.md "Rate limits"):

``requests_per_minute`` (int, ``10000``)
    Requests admitted per sliding 60 s window before answering 429 (APIXO documents
    10,000/min; aivideoapi.ai documents no figure and gets the same default).
``max_concurrent_tasks`` (int, ``1000``)
    Non-final tasks allowed at once before submit answers 429 (APIXO documents 1,000).
``allow_http_callbacks`` (bool, ``False``)
    Accept ``http://`` callback URLs; the docs require HTTPS. Tests and local runs turn it on.

Timing (docs/providers/apixo.md "Latency and polling", "Webhooks" and
docs/providers/aivideoapi.md "Callback"):

``time_scale`` (float, ``0.05``)
    Multiplies each task's generation time, drawn within the documented typical range (4 s
    clip 40-60 s, 8 s 60-90 s, 12 s 90-120 s, extend 15 % longer, 1080p 10 % longer), skewed
    towards its low end (``lifecycle.completion_seconds``; the ``seed`` knob makes the draws
    reproducible). 0.05 makes a 4 s clip final after 2-3 s. aivideoapi.ai documents no
    timing and runs the same model, so it uses the same figures.
``callback_time_scale`` (float or None, ``None``)
    Multiplies the documented callback retry delays (APIXO: 30 s, 2 min, 10 min;
    aivideoapi.ai: 3 min, 10 min); ``None`` means ``time_scale``.
``callback_timeout_s`` (float, ``30.0``)
    Time the receiver has to answer before the attempt counts as failed (unscaled).
``callback_delay_s`` (float, ``0.0``)
    Extra delay (unscaled seconds) before the first delivery: late callbacks.
``latency_ms`` (int, ``0``)
    Delay before answering every API request (``/api/v1`` or ``/aivideoapi/v1``).

Fault injection (docs/providers/apixo.md "HTTP errors", "Task failure codes", "Webhooks",
docs/providers/aivideoapi.md "Create Task"):

``fail_rate`` (float 0-1, ``0.0``)
    Share of tasks that end ``failed`` with a documented failure code and message.
``rate_429`` (float 0-1, ``0.0``)
    Share of API requests answered 429 (APIXO "Rate limit exceeded"; aivideoapi.ai
    ``rate_limit_exceeded``).
``rate_5xx`` (float 0-1, ``0.0``)
    Share of API requests answered with the provider's own server error (APIXO: 500 or 503;
    aivideoapi.ai: 500 ``internal_error`` or 503 ``upstream_error``): nothing was done.
``rate_gateway`` (float 0-1, ``0.0``)
    Share of API requests answered by a gateway in front of the provider, which may already
    have passed the request on (APIXO: 502 "Upstream error" or 504 "Upstream timeout", in its
    envelope; aivideoapi.ai documents neither, so a proxy's HTML 502 or 504 page). A submit
    answered so may still have created its task: the portal treats it as an unknown outcome
    (docs/providers.md "Stricter reading").
``rate_unreadable`` (float 0-1, ``0.0``)
    Share of API requests answered not by the provider but by what stands in front of it
    during maintenance: an HTML page with status 200, or a 302 to that page (half each). No
    provider page documents these; they are the answers
    docs/providers/apixo.md "Envelope and states" warns about ("check both the HTTP status and
    ``code == 200`` before trusting ``data``"), and a client must survive them without ending a job
    (issue #12).
``drop_after_submit_rate`` (float 0-1, ``0.0``)
    Share of accepted submits whose connection is closed without an HTTP answer (the task
    exists: the client cannot know whether it was created).
``callback_duplicate_rate`` (float 0-1, ``0.0``)
    Share of tasks whose callback is delivered twice.
``callback_drop_rate`` (float 0-1, ``0.0``)
    Share of callback tasks whose callback is never sent (lost on the way, as if every attempt
    failed before reaching the receiver); polling must still finish them.
``callback_early`` (bool, ``False``)
    Finish every task at once and, for callback tasks, deliver the callback before the submit
    answer is sent.
``callback_mismatch`` (bool, ``False``)
    The callback body claims the opposite outcome of the status endpoint: a failure for a
    success, and for a failure a success whose result URL is
    ``http://169.254.169.254/evil.mp4``.
``seed`` (int or None, ``None``)
    Seed of the random generator behind every rate above (and of aivideoapi.ai's random
    ``output.metadata.seed``), and of a second one behind generation times, for reproducible
    runs.

Inputs and outputs (docs/providers/apixo.md "Image formats", "Source input"):

``fetch_timeout_s`` (float, ``10.0``)
    Timeout for fetching each ``image_urls`` / ``video_urls`` entry.
``max_image_bytes`` (int, 10 MB)
    Size cap of fetched images.
``media_dir`` (str, ``""``)
    Directory for generated videos (a cache keyed by their parameters); empty means a
    temporary directory of this process, removed when it exits (:func:`process_media_dir`),
    so two checkouts or two simulators on one machine never share files.
``public_base_url`` (str, ``""``)
    Base of result URLs (APIXO ``<base>/files/<taskId>.mp4``, aivideoapi.ai
    ``<base>/aivideoapi/files/<taskId>.mp4``); empty means the scheme and ``Host`` the submit
    request arrived with.

APIXO only (:class:`SimulatorConfig`)
-------------------------------------
``api_key`` (str, ``"sim-apixo-key"``)
    The only accepted ``Authorization: Bearer`` value; anything else is a 401.
``balance_usd`` (float, ``100.0``)
    Starting account balance in USD. Setting it at run time sets the live balance.
``max_video_bytes`` (int, 200 MB)
    Size cap of a fetched extend source clip.

aivideoapi.ai only (:class:`AivideoapiConfig`; docs/providers/aivideoapi.md "Error Reference",
"Keys and limits" and "Credits balance")
------------------------------------------------------------------------------------------
``api_key`` (str, ``"sk-sim-aivideoapi-key"``)
    The only accepted ``Authorization: Bearer`` value; it must start with ``sk-``.
``balance_credits`` (int, ``20000``)
    Starting account balance in provider credits (20,000 credits = $100 at $0.005). A task's
    price (docs/providers/aivideoapi.md "Pricing") is deducted at submit and refunded if it fails.
    Setting it at run time sets the live balance.
``spend_limit_credits`` (int or None, ``None``)
    The key's total spend limit: a submit that would take the credits consumed through the
    key (refunds deducted) above it answers 429 ``spend_limit_exceeded``. ``None``: no limit.
``ip_not_allowed`` (bool, ``False``)
    Every authenticated request answers 403 ``ip_not_allowed``, as if the caller's IP were not
    in the key's allowlist.

Per-task triggers in the prompt (handy in tests): ``[sim:fail]`` ends the task failed,
``[sim:fail=SensitiveContent]`` also picks the failure code (e.g. ``[sim:fail=upstream_error]``
on aivideoapi.ai), ``[sim:slow]`` makes it 10x slower.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import os
import shutil
import tempfile
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

ENV_PREFIX = "SIMULATOR_"
AIVIDEOAPI_ENV_PREFIX = "SIMULATOR_AIVIDEOAPI_"
# docs/providers/aivideoapi.md "invalid_api_key (401)": "The key does not start with sk-"
AIVIDEOAPI_KEY_PREFIX = "sk-"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_RATES = {
    "fail_rate",
    "rate_429",
    "rate_5xx",
    "rate_gateway",
    "rate_unreadable",
    "drop_after_submit_rate",
    "callback_duplicate_rate",
    "callback_drop_rate",
}
_POSITIVE = {
    "time_scale",
    "callback_time_scale",
    "callback_timeout_s",
    "fetch_timeout_s",
    "requests_per_minute",
    "max_concurrent_tasks",
    "max_image_bytes",
    "max_video_bytes",
}
# Knobs that describe the environment rather than a provider's behaviour: the aivideoapi.ai
# config takes them from the APIXO config unless they are set for it.
INHERITED_KNOBS = (
    "time_scale",
    "callback_time_scale",
    "callback_timeout_s",
    "allow_http_callbacks",
    "fetch_timeout_s",
    "max_image_bytes",
    "media_dir",
    "public_base_url",
    "seed",
)


@functools.cache
def process_media_dir() -> Path:
    """Return this process's own scratch directory for generated videos (created once).

    ``tempfile.mkdtemp`` gives a fresh, private directory (mode 0700) per process; it is
    removed with everything in it when the interpreter exits (``atexit``). A simulator killed
    with SIGKILL leaves it behind, under the system's temporary directory, where the OS's
    temporary-file cleaning finds it.
    """
    path = Path(tempfile.mkdtemp(prefix="seedance-simulator-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


class ConfigError(ValueError):
    """A knob name, type or value is not acceptable."""


@dataclass(frozen=True)
class BaseConfig:
    """Knobs both providers have (see the module docstring for each one)."""

    requests_per_minute: int = 10_000
    max_concurrent_tasks: int = 1_000
    allow_http_callbacks: bool = False
    time_scale: float = 0.05
    callback_time_scale: float | None = None
    callback_timeout_s: float = 30.0
    callback_delay_s: float = 0.0
    latency_ms: int = 0
    fail_rate: float = 0.0
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_gateway: float = 0.0
    rate_unreadable: float = 0.0
    drop_after_submit_rate: float = 0.0
    callback_duplicate_rate: float = 0.0
    callback_drop_rate: float = 0.0
    callback_early: bool = False
    callback_mismatch: bool = False
    seed: int | None = None
    fetch_timeout_s: float = 10.0
    max_image_bytes: int = 10 * 1024 * 1024
    media_dir: str = ""
    public_base_url: str = ""

    def __post_init__(self) -> None:
        for name, kind in knob_types(type(self)).items():
            value = getattr(self, name)
            if kind is float and _is_int(value):
                value = float(value)
                object.__setattr__(self, name, value)
            _check(type(self), name, kind, value)

    @property
    def effective_callback_time_scale(self) -> float:
        """Return the factor applied to callback retry delays."""
        if self.callback_time_scale is None:
            return self.time_scale
        return self.callback_time_scale

    @property
    def media_path(self) -> Path:
        """Return the directory holding generated videos."""
        if self.media_dir:
            return Path(self.media_dir)
        return process_media_dir()

    def merged(self, changes: Mapping[str, object]) -> Self:
        """Return a copy with ``changes`` applied; raise ConfigError on any bad knob.

        Values must already have the knob's JSON type (``POST /_sim/config``); integers are
        accepted for float knobs.
        """
        unknown = sorted(set(changes) - set(knob_types(type(self))))
        if unknown:
            raise ConfigError(f"Unknown knob: {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        """Return the knobs as a JSON-serialisable dict."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SimulatorConfig(BaseConfig):
    """The APIXO simulator's knobs: the shared ones plus its key, USD balance and clip cap."""

    api_key: str = "sim-apixo-key"
    balance_usd: float = 100.0
    max_video_bytes: int = 200 * 1024 * 1024


@dataclass(frozen=True)
class AivideoapiConfig(BaseConfig):
    """The aivideoapi.ai simulator's knobs: the shared ones plus key, credits and key limits."""

    api_key: str = "sk-sim-aivideoapi-key"
    balance_credits: int = 20_000
    spend_limit_credits: int | None = None
    ip_not_allowed: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.api_key.startswith(AIVIDEOAPI_KEY_PREFIX) or self.api_key == "sk-":
            raise ConfigError(f"api_key must start with {AIVIDEOAPI_KEY_PREFIX!r}")


def knob_types(cls: type[BaseConfig] = SimulatorConfig) -> dict[str, type]:
    """Return each knob's base type (``float | None`` gives ``float``)."""
    hints = typing.get_type_hints(cls)
    result = {}
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        if isinstance(hint, types.UnionType):
            hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        result[field.name] = hint
    return result


def optional_knobs(cls: type[BaseConfig] = SimulatorConfig) -> set[str]:
    """Return the names of knobs that accept ``None``."""
    hints = typing.get_type_hints(cls)
    return {
        field.name
        for field in dataclasses.fields(cls)
        if isinstance(hints[field.name], types.UnionType)
    }


def parse_knob(name: str, raw: str, cls: type[BaseConfig] = SimulatorConfig) -> object:
    """Convert the text form of a knob (environment variable or CLI flag) to its type."""
    kind = knob_types(cls)[name]
    text = raw.strip()
    if text == "" and name in optional_knobs(cls):
        return None
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConfigError(f"{name} must be a boolean, got {raw!r}")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    return raw


def config_from_env(
    environ: Mapping[str, str] | None = None, base: SimulatorConfig | None = None
) -> SimulatorConfig:
    """Return ``base`` (default: the defaults) overridden by ``SIMULATOR_*`` variables."""
    return (base or SimulatorConfig()).merged(_env_changes(environ, ENV_PREFIX, SimulatorConfig))


def aivideoapi_defaults(apixo: SimulatorConfig | None = None) -> AivideoapiConfig:
    """Return the aivideoapi.ai defaults with the :data:`INHERITED_KNOBS` of ``apixo``."""
    apixo = apixo or SimulatorConfig()
    return AivideoapiConfig(**{name: getattr(apixo, name) for name in INHERITED_KNOBS})


def aivideoapi_config_from_env(
    environ: Mapping[str, str] | None = None, apixo: SimulatorConfig | None = None
) -> AivideoapiConfig:
    """Return :func:`aivideoapi_defaults` overridden by ``SIMULATOR_AIVIDEOAPI_*`` variables."""
    changes = _env_changes(environ, AIVIDEOAPI_ENV_PREFIX, AivideoapiConfig)
    return aivideoapi_defaults(apixo).merged(changes)


def _env_changes(
    environ: Mapping[str, str] | None, prefix: str, cls: type[BaseConfig]
) -> dict[str, object]:
    environ = os.environ if environ is None else environ
    known = knob_types(cls)
    changes: dict[str, object] = {}
    for key, raw in environ.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :].lower()
        if name in known:
            changes[name] = parse_knob(name, raw, cls)
    return changes


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(cls: type[BaseConfig], name: str, kind: type, value: object) -> None:
    if value is None:
        if name not in optional_knobs(cls):
            raise ConfigError(f"{name} must not be null")
        return
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = _is_int(value)
    elif kind is float:
        ok = isinstance(value, float)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ConfigError(f"{name} must be of type {kind.__name__}")
    if name in _RATES and not 0.0 <= value <= 1.0:  # type: ignore[operator]
        raise ConfigError(f"{name} must be between 0 and 1")
    if name in _POSITIVE and value <= 0:  # type: ignore[operator]
        raise ConfigError(f"{name} must be positive")
    if kind in (int, float) and value < 0:  # type: ignore[operator]
        raise ConfigError(f"{name} must not be negative")
