"""aivideoapi.ai knobs from code, environment and command line, and the server's entry points
(generations/simulator/config.py, __main__.py, server.py)."""

import pytest

from generations.simulator import (
    AivideoapiConfig,
    SimulatorConfig,
    aivideoapi_config_from_env,
    aivideoapi_defaults,
    start_in_thread,
)
from generations.simulator.__main__ import build_parser, configs_from
from generations.simulator.config import INHERITED_KNOBS, ConfigError

from .conftest import AivClient, aiv_input


def test_defaults():
    config = AivideoapiConfig()

    assert config.api_key == "sk-sim-aivideoapi-key"
    assert config.balance_credits == 20_000
    assert config.spend_limit_credits is None
    assert config.ip_not_allowed is False
    assert config.time_scale == SimulatorConfig().time_scale
    assert not hasattr(config, "balance_usd")


@pytest.mark.parametrize("key", ["sim-apixo-key", "sk-", "SK-abc", ""])
def test_the_key_must_start_with_sk(key):
    with pytest.raises(ConfigError, match="api_key must start with 'sk-'"):
        AivideoapiConfig(api_key=key)


def test_defaults_inherit_only_the_environment_knobs_of_the_apixo_config():
    apixo = SimulatorConfig(
        time_scale=0.2,
        callback_time_scale=0.001,
        allow_http_callbacks=True,
        media_dir="/tmp/somewhere",
        public_base_url="https://sim.example.test",
        seed=9,
        rate_5xx=1.0,
        fail_rate=0.5,
        requests_per_minute=3,
        api_key="apixo",
    )

    config = aivideoapi_defaults(apixo)

    for name in INHERITED_KNOBS:
        assert getattr(config, name) == getattr(apixo, name)
    assert (config.rate_5xx, config.fail_rate, config.requests_per_minute) == (0.0, 0.0, 10_000)
    assert config.api_key == "sk-sim-aivideoapi-key"


def test_environment_sets_aivideoapi_knobs_apart_from_apixo_ones():
    environ = {
        "SIMULATOR_TIME_SCALE": "0.5",  # APIXO, inherited
        "SIMULATOR_RATE_5XX": "1",  # APIXO only
        "SIMULATOR_AIVIDEOAPI_RATE_429": "0.25",
        "SIMULATOR_AIVIDEOAPI_BALANCE_CREDITS": "900",
        "SIMULATOR_AIVIDEOAPI_SPEND_LIMIT_CREDITS": "",
        "SIMULATOR_AIVIDEOAPI_IP_NOT_ALLOWED": "yes",
        "SIMULATOR_AIVIDEOAPI_CALLBACK_TIME_SCALE": "0.002",
        "SIMULATOR_AIVIDEOAPI_BALANCE_USD": "5",  # not an aivideoapi knob: ignored
    }
    args = build_parser().parse_args([])

    apixo, aivideoapi = configs_from(args, environ)

    assert (apixo.time_scale, apixo.rate_5xx, apixo.rate_429) == (0.5, 1.0, 0.0)
    assert aivideoapi.time_scale == 0.5
    assert aivideoapi.rate_5xx == 0.0
    assert aivideoapi.rate_429 == 0.25
    assert aivideoapi.balance_credits == 900
    assert aivideoapi.spend_limit_credits is None
    assert aivideoapi.ip_not_allowed is True
    assert aivideoapi.callback_time_scale == 0.002
    assert apixo.callback_time_scale is None


def test_flags_win_over_the_environment():
    environ = {"SIMULATOR_AIVIDEOAPI_FAIL_RATE": "0.1", "SIMULATOR_FAIL_RATE": "0.3"}
    args = build_parser().parse_args(
        [
            "--fail-rate",
            "0.4",
            "--aivideoapi-fail-rate",
            "0.6",
            "--allow-http-callbacks",
            "--aivideoapi-api-key",
            "sk-other",
            "--no-aivideoapi-callback-early",
            "--aivideoapi-spend-limit-credits",
            "300",
        ]
    )

    apixo, aivideoapi = configs_from(args, environ)

    assert apixo.fail_rate == 0.4
    assert aivideoapi.fail_rate == 0.6
    assert aivideoapi.allow_http_callbacks is True  # inherited from --allow-http-callbacks
    assert aivideoapi.api_key == "sk-other"
    assert aivideoapi.callback_early is False
    assert aivideoapi.spend_limit_credits == 300


def test_every_aivideoapi_knob_has_a_flag():
    args = vars(build_parser().parse_args([]))

    assert {f"aivideoapi_{name}" for name in AivideoapiConfig().as_dict()} <= set(args)
    assert set(SimulatorConfig().as_dict()) <= set(args)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SIMULATOR_AIVIDEOAPI_RATE_5XX": "often"}, "rate_5xx must be a number"),
        ({"SIMULATOR_AIVIDEOAPI_IP_NOT_ALLOWED": "maybe"}, "ip_not_allowed must be a boolean"),
        ({"SIMULATOR_AIVIDEOAPI_API_KEY": "plain"}, "api_key must start with 'sk-'"),
    ],
)
def test_bad_environment_fails_loudly(environ, message):
    with pytest.raises(ConfigError, match=message):
        aivideoapi_config_from_env(environ)


def test_server_exposes_both_base_urls_and_defaults_aivideoapi_from_apixo(media_dir):
    apixo = SimulatorConfig(time_scale=0.01, media_dir=str(media_dir), allow_http_callbacks=True)
    server, root = start_in_thread(apixo)
    try:
        assert server.api_base_url == f"{root}/api/v1"
        assert server.aivideoapi_base_url == f"{root}/aivideoapi/v1"
        aiv = AivClient(server, root)
        knobs = aiv.call("GET", "/_sim/config", key=None).json["data"]
        assert knobs["time_scale"] == 0.01
        assert knobs["allow_http_callbacks"] is True
        answer = aiv.call("GET", "/v1/credits", key="sk-sim-aivideoapi-key")
        assert answer.json["data"]["balance"] == 20000
        task_id = aiv.call(
            "POST",
            "/v1/videos/generations",
            {"model": "doubao-seedance-1.5-pro", "input": aiv_input()},
            key="sk-sim-aivideoapi-key",
        ).json["data"]["taskId"]
        assert aiv.call("GET", f"/v1/tasks/{task_id}", key="sk-sim-aivideoapi-key").status == 200
    finally:
        server.stop()


def test_configs_of_the_wrong_provider_are_refused():
    with pytest.raises(TypeError, match="aivideoapi_config must be an AivideoapiConfig"):
        start_in_thread(SimulatorConfig(), aivideoapi_config=SimulatorConfig())
    with pytest.raises(TypeError, match="config must be a SimulatorConfig"):
        start_in_thread(AivideoapiConfig())
