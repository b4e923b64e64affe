"""Fixtures for the provider tests: a real local HTTP(S) server and sample media bytes.

These tests need no database. The server runs in a thread so that tests see real sockets:
slow bodies, dropped connections, redirects, TLS.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# A minimal ISO BMFF (MP4) head: a 24-byte ftyp box with brand mp42, then padding.
MP4_BYTES = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 4000
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class LocalServer:
    """A threaded HTTP server on 127.0.0.1 whose answers the test scripts per path."""

    httpd: ThreadingHTTPServer
    scheme: str = "http"
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[dict] = field(default_factory=list)

    @property
    def port(self) -> int:
        """Return the server's TCP port."""
        return self.httpd.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """Return an absolute URL for ``path`` on this server."""
        return f"{self.scheme}://{host}:{self.port}{path}"


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    """Build a handler class that dispatches to ``server.routes`` and records requests."""

    class Handler(BaseHTTPRequestHandler):
        def _dispatch(self) -> None:
            path = self.path.split("?", 1)[0]
            server.seen.append({"path": self.path, "host": self.headers.get("Host")})
            route = server.routes.get(path)
            if route is None:
                self.send_error(404)
                return
            route(self)

        do_GET = _dispatch
        do_POST = _dispatch

        def log_message(self, format, *args):
            pass

    return Handler


def _serve(server: LocalServer) -> Iterator[LocalServer]:
    """Run ``server`` in a thread for the duration of a fixture and yield it."""
    httpd = server.httpd
    httpd.RequestHandlerClass = _handler_for(server)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    """Yield a running plain-HTTP :class:`LocalServer`."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    yield from _serve(LocalServer(httpd))


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory) -> tuple[Path, Path]:
    """Return ``(cert, key)`` paths of a self-signed certificate for ``video.test``."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=video.test",
            "-addext", "subjectAltName=DNS:video.test",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(tls_cert) -> Iterator[LocalServer]:
    """Yield a running HTTPS :class:`LocalServer` presenting the ``video.test`` certificate."""
    cert, key = tls_cert
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    yield from _serve(LocalServer(httpd, scheme="https"))


def send_body(
    handler: BaseHTTPRequestHandler,
    body: bytes,
    *,
    status: int = 200,
    content_type: str | None = "video/mp4",
    headers: dict[str, str] | None = None,
) -> None:
    """Answer with ``body`` and a Content-Length."""
    handler.send_response(status)
    if content_type is not None:
        handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def redirect(location: str, status: int = 302) -> Route:
    """Return a route that redirects to ``location``."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        send_body(handler, b"", status=status, content_type=None, headers={"Location": location})

    return route


def fake_getaddrinfo(monkeypatch, table: dict[str, list[str]]) -> list[str]:
    """Make ``socket.getaddrinfo`` answer ``table`` for its host names; return the call log.

    Other hosts (IP literals the client connects to) go to the real resolver.
    """
    real = socket.getaddrinfo
    calls: list[str] = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        calls.append(host)
        if host not in table:
            return real(host, port, family, type, proto, flags)
        answers = []
        for address in table[host]:
            if ":" in address:
                answers.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                answers.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return answers

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls
