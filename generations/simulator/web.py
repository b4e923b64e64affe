"""HTTP plumbing shared by both providers: answers, request bodies and file serving.

Nothing here knows a provider's wire format except :func:`envelope`, the APIXO envelope, which
is also the shape of every ``/_sim`` control answer (of either provider).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_BODY_BYTES = 1024 * 1024
# An oversized body is read and dropped up to this size before the 400 goes out, so the
# client is not cut off mid-send (a broken pipe instead of the answer).
DRAIN_MAX_BYTES = 16 * 1024 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CHUNK = 256 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class DropConnection(Exception):
    """Make the bundled server close the connection without an answer (see server.py)."""


class BodyError(ValueError):
    """The request body cannot be read (bad ``Content-Length`` or too large)."""


@dataclass
class Response:
    """Status, headers and body of one answer."""

    status: int
    body: Iterable[bytes] = ()
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, payload: object) -> Response:
    """Return ``payload`` as a JSON answer with ``status``."""
    body = json.dumps(payload).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return Response(status, [body], headers)


def envelope(status: int, message: str, data: object = None) -> Response:
    """Return the APIXO envelope with ``code`` equal to the HTTP status."""
    return json_response(status, {"code": status, "message": message, "data": data})


MAINTENANCE_HTML = (
    b"<!doctype html><html><head><title>Maintenance</title></head>"
    b"<body><h1>We'll be back soon</h1><p>Scheduled maintenance in progress.</p></body></html>"
)


def maintenance_page(*, redirect: bool) -> Response:
    """Return what a proxy in front of the provider sends during maintenance: the HTML page
    with status 200, or a 302 to it (config ``rate_unreadable``)."""
    if redirect:
        return Response(302, [b""], [("Location", "/maintenance"), ("Content-Length", "0")])
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(MAINTENANCE_HTML))),
    ]
    return Response(200, [MAINTENANCE_HTML], headers)


def invalid(detail: str) -> Response:
    """Return APIXO's 400 with a detail (docs/providers/apixo.md "Envelope and states"); also
    /_sim's."""
    return envelope(400, "Invalid request", {"error": detail})


def read_body(environ: dict) -> bytes:
    """Return the request body; raise BodyError for a bad length or a body over 1 MB."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BodyError("Invalid Content-Length") from None
    if length > MAX_BODY_BYTES:
        _drain(environ["wsgi.input"], min(length, DRAIN_MAX_BYTES))
        raise BodyError("Request body too large")
    return environ["wsgi.input"].read(length) if length > 0 else b""


def own_base_url(environ: dict) -> str:
    """Return ``scheme://host[:port]`` as the client addressed this server."""
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ['wsgi.url_scheme']}://{host}"


def file_response(environ: dict, path: Path) -> Response:
    """Serve an MP4 for GET or HEAD, honouring a single ``Range`` (RFC 9110 14.2)."""
    size = path.stat().st_size
    headers = [("Content-Type", "video/mp4"), ("Accept-Ranges", "bytes")]
    byte_range = parse_range(environ.get("HTTP_RANGE"), size)
    if byte_range == "unsatisfiable":
        headers += [("Content-Range", f"bytes */{size}"), ("Content-Length", "0")]
        return Response(416, [], headers)
    status, (start, end) = (200, (0, size - 1)) if byte_range is None else (206, byte_range)
    if status == 206:
        headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
    headers.append(("Content-Length", str(end - start + 1)))
    if environ["REQUEST_METHOD"] == "HEAD":
        return Response(status, [], headers)
    return Response(status, _read_span(path, start, end), headers)


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
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


def _drain(stream, length: int) -> None:
    """Read and discard ``length`` bytes of ``stream`` (or until it ends)."""
    while length > 0 and (chunk := stream.read(min(_CHUNK, length))):
        length -= len(chunk)
