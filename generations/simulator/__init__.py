"""Local simulator of the APIXO task API for Seedance 1.5 Pro (DESIGN.md "Provider simulator").

Pure standard library plus PyAV; no Django. Start it with ``python -m generations.simulator`` or,
in tests, with :func:`start_in_thread`. Knobs are documented in :mod:`.config`, the URL layout in
:mod:`.app`.
"""

from .app import SimulatorApp
from .config import SimulatorConfig, config_from_env
from .server import SimulatorServer, serve, start_in_thread

__all__ = [
    "SimulatorApp",
    "SimulatorConfig",
    "SimulatorServer",
    "config_from_env",
    "serve",
    "start_in_thread",
]
