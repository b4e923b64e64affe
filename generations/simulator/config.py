"""Configuration of the APIXO simulator: every knob, its default and how to set it.

A :class:`SimulatorConfig` is immutable. It is built from, in increasing priority:

1. the defaults below (or keyword arguments in code, e.g. ``SimulatorConfig(time_scale=0.01)``);
2. environment variables ``SIMULATOR_<KNOB>`` in upper case, e.g. ``SIMULATOR_FAIL_RATE=0.2``
   (read by :func:`config_from_env`; booleans accept ``1/true/yes/on`` and ``0/false/no/off``,
   an empty value sets an optional knob to ``None``; unknown ``SIMULATOR_*`` names are ignored);
3. command-line flags of ``python -m generations.simulator``: ``--<knob-with-dashes>``,
   e.g. ``--fail-rate 0.2 --callback-early --no-allow-http-callbacks``.

At run time ``POST /_sim/config`` merges a JSON object into the live config (JSON types, checked
like everything else) and ``POST /_sim/reset`` restores the config the server started with.

Knobs
-----
Account and contract (001 / 004 "Rate Limits", CONTRACT.md "Other endpoints and facts"):

``api_key`` (str, ``"sim-apixo-key"``)
    The only accepted ``Authorization: Bearer`` value; anything else is a 401.
``balance_usd`` (float, ``100.0``)
    Starting account balance in USD. Setting it at run time sets the live balance.
``requests_per_minute`` (int, ``10000``)
    Requests admitted per sliding 60 s window before answering 429 (documented: 10,000/min).
``max_concurrent_tasks`` (int, ``1000``)
    Non-final tasks allowed at once before submit answers 429 (documented: 1,000).
``allow_http_callbacks`` (bool, ``False``)
    Accept ``http://`` callback URLs; the docs require HTTPS. Tests and local runs turn it on.

Timing (001 "Latency and polling", 000 "Latency and polling", CONTRACT.md "Webhooks"):

``time_scale`` (float, ``0.05``)
    Multiplies the documented typical generation time (4 s clip ~50 s, 8 s ~75 s, 12 s ~105 s,
    extend 15 % longer). 0.05 makes a 4 s clip final after ~2.5 s.
``callback_time_scale`` (float or None, ``None``)
    Multiplies the documented webhook retry delays (30 s, 2 min, 10 min); ``None`` means
    ``time_scale``.
``callback_timeout_s`` (float, ``30.0``)
    Time the receiver has to answer HTTP 200 before the attempt counts as failed (unscaled).
``callback_delay_s`` (float, ``0.0``)
    Extra delay (unscaled seconds) before the first delivery: late callbacks.
``latency_ms`` (int, ``0``)
    Delay before answering every ``/api/v1`` request.

Fault injection (CONTRACT.md "HTTP errors", "Task failure codes", "Webhooks"):

``fail_rate`` (float 0-1, ``0.0``)
    Share of tasks that end ``failed`` with a documented failCode/failMsg pair.
``rate_429`` (float 0-1, ``0.0``)
    Share of ``/api/v1`` requests answered 429 "Rate limit exceeded".
``rate_5xx`` (float 0-1, ``0.0``)
    Share of ``/api/v1`` requests answered 500, 502, 503 or 504.
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
    The callback body claims the opposite outcome of ``statusTask``: a failure for a success,
    and for a failure a success whose result URL is ``http://169.254.169.254/evil.mp4``.
``seed`` (int or None, ``None``)
    Seed of the random generator behind every rate above, for reproducible runs.

Inputs and outputs (001 "Tips: Image formats", 000 "Source input"):

``fetch_timeout_s`` (float, ``10.0``)
    Timeout for fetching each ``image_urls`` / ``video_urls`` entry.
``max_image_bytes`` (int, 10 MB) and ``max_video_bytes`` (int, 200 MB)
    Size caps of fetched inputs.
``media_dir`` (str, ``""``)
    Directory for generated videos (a cache keyed by their parameters); empty means
    ``<tmp>/seedance-simulator-media``.
``public_base_url`` (str, ``""``)
    Base of result URLs (``<base>/files/<taskId>.mp4``); empty means the scheme and ``Host``
    the submit request arrived with.

Per-task triggers in the prompt (handy in tests): ``[sim:fail]`` ends the task failed,
``[sim:fail=SensitiveContent]`` also picks the failCode, ``[sim:slow]`` makes it 10x slower.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_PREFIX = "SIMULATOR_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_RATES = {
    "fail_rate",
    "rate_429",
    "rate_5xx",
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


class ConfigError(ValueError):
    """A knob name, type or value is not acceptable."""


@dataclass(frozen=True)
class SimulatorConfig:
    """Immutable set of simulator knobs (see the module docstring for each one)."""

    api_key: str = "sim-apixo-key"
    balance_usd: float = 100.0
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
    drop_after_submit_rate: float = 0.0
    callback_duplicate_rate: float = 0.0
    callback_drop_rate: float = 0.0
    callback_early: bool = False
    callback_mismatch: bool = False
    seed: int | None = None
    fetch_timeout_s: float = 10.0
    max_image_bytes: int = 10 * 1024 * 1024
    max_video_bytes: int = 200 * 1024 * 1024
    media_dir: str = ""
    public_base_url: str = ""

    def __post_init__(self) -> None:
        for name, kind in knob_types().items():
            value = getattr(self, name)
            if kind is float and _is_int(value):
                value = float(value)
                object.__setattr__(self, name, value)
            _check(name, kind, value)

    @property
    def effective_callback_time_scale(self) -> float:
        """Return the factor applied to webhook retry delays."""
        if self.callback_time_scale is None:
            return self.time_scale
        return self.callback_time_scale

    @property
    def media_path(self) -> Path:
        """Return the directory holding generated videos."""
        if self.media_dir:
            return Path(self.media_dir)
        return Path(tempfile.gettempdir()) / "seedance-simulator-media"

    def merged(self, changes: Mapping[str, object]) -> SimulatorConfig:
        """Return a copy with ``changes`` applied; raise ConfigError on any bad knob.

        Values must already have the knob's JSON type (``POST /_sim/config``); integers are
        accepted for float knobs.
        """
        unknown = sorted(set(changes) - set(knob_types()))
        if unknown:
            raise ConfigError(f"Unknown knob: {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        """Return the knobs as a JSON-serialisable dict."""
        return dataclasses.asdict(self)


def knob_types() -> dict[str, type]:
    """Return each knob's base type (``float | None`` gives ``float``)."""
    hints = typing.get_type_hints(SimulatorConfig)
    result = {}
    for field in dataclasses.fields(SimulatorConfig):
        hint = hints[field.name]
        if isinstance(hint, types.UnionType):
            hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
        result[field.name] = hint
    return result


def optional_knobs() -> set[str]:
    """Return the names of knobs that accept ``None``."""
    hints = typing.get_type_hints(SimulatorConfig)
    return {name for name, hint in hints.items() if isinstance(hint, types.UnionType)}


def parse_knob(name: str, raw: str) -> object:
    """Convert the text form of a knob (environment variable or CLI flag) to its type."""
    kind = knob_types()[name]
    text = raw.strip()
    if text == "" and name in optional_knobs():
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
    environ = os.environ if environ is None else environ
    known = knob_types()
    changes: dict[str, object] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name in known:
            changes[name] = parse_knob(name, raw)
    return (base or SimulatorConfig()).merged(changes)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(name: str, kind: type, value: object) -> None:
    if value is None:
        if name not in optional_knobs():
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
