"""Serve the simulator with the standard library: ``wsgiref`` plus one thread per request.

The handler differs from ``wsgiref.simple_server`` in three ways: it is quiet, it serves
requests concurrently (daemon threads) and it honours :class:`~.app.DropConnection` by closing
the socket without writing a byte, which is how ``drop_after_submit_rate`` is simulated.
"""

from __future__ import annotations

import logging
import socketserver
import sys
import threading
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from .app import SimulatorApp
from .config import AivideoapiConfig, SimulatorConfig
from .web import DropConnection

logger = logging.getLogger(__name__)


class _Handler(ServerHandler):
    """wsgiref's per-request handler, silent on injected connection drops."""

    def handle_error(self) -> None:
        if isinstance(sys.exc_info()[1], DropConnection):
            return  # nothing written: the socket closes when the request ends
        super().handle_error()

    def log_exception(self, exc_info: tuple) -> None:
        logger.error("Simulator request failed", exc_info=exc_info)


class _RequestHandler(WSGIRequestHandler):
    """Read one request and run the app through :class:`_Handler`, without access logs."""

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _Handler(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True
        )
        handler.request_handler = self
        handler.run(self.server.get_app())

    def log_message(self, format: str, *args: object) -> None:
        """Drop access logs."""


class SimulatorServer(socketserver.ThreadingMixIn, WSGIServer):
    """Threaded WSGI server owning a :class:`SimulatorApp` (both providers on one port)."""

    daemon_threads = True
    request_queue_size = 1024  # 1,000 jobs in flight may poll at once

    def __init__(
        self,
        config: SimulatorConfig,
        host: str,
        port: int,
        aivideoapi_config: AivideoapiConfig | None = None,
    ) -> None:
        super().__init__((host, port), _RequestHandler)
        try:
            self.app = SimulatorApp(config, aivideoapi_config)
        except BaseException:
            self.server_close()
            raise
        self.set_app(self.app)

    @property
    def base_url(self) -> str:
        """Return ``http://host:port``, the root of ``/files`` and ``/_sim``."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_base_url(self) -> str:
        """Return the APIXO base URL to configure clients with (``.../api/v1``)."""
        return f"{self.base_url}/api/v1"

    @property
    def aivideoapi_base_url(self) -> str:
        """Return the aivideoapi.ai base URL to configure clients with (``.../aivideoapi/v1``)."""
        return f"{self.base_url}/aivideoapi/v1"

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore clients that hang up; log anything else once, without a stderr dump."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            logger.warning("Simulator connection error from %s: %r", client_address, error)

    def stop(self) -> None:
        """Stop serving, close the socket and the app's background work."""
        self.shutdown()
        self.server_close()
        self.app.close()


def serve(
    host: str, port: int, config: SimulatorConfig, aivideoapi_config: AivideoapiConfig | None = None
) -> None:
    """Serve until interrupted (Ctrl-C)."""
    server = SimulatorServer(config, host, port, aivideoapi_config)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.app.close()


def start_in_thread(
    config: SimulatorConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    aivideoapi_config: AivideoapiConfig | None = None,
) -> tuple[SimulatorServer, str]:
    """Start a server on a daemon thread; return it and its root URL (``http://host:port``).

    ``port=0`` picks a free port. Call ``server.stop()`` when done; the base URLs are
    ``server.api_base_url`` (APIXO) and ``server.aivideoapi_base_url`` (aivideoapi.ai).
    Without ``aivideoapi_config``, aivideoapi.ai runs with its defaults plus the environment
    knobs of ``config`` (``config.aivideoapi_defaults``).
    """
    server = SimulatorServer(config, host, port, aivideoapi_config)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    return server, server.base_url
