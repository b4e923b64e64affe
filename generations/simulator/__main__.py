"""Run the simulator: ``python -m generations.simulator [--port 8765] [--<knob> VALUE ...]``.

Every knob of :mod:`generations.simulator.config` has a flag (``--fail-rate 0.2``,
``--callback-early`` / ``--no-callback-early``) and an environment variable
(``SIMULATOR_FAIL_RATE``); flags win. ``SIMULATOR_HOST`` and ``SIMULATOR_PORT`` set the address.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .config import ConfigError, config_from_env, knob_types, optional_knobs, parse_knob
from .server import serve

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser, with one flag per knob."""
    parser = argparse.ArgumentParser(
        prog="python -m generations.simulator",
        description="Local APIXO (Seedance 1.5 Pro) simulator. Knobs are documented in "
        "generations/simulator/config.py.",
    )
    parser.add_argument("--host", default=os.environ.get("SIMULATOR_HOST", DEFAULT_HOST))
    parser.add_argument("--port", default=os.environ.get("SIMULATOR_PORT", str(DEFAULT_PORT)))
    for name, kind in knob_types().items():
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction)
        else:
            metavar = kind.__name__.upper() + ("|''" if name in optional_knobs() else "")
            parser.add_argument(flag, dest=name, metavar=metavar)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse flags and environment, then serve until interrupted; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.port.isdigit():
        parser.error(f"port must be a number, got {args.port!r}")
    try:
        config = config_from_env()
        changes = {}
        for name in knob_types():
            value = getattr(args, name)
            if value is not None:
                changes[name] = value if isinstance(value, bool) else parse_knob(name, value)
        config = config.merged(changes)
    except ConfigError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    print(
        f"APIXO simulator on http://{args.host}:{args.port}/api/v1 "
        f"(API key {config.api_key!r}, time_scale {config.time_scale}, "
        f"media {config.media_path})",
        flush=True,
    )
    serve(args.host, int(args.port), config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
