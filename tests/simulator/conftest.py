"""Fixtures for the simulator tests: a live simulator per test, a raw HTTP client, local servers.

Nothing here touches Django or the database; everything talks real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from generations.simulator import (
    AivideoapiConfig,
    SimulatorConfig,
    SimulatorServer,
    start_in_thread,
)

API_KEY = "test-key"
PRO = "seedance-1-5-pro"
EXTEND = "seedance-1-5-pro-extend"
FINAL = ("success", "failed")
AIV_KEY = "sk-test-aivideoapi-key"
AIV_MODEL = "doubao-seedance-1.5-pro"
AIV_FINAL = ("completed", "failed")


@dataclass
class Answer:
    """One HTTP answer as received."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


def http_request(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Answer:
    """Send one request with http.client (no redirects, no exceptions on 4xx/5xx)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()


def t2v_input(**overrides: object) -> dict:
    """Return a valid text-to-video input (docs/providers/apixo.md "Text-to-video"), with
    overrides."""
    data = {
        "mode": "text-to-video",
        "prompt": "a calm seaside sunrise with gentle camera dolly movement",
        "resolution": "480p",
        "duration": 4,
        "sound": False,
        "aspect_ratio": "16:9",
        "fixed_lens": False,
    }
    return data | overrides


def extend_input(video_url: str, **overrides: object) -> dict:
    """Return a valid video-extend input (docs/providers/apixo.md "Request body"), with
    overrides."""
    data = {
        "mode": "video-extend",
        "prompt": "keep the same framing, smile at the camera, then ride away",
        "video_urls": [video_url],
        "resolution": "480p",
        "duration": 4,
        "sound": False,
        "camera_fixed": True,
        "seed": 123456,
        "watermark": False,
    }
    return data | overrides


class SimClient:
    """Talk to one running simulator the way the portal's client does."""

    def __init__(self, server: SimulatorServer, base_url: str) -> None:
        self.server = server
        self.base_url = base_url

    def call(
        self,
        method: str,
        path: str,
        payload: object = None,
        *,
        key: str | None = API_KEY,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        body = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
        if body is not None:
            sent["Content-Type"] = "application/json"
        return http_request(self.base_url + path, method, body, sent)

    def submit(self, input_data: dict, model: str = PRO, **top: object) -> Answer:
        return self.call("POST", f"/api/v1/generateTask/{model}", {"input": input_data} | top)

    def submit_ok(self, input_data: dict, model: str = PRO, **top: object) -> str:
        answer = self.submit(input_data, model, **top)
        assert answer.status == 200, answer.body
        return answer.json["data"]["taskId"]

    def status(self, task_id: str, model: str = PRO) -> Answer:
        return self.call("GET", f"/api/v1/statusTask/{model}?taskId={task_id}")

    def wait_final(self, task_id: str, model: str = PRO, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.status(task_id, model).json["data"]
            if data["state"] in FINAL:
                return data
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} not final after {timeout}s")

    def configure(self, **knobs: object) -> Answer:
        return self.call("POST", "/_sim/config", knobs, key=None)

    def stats(self) -> dict:
        return self.call("GET", "/_sim/stats", key=None).json["data"]

    def tasks(self) -> list[dict]:
        return self.call("GET", "/_sim/tasks", key=None).json["data"]


def aiv_input(**overrides: object) -> dict:
    """Return a valid aivideoapi.ai text-to-video input
    (docs/providers/aivideoapi.md "Text-to-Video"), with overrides."""
    data = {
        "prompt": "A girl walking through a neon city at night, cinematic camera movement",
        "duration": 4,
        "aspect_ratio": "16:9",
        "resolution": "480p",
        "generate_audio": False,
    }
    return data | overrides


class AivClient:
    """Talk to the aivideoapi.ai part of one running simulator (under ``/aivideoapi``)."""

    def __init__(self, server: SimulatorServer, base_url: str) -> None:
        self.server = server
        self.base_url = base_url  # the server root
        self.api = server.aivideoapi_base_url
        self.apixo = SimClient(server, base_url)  # the other provider on the same port

    def call(
        self,
        method: str,
        path: str,
        payload: object = None,
        *,
        key: str | None = AIV_KEY,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """Send a request to ``/aivideoapi<path>`` (e.g. ``/v1/credits``)."""
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        body = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
        if body is not None:
            sent["Content-Type"] = "application/json"
        return http_request(f"{self.base_url}/aivideoapi{path}", method, body, sent)

    def submit(self, input_data: dict, **top: object) -> Answer:
        return self.call(
            "POST", "/v1/videos/generations", {"model": AIV_MODEL, "input": input_data} | top
        )

    def submit_ok(self, input_data: dict, **top: object) -> str:
        answer = self.submit(input_data, **top)
        assert answer.status == 200, answer.body
        return answer.json["data"]["taskId"]

    def task(self, task_id: str) -> Answer:
        return self.call("GET", f"/v1/tasks/{task_id}")

    def wait_final(self, task_id: str, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.task(task_id).json
            if data["status"] in AIV_FINAL:
                return data
            time.sleep(0.05)
        raise AssertionError(f"task {task_id} not final after {timeout}s")

    def credits(self) -> dict:
        answer = self.call("GET", "/v1/credits")
        assert answer.status == 200, answer.body
        return answer.json["data"]

    def configure(self, **knobs: object) -> Answer:
        return self.call("POST", "/_sim/config", knobs, key=None)

    def stats(self) -> dict:
        return self.call("GET", "/_sim/stats", key=None).json["data"]

    def tasks(self) -> list[dict]:
        return self.call("GET", "/_sim/tasks", key=None).json["data"]


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One video cache for the whole run, so each distinct clip is encoded once."""
    return tmp_path_factory.mktemp("simulator-media")


@pytest.fixture
def make_sim(media_dir: Path) -> Iterator[Callable[..., SimClient]]:
    """Start simulators with given knobs (fast time, HTTP callbacks allowed); stop them after."""
    servers: list[SimulatorServer] = []

    def start(**knobs: object) -> SimClient:
        settings = {
            "api_key": API_KEY,
            "time_scale": 0.01,
            "allow_http_callbacks": True,
            "media_dir": str(media_dir),
        }
        server, base_url = start_in_thread(SimulatorConfig(**(settings | knobs)))
        servers.append(server)
        return SimClient(server, base_url)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sim(make_sim: Callable[..., SimClient]) -> SimClient:
    """A simulator with the test defaults."""
    return make_sim()


@pytest.fixture
def make_aiv(media_dir: Path) -> Iterator[Callable[..., AivClient]]:
    """Start simulators with given aivideoapi.ai knobs (fast time, HTTP callbacks allowed) and
    the APIXO test defaults; stop them after."""
    servers: list[SimulatorServer] = []

    def start(**knobs: object) -> AivClient:
        common = {"time_scale": 0.01, "allow_http_callbacks": True, "media_dir": str(media_dir)}
        apixo = SimulatorConfig(api_key=API_KEY, **common)
        aivideoapi = AivideoapiConfig(**({"api_key": AIV_KEY} | common | knobs))
        server, base_url = start_in_thread(apixo, aivideoapi_config=aivideoapi)
        servers.append(server)
        return AivClient(server, base_url)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def aiv(make_aiv: Callable[..., AivClient]) -> AivClient:
    """A simulator whose aivideoapi.ai part has the test defaults."""
    return make_aiv()


@dataclass
class Received:
    """A request that reached a :class:`LocalServer`."""

    at: float
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class LocalServer:
    """A tiny HTTP server: serves fixed GET routes and records POSTs (webhook receiver).

    A GET route with a 3xx status redirects to the URL given as its body.
    POSTs are answered after ``post_delay_s`` with ``post_statuses`` in order, then 200.
    """

    routes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    post_statuses: list[int] = field(default_factory=list)
    post_delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    base_url: str = ""

    def url(self, path: str) -> str:
        return self.base_url + path

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.received)


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    """Serve input files and receive callbacks on a free local port."""
    state = LocalServer()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = state.routes.get(self.path, (404, b"not found"))
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", body.decode())
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                status = state.post_statuses.pop(0) if state.post_statuses else 200
                state.received.append(
                    Received(time.time(), self.path, body, dict(self.headers.items()))
                )
            time.sleep(state.post_delay_s)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
