"""Local simulator of the APIXO and aivideoapi.ai task APIs for Seedance 1.5 Pro
(docs/architecture.md "Provider simulator").

Pure standard library plus PyAV; no Django. Start it with ``python -m generations.simulator`` or,
in tests, with :func:`start_in_thread`. Both providers share one port: APIXO under ``/api/v1``,
aivideoapi.ai under ``/aivideoapi/v1``, each with its own knobs (:mod:`.config`), tasks and
counters. The URL layout is in :mod:`.app`.
"""

from .app import SimulatorApp
from .config import (
    AivideoapiConfig,
    SimulatorConfig,
    aivideoapi_config_from_env,
    aivideoapi_defaults,
    config_from_env,
)
from .server import SimulatorServer, serve, start_in_thread

__all__ = [
    "AivideoapiConfig",
    "SimulatorApp",
    "SimulatorConfig",
    "SimulatorServer",
    "aivideoapi_config_from_env",
    "aivideoapi_defaults",
    "config_from_env",
    "serve",
    "start_in_thread",
]
