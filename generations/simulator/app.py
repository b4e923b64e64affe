"""The simulator as a WSGI application: the APIXO HTTP contract plus control endpoints.

URL layout:

- ``POST /api/v1/generateTask/<model>`` and ``GET /api/v1/statusTask/<model>?taskId=`` for
  ``seedance-1-5-pro`` and ``seedance-1-5-pro-extend`` (001 / 000 "Endpoint and authentication");
- ``GET /api/v1/apikeys/current-balance`` (CONTRACT.md "Other endpoints and facts");
- ``GET|HEAD /files/<taskId>.mp4``: result videos, with single-range support;
- ``GET /samples/<name>``: sample input images and a clip (``samples.py``; not APIXO);
- ``GET|POST /_sim/config``, ``POST /_sim/reset``, ``GET /_sim/tasks``, ``GET /_sim/stats``:
  test and benchmark controls, without authentication.

Every ``/api/v1`` answer is the envelope ``{"code": <HTTP status>, "message", "data"}``
(CONTRACT.md "Envelope and states").
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qs

from . import samples
from .config import ConfigError, SimulatorConfig
from .lifecycle import Engine, planned_failure
from .store import (
    ConcurrencyLimitError,
    Dice,
    InsufficientBalanceError,
    RequestLog,
    Task,
    TaskStore,
)
from .validation import MODELS, RequestError, decode_body, parse_submit

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1/"
MAX_BODY_BYTES = 1024 * 1024
_FILE_PATH = re.compile(r"/files/(task_[0-9a-f]{32})\.mp4")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CHUNK = 256 * 1024
# CONTRACT.md "HTTP errors": the retryable server-side statuses.
SERVER_ERRORS = {
    500: "Internal server error",
    502: "Upstream error",
    503: "Service unavailable",
    504: "Upstream timeout",
}

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class DropConnection(Exception):
    """Make the bundled server close the connection without an answer (see server.py)."""


@dataclass
class Response:
    """Status, headers and body of one answer."""

    status: int
    body: Iterable[bytes] = ()
    headers: list[tuple[str, str]] = field(default_factory=list)


def envelope(status: int, message: str, data: object = None) -> Response:
    """Return the APIXO envelope with ``code`` equal to the HTTP status."""
    body = json.dumps({"code": status, "message": message, "data": data}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return Response(status, [body], headers)


def invalid(detail: str) -> Response:
    """Return a 400 with the documented detail shape (CONTRACT.md "Envelope and states")."""
    return envelope(400, "Invalid request", {"error": detail})


class SimulatorApp:
    """WSGI application simulating the APIXO task API for one account and key."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.initial_config = config
        self.config = config
        self.store = TaskStore(config.balance_usd)
        self.requests = RequestLog()
        self.dice = Dice(config.seed)
        self.engine = Engine(self.store, lambda: self.config)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request; raise DropConnection when a dropped answer is injected."""
        path = environ.get("PATH_INFO", "")
        try:
            if path.startswith(API_PREFIX):
                response = self._api(environ, path)
                self.requests.record(_endpoint(path), str(response.status))
            elif path.startswith("/files/"):
                response = self._file(environ, path)
                self.requests.record("files", str(response.status))
            elif path.startswith("/_sim/"):
                response = self._control(environ, path)
            elif path.startswith("/samples/"):
                response = self._sample(path)
            else:
                response = envelope(404, "Not found")
        except DropConnection:
            self.requests.record(_endpoint(path), "dropped")
            raise
        except Exception:
            logger.exception("Simulator failed on %s", path)
            response = envelope(500, SERVER_ERRORS[500])
        start_response(f"{response.status} {HTTPStatus(response.status).phrase}", response.headers)
        return response.body

    def close(self) -> None:
        """Stop background work."""
        self.engine.stop()

    # --- /api/v1 ---------------------------------------------------------------------------

    def _api(self, environ: dict, path: str) -> Response:
        """Apply latency, auth, rate limits and injected faults, then route (CONTRACT.md)."""
        config = self.config
        self.requests.arrive(time.time())
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000)
        given = environ.get("HTTP_AUTHORIZATION", "").encode()
        if not hmac.compare_digest(given, f"Bearer {config.api_key}".encode()):
            return envelope(401, "Invalid or missing API key")
        if not self.requests.admit(time.time(), config.requests_per_minute):
            return envelope(429, "Rate limit exceeded")
        if self.dice.chance(config.rate_429):
            return envelope(429, "Rate limit exceeded")
        if self.dice.chance(config.rate_5xx):
            status = self.dice.choice(tuple(SERVER_ERRORS))
            return envelope(status, SERVER_ERRORS[status])

        method = environ["REQUEST_METHOD"]
        route = path[len(API_PREFIX) :]
        if route == "apikeys/current-balance":
            return self._balance() if method == "GET" else _not_allowed()
        kind, _, model = route.partition("/")
        if kind not in ("generateTask", "statusTask") or not model:
            return envelope(404, "Not found")
        if model not in MODELS:
            return envelope(404, f"Model not found: {model}")
        if kind == "generateTask":
            return self._submit(environ, model) if method == "POST" else _not_allowed()
        return self._status(environ, model) if method == "GET" else _not_allowed()

    def _submit(self, environ: dict, model: str) -> Response:
        """Validate, admit and start a task (001 "Request body", 004 "Rate Limits")."""
        config = self.config
        try:
            body = decode_body(_read_body(environ))
            spec = parse_submit(model, body, allow_http_callbacks=config.allow_http_callbacks)
        except RequestError as exc:
            return invalid(exc.detail)
        now = time.time()
        pending_until, due_at = self.engine.timing(spec, now)
        task = Task(
            task_id=f"task_{uuid.uuid4().hex}",
            spec=spec,
            request_body=body,
            base_url=config.public_base_url.rstrip("/") or _own_base_url(environ),
            created_at=now,
            pending_until=pending_until,
            due_at=due_at,
            planned_failure=planned_failure(spec, self.dice, config.fail_rate),
            duplicate_callback=self.dice.chance(config.callback_duplicate_rate),
            drop_callback=self.dice.chance(config.callback_drop_rate),
        )
        try:
            self.store.admit(task, max_active=config.max_concurrent_tasks)
        except ConcurrencyLimitError:
            return envelope(429, "Concurrent task limit exceeded")
        except InsufficientBalanceError:
            return envelope(402, "Insufficient balance")
        self.engine.start(task)
        if self.dice.chance(config.drop_after_submit_rate):
            raise DropConnection
        return envelope(200, "success", {"taskId": task.task_id})

    def _status(self, environ: dict, model: str) -> Response:
        """Answer statusTask for a task of ``model`` (001 "Poll for result")."""
        query = parse_qs(environ.get("QUERY_STRING", ""))
        task_id = (query.get("taskId") or [""])[0]
        if not task_id:
            return invalid("Missing required parameter: taskId")
        data = self.store.poll(task_id, model, time.time())
        if data is None:
            return envelope(404, "Task not found")
        return envelope(200, "success", data)

    def _balance(self) -> Response:
        """Answer the remaining balance in USD (CONTRACT.md "Other endpoints and facts")."""
        return envelope(200, "success", float(self.store.balance_usd))

    # --- /files ----------------------------------------------------------------------------

    def _file(self, environ: dict, path: str) -> Response:
        """Serve a successful task's video, honouring a single ``Range`` (RFC 9110 14.2)."""
        match = _FILE_PATH.fullmatch(path)
        task = self.store.get(match.group(1)) if match else None
        if task is None or task.final_state != "success" or task.result_path is None:
            return envelope(404, "File not found")
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            return _not_allowed()
        size = task.result_path.stat().st_size
        headers = [("Content-Type", "video/mp4"), ("Accept-Ranges", "bytes")]
        byte_range = _parse_range(environ.get("HTTP_RANGE"), size)
        if byte_range == "unsatisfiable":
            headers += [("Content-Range", f"bytes */{size}"), ("Content-Length", "0")]
            return Response(416, [], headers)
        status, (start, end) = (200, (0, size - 1)) if byte_range is None else (206, byte_range)
        if status == 206:
            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        headers.append(("Content-Length", str(end - start + 1)))
        if environ["REQUEST_METHOD"] == "HEAD":
            return Response(status, [], headers)
        return Response(status, _read_span(task.result_path, start, end), headers)

    def _sample(self, path: str) -> Response:
        """Serve a sample input (``samples.py``), or 404."""
        found = samples.sample(path.removeprefix("/samples/"), self.config.media_path / "samples")
        if found is None:
            return envelope(404, "File not found")
        content, content_type = found
        headers = [("Content-Type", content_type), ("Content-Length", str(len(content)))]
        return Response(200, [content], headers)

    # --- /_sim -----------------------------------------------------------------------------

    def _control(self, environ: dict, path: str) -> Response:
        """Serve the test controls (not part of APIXO; no authentication)."""
        method, now = environ["REQUEST_METHOD"], time.time()
        if path == "/_sim/config" and method == "GET":
            return envelope(200, "success", self.config.as_dict())
        if path == "/_sim/config" and method == "POST":
            return self._update_config(environ)
        if path == "/_sim/reset" and method == "POST":
            self.config = self.initial_config
            self.store.clear(self.config.balance_usd)
            self.requests.clear()
            self.dice.reseed(self.config.seed)
            return envelope(200, "success", self.config.as_dict())
        if path == "/_sim/tasks" and method == "GET":
            return envelope(200, "success", self.store.describe(now))
        if path == "/_sim/stats" and method == "GET":
            return envelope(200, "success", self.requests.snapshot() | self.store.counts(now))
        return envelope(404, "Not found")

    def _update_config(self, environ: dict) -> Response:
        """Merge a JSON object into the live config; apply balance and seed at once."""
        try:
            changes = decode_body(_read_body(environ))
            self.config = self.config.merged(changes)
        except (RequestError, ConfigError) as exc:
            return invalid(getattr(exc, "detail", str(exc)))
        if "balance_usd" in changes:
            self.store.set_balance(self.config.balance_usd)
        if "seed" in changes:
            self.dice.reseed(self.config.seed)
        return envelope(200, "success", self.config.as_dict())


def _not_allowed() -> Response:
    return envelope(405, "Method not allowed")


def _endpoint(path: str) -> str:
    """Name the endpoint a path belongs to, for the request counters."""
    route = path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path
    kind = route.split("/", 1)[0]
    if kind in ("generateTask", "statusTask"):
        return kind
    return "current-balance" if route == "apikeys/current-balance" else "other"


def _read_body(environ: dict) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise RequestError("Invalid Content-Length") from None
    if length > MAX_BODY_BYTES:
        raise RequestError("Request body too large")
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _own_base_url(environ: dict) -> str:
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ['wsgi.url_scheme']}://{host}"


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """Return an inclusive (start, end), "unsatisfiable", or None to send the whole file.

    Multiple or malformed ranges are ignored, which RFC 9110 allows.
    """
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # suffix range: the last N bytes
        length = int(last)
        return (max(0, size - length), size - 1) if length and size else "unsatisfiable"
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None
    return (start, end) if start < size else "unsatisfiable"


def _read_span(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = end - start + 1
        while remaining > 0 and (chunk := handle.read(min(_CHUNK, remaining))):
            remaining -= len(chunk)
            yield chunk
