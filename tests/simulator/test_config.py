"""Knobs from code, environment and command line (generations/simulator/config.py)."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from generations.simulator.__main__ import build_parser
from generations.simulator.config import ConfigError, SimulatorConfig, config_from_env


def test_defaults_follow_the_documented_limits():
    config = SimulatorConfig()

    assert config.requests_per_minute == 10_000
    assert config.max_concurrent_tasks == 1_000
    assert config.time_scale == 0.05
    assert config.effective_callback_time_scale == 0.05
    assert config.max_image_bytes == 10 * 1024 * 1024
    assert config.allow_http_callbacks is False


def test_environment_overrides_defaults():
    config = config_from_env(
        {
            "SIMULATOR_FAIL_RATE": "0.25",
            "SIMULATOR_CALLBACK_EARLY": "yes",
            "SIMULATOR_SEED": "42",
            "SIMULATOR_CALLBACK_TIME_SCALE": "",
            "SIMULATOR_PORT": "9999",  # used by __main__, not a knob
            "FAIL_RATE": "0.9",  # no prefix: ignored
        }
    )

    assert config.fail_rate == 0.25
    assert config.callback_early is True
    assert config.seed == 42
    assert config.callback_time_scale is None


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SIMULATOR_RATE_429": "often"}, "rate_429 must be a number"),
        ({"SIMULATOR_CALLBACK_MISMATCH": "maybe"}, "callback_mismatch must be a boolean"),
        ({"SIMULATOR_RATE_5XX": "1.5"}, "rate_5xx must be between 0 and 1"),
        ({"SIMULATOR_LATENCY_MS": "-5"}, "latency_ms must not be negative"),
    ],
)
def test_bad_environment_fails_loudly(environ, message):
    with pytest.raises(ConfigError, match=message):
        config_from_env(environ)


def test_integers_are_accepted_for_float_knobs():
    assert SimulatorConfig(balance_usd=5).balance_usd == 5.0
    assert SimulatorConfig().merged({"time_scale": 1}).time_scale == 1.0


def test_every_knob_has_a_command_line_flag():
    args = build_parser().parse_args(
        ["--port", "8766", "--fail-rate", "0.5", "--allow-http-callbacks", "--no-callback-early"]
    )

    assert args.port == "8766"
    assert args.fail_rate == "0.5"
    assert args.allow_http_callbacks is True
    assert args.callback_early is False
    assert set(SimulatorConfig().as_dict()) <= set(vars(args))


def test_each_simulator_process_has_its_own_media_directory_removed_at_exit():
    """Issue #18 item 4: no fixed directory under /tmp shared by every checkout."""
    script = (
        "from generations.simulator.config import SimulatorConfig\n"
        "path = SimulatorConfig().media_path\n"
        "assert path == SimulatorConfig().media_path  # one per process, created once\n"
        "(path / 'clip.mp4').write_bytes(b'x')\n"
        "print(path)\n"
    )
    paths = [
        Path(
            subprocess.run(
                [sys.executable, "-c", script],
                check=True,
                capture_output=True,
                text=True,
                cwd=settings.BASE_DIR,
            ).stdout.strip()
        )
        for _ in range(2)
    ]

    assert paths[0] != paths[1]
    assert not any(path.exists() for path in paths)
