"""Run the simulator: ``python -m generations.simulator [--port 8765] [--<knob> VALUE ...]``.

One process serves both providers on one port: APIXO at ``/api/v1`` and aivideoapi.ai at
``/aivideoapi/v1``. Every APIXO knob of :mod:`generations.simulator.config` has a flag
(``--fail-rate 0.2``, ``--callback-early`` / ``--no-callback-early``) and an environment
variable (``SIMULATOR_FAIL_RATE``); every aivideoapi.ai knob has a flag
``--aivideoapi-<knob>`` (``--aivideoapi-rate-5xx 0.5``, ``--aivideoapi-ip-not-allowed`` /
``--no-aivideoapi-ip-not-allowed``) and a variable
``SIMULATOR_AIVIDEOAPI_<KNOB>``. Flags win over variables. aivideoapi.ai takes the APIXO
environment knobs (time scales, HTTP callbacks, media directory, ...) unless they are set for
it. ``SIMULATOR_HOST`` and ``SIMULATOR_PORT`` set the address.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .config import (
    AivideoapiConfig,
    BaseConfig,
    ConfigError,
    SimulatorConfig,
    aivideoapi_config_from_env,
    config_from_env,
    knob_types,
    optional_knobs,
    parse_knob,
)
from .server import serve

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
AIVIDEOAPI_FLAG_PREFIX = "aivideoapi_"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser, with one flag per knob of each provider."""
    parser = argparse.ArgumentParser(
        prog="python -m generations.simulator",
        description="Local APIXO and aivideoapi.ai (Seedance 1.5 Pro) simulator. Knobs are "
        "documented in generations/simulator/config.py.",
    )
    parser.add_argument("--host", default=os.environ.get("SIMULATOR_HOST", DEFAULT_HOST))
    parser.add_argument("--port", default=os.environ.get("SIMULATOR_PORT", str(DEFAULT_PORT)))
    apixo = parser.add_argument_group("APIXO knobs (SIMULATOR_<KNOB>)")
    _add_knob_flags(apixo, SimulatorConfig, "")
    aivideoapi = parser.add_argument_group("aivideoapi.ai knobs (SIMULATOR_AIVIDEOAPI_<KNOB>)")
    _add_knob_flags(aivideoapi, AivideoapiConfig, AIVIDEOAPI_FLAG_PREFIX)
    return parser


def _add_knob_flags(group: argparse._ArgumentGroup, cls: type[BaseConfig], prefix: str) -> None:
    optional = optional_knobs(cls)
    for name, kind in knob_types(cls).items():
        dest = prefix + name
        flag = "--" + dest.replace("_", "-")
        if kind is bool:
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction)
        else:
            metavar = kind.__name__.upper() + ("|''" if name in optional else "")
            group.add_argument(flag, dest=dest, metavar=metavar)


def _flag_changes(args: argparse.Namespace, cls: type[BaseConfig], prefix: str) -> dict:
    changes = {}
    for name in knob_types(cls):
        value = getattr(args, prefix + name)
        if value is not None:
            changes[name] = value if isinstance(value, bool) else parse_knob(name, value, cls)
    return changes


def configs_from(
    args: argparse.Namespace, environ: dict[str, str] | None = None
) -> tuple[SimulatorConfig, AivideoapiConfig]:
    """Return both providers' configs from the environment and parsed flags."""
    apixo = config_from_env(environ).merged(_flag_changes(args, SimulatorConfig, ""))
    aivideoapi = aivideoapi_config_from_env(environ, apixo).merged(
        _flag_changes(args, AivideoapiConfig, AIVIDEOAPI_FLAG_PREFIX)
    )
    return apixo, aivideoapi


def main(argv: list[str] | None = None) -> int:
    """Parse flags and environment, then serve until interrupted; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.port.isdigit():
        parser.error(f"port must be a number, got {args.port!r}")
    try:
        config, aivideoapi_config = configs_from(args)
    except ConfigError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    root = f"http://{args.host}:{args.port}"
    print(
        f"APIXO simulator on {root}/api/v1 (API key {config.api_key!r}, "
        f"time_scale {config.time_scale}, media {config.media_path})\n"
        f"aivideoapi.ai simulator on {root}/aivideoapi/v1 (API key "
        f"{aivideoapi_config.api_key!r}, time_scale {aivideoapi_config.time_scale})",
        flush=True,
    )
    serve(args.host, int(args.port), config, aivideoapi_config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
