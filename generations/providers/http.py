"""The one outbound-HTTP wrapper: no other module in the project imports ``requests``.

Two entry points, both with mandatory time limits and typed errors (docs/style.md practice 7,
after healthchecks ``hc/lib/curl.py``):

* :func:`request_json` for provider API calls. It never retries: the task layer decides,
  using :func:`backoff_delay` and ``errors.is_retryable``.
* :func:`download_to_file` for result videos and user-given URLs, guarded against requests
  to internal addresses, oversize bodies, slow bodies and wrong content.

Sessions ignore the environment (``trust_env = False``): no proxy variables, no ``.netrc``
credentials replacing the ``Authorization`` header, and no proxy that would connect to an
address the download guard never saw.
"""

from __future__ import annotations

import functools
import json as jsonlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urljoin

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from .addresses import Target, resolve_target
from .errors import (
    DownloadError,
    DownloadReason,
    DownloadRefused,
    ProviderConnectionError,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderResponseError,
)
from .media import SNIFF_BYTES, sniff_media

logger = logging.getLogger(__name__)

USER_AGENT = "SeedanceStudio/1.0"
JSON_MAX_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
_CHUNK_BYTES = 64 * 1024
_DOWNLOAD_CONNECT_TIMEOUT_S = 10.0
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Errors urllib3 raises while a streamed body is read (requests does not wrap raw reads).
_BODY_READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)
# Raised before anything is sent: a bad URL or header (configuration), or no connection.
_CONFIGURATION_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
)
_CONNECT_ERRORS = (
    requests.exceptions.ConnectTimeout,
    requests.exceptions.SSLError,
    requests.exceptions.ProxyError,
)

# One API session per process and thread: pooled sockets must not cross a fork (the task
# cluster forks its workers) and a Session is not documented as thread-safe.
_local = threading.local()


def new_session() -> requests.Session:
    """Return a session without retries, environment settings or redirects of its own."""
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = USER_AGENT
    adapter = HTTPAdapter(max_retries=0)  # retry policy belongs to the caller
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def api_session() -> requests.Session:
    """Return this process and thread's API session (kept to reuse provider connections)."""
    pid, session = getattr(_local, "owner", (None, None))
    if session is None or pid != os.getpid():
        session = new_session()
        _local.owner = (os.getpid(), session)
    return session


def backoff_delay(
    attempt: int,
    *,
    base: float = 2.0,
    cap: float = 300.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Return a delay in seconds before retry number ``attempt``, with full jitter.

    The delay is uniform in ``[0, min(cap, base * 2 ** attempt))`` ("full jitter"), as
    docs/providers/apixo.md "HTTP errors" asks for 429 and 5xx: exponential backoff with jitter.

    Args:
        attempt: how many attempts have failed so far, minus one (0 for the first retry).
        base: seconds; the ceiling of the first delay.
        cap: seconds; the largest ceiling.
        rand: a source of floats in ``[0, 1)``, for tests.

    Raises:
        ValueError: ``attempt`` is negative.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, not {attempt}")
    ceiling = min(cap, base * 2 ** min(attempt, 64))
    return ceiling * rand()


# Called after every request_json with (method, url, outcome), e.g. by /metrics (issue #13):
# outcome is "2xx", "3xx", "4xx", "429", "5xx" or the error's kind. An observer never raises.
REQUEST_OBSERVERS: list[Callable[[str, str, str], None]] = []


def _observed(send: Callable[..., tuple[int, Any]]) -> Callable[..., tuple[int, Any]]:
    """Wrap ``request_json`` so that each of its requests is reported to REQUEST_OBSERVERS."""

    @functools.wraps(send)
    def wrapper(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        outcome = "error"
        try:
            status, body = send(method, url, **kwargs)
            outcome = "429" if status == 429 else f"{status // 100}xx"
            return status, body
        except ProviderConnectionError:
            outcome = "connection_error"
            raise
        except ProviderOutcomeUnknown:
            outcome = "outcome_unknown"
            raise
        except ProviderResponseError:
            outcome = "bad_response"
            raise
        finally:
            for observer in REQUEST_OBSERVERS:
                try:
                    observer(method, url, outcome)
                except Exception:
                    logger.exception("Request observer %r failed", observer)

    return wrapper


@_observed
def request_json(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    json: Any = None,
    params: Mapping[str, str] | None = None,
    connect_timeout: float,
    read_timeout: float,
    total_timeout: float | None = None,
    max_bytes: int = JSON_MAX_BYTES,
) -> tuple[int, Any]:
    """Send one request and return ``(http_status, parsed_json_body)``; never retry.

    Redirects are not followed (a 3xx comes back as its status). The body must arrive within
    ``read_timeout`` seconds after the headers, besides each read waiting at most that long.

    Args:
        method: ``GET`` or ``POST``.
        url: absolute URL.
        headers: request headers (e.g. ``Authorization``); ``json`` sets ``Content-Type``.
        json: a JSON-serialisable body, or None for no body. NaN and infinities are refused.
        params: query parameters.
        connect_timeout: seconds to establish the connection (TLS included).
        read_timeout: seconds to wait for the answer, and for its whole body.
        total_timeout: seconds for everything (connect, headers, body) when given: urllib3's
            ``Timeout(total=...)`` cuts the wait for the headers to what the connect left,
            and the body must arrive before the same deadline. Residual risk: headers that
            trickle in byte by byte may each wait up to that remainder.
        max_bytes: largest body accepted, in bytes.

    Returns:
        The HTTP status and the decoded JSON. For a non-2xx status whose body is not JSON,
        the body is None, so that the caller maps the status (e.g. an HTML 502 page).

    Raises:
        ProviderConnectionError: nothing was sent (DNS, refused, connect timeout, TLS).
        ProviderOutcomeUnknown: the request may have been received, but the answer was lost
            (read timeout, connection dropped or truncated).
        ProviderResponseError: a 2xx body that is not JSON, or a body over ``max_bytes``.
        ValueError, TypeError: bad timeouts or a body that is not JSON-serialisable.
    """
    if min(connect_timeout, read_timeout, 1.0 if total_timeout is None else total_timeout) <= 0:
        raise ValueError("timeouts must be positive numbers of seconds")
    timeout: Any = (connect_timeout, read_timeout)
    if total_timeout is not None:
        timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout, total=total_timeout)
    send_headers = dict(headers)
    data = None
    if json is not None:
        data = jsonlib.dumps(json, allow_nan=False, separators=(",", ":")).encode()
        send_headers["Content-Type"] = "application/json"
    started = time.monotonic()
    try:
        response = api_session().request(
            method,
            url,
            headers=send_headers,
            data=data,
            params=params,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as exc:
        raise _send_error(exc) from exc
    deadline = time.monotonic() + read_timeout
    if total_timeout is not None:
        deadline = min(deadline, started + total_timeout)
    with response:
        try:
            raw = b"".join(_read_body(response, max_bytes=max_bytes, deadline=deadline))
        except _BodyTooLarge as exc:
            raise ProviderResponseError(
                status=response.status_code, detail=f"body over {max_bytes} bytes"
            ) from exc
        except (_DeadlinePassed, *_BODY_READ_ERRORS) as exc:
            raise ProviderOutcomeUnknown(
                status=response.status_code, detail=f"body read failed: {exc!r}"
            ) from exc
    status = response.status_code
    logger.debug(
        "%s %s -> %s (%d bytes, %.2fs)", method, url, status, len(raw), time.monotonic() - started
    )
    try:
        return status, parse_json(raw)
    except ProviderResponseError as exc:
        if 200 <= status <= 299:
            exc.status = status
            raise
        return status, None


def parse_json(raw: bytes | str) -> Any:
    """Decode a JSON document strictly (no NaN or Infinity, no runaway nesting).

    Raises:
        ProviderResponseError: ``raw`` is not a JSON document.
    """
    try:
        return jsonlib.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise ProviderResponseError(detail=f"not JSON: {raw[:200]!r}") from exc


def _refuse_constant(name: str) -> Any:
    """Refuse the non-standard JSON constants ``NaN``, ``Infinity`` and ``-Infinity``."""
    raise ValueError(f"JSON constant {name} is not allowed")


def _send_error(exc: requests.RequestException) -> ProviderError:
    """Map an exception raised before the response headers arrived to a typed error.

    Whether anything reached the server decides between "connection failed" (safe to
    retry) and "outcome unknown" (a submit may have been received); when in doubt, unknown.
    TLS errors count as connection failures: they come from the handshake, before the
    request is written (urllib3 reports a rare TLS failure mid-answer the same way).
    """
    detail = repr(exc)
    if isinstance(exc, _CONFIGURATION_ERRORS):
        return ProviderConnectionError(
            "The video service address is misconfigured.",
            code="bad_configuration",
            retryable=False,
            alert_admin=True,
            detail=detail,
        )
    if isinstance(exc, _CONNECT_ERRORS):
        return ProviderConnectionError(detail=detail)
    if isinstance(exc, requests.exceptions.ConnectionError) and _failed_before_sending(exc):
        return ProviderConnectionError(detail=detail)
    return ProviderOutcomeUnknown(detail=detail)


def _failed_before_sending(exc: requests.exceptions.ConnectionError) -> bool:
    """Tell whether a ``ConnectionError`` happened while connecting (no byte sent).

    With retries off, urllib3 reports connect failures as ``MaxRetryError`` whose reason is
    a ``NewConnectionError`` (refused, DNS) or ``ConnectTimeoutError``; failures after the
    request went out arrive as ``ProtocolError`` (e.g. ``RemoteDisconnected``).
    """
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, urllib3.exceptions.MaxRetryError):
        return isinstance(cause.reason, urllib3.exceptions.ConnectTimeoutError)
    return isinstance(cause, urllib3.exceptions.ClosedPoolError)


class _BodyTooLarge(Exception):
    """The body went over its byte cap."""


class _DeadlinePassed(Exception):
    """The wall-clock limit ran out while reading."""


def _read_body(response: requests.Response, *, max_bytes: int, deadline: float) -> Iterator[bytes]:
    """Yield the decoded body in chunks, enforcing a byte cap and a wall-clock deadline.

    ``read1`` returns after at most one socket read, and the socket timeout is cut to the
    time left before each read, so a slow-drip body cannot outlast ``deadline``.

    Raises:
        _BodyTooLarge, _DeadlinePassed; and urllib3/OS errors from the socket.
    """
    raw = response.raw
    received = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _DeadlinePassed
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(remaining)
        chunk = raw.read1(_CHUNK_BYTES, decode_content=True)
        if not chunk:
            return
        received += len(chunk)
        if received > max_bytes:
            raise _BodyTooLarge
        yield chunk


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download_to_file` wrote.

    Attributes:
        content_type: the media type sniffed from the first bytes (e.g. ``video/mp4``).
        size_bytes: bytes written.
        final_url: the URL the body came from, after redirects.
    """

    content_type: str
    size_bytes: int
    final_url: str


class _PinnedAdapter(HTTPAdapter):
    """Connect to a vetted IP address while TLS still checks the original host name.

    The request URL carries the IP address; this adapter sends the host name as SNI and has
    the certificate verified against it (urllib3 ``server_hostname``).
    """

    def __init__(self, server_hostname: str) -> None:
        """Pin TLS (SNI and certificate check) to ``server_hostname``."""
        self._server_hostname = server_hostname
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        """Add ``server_hostname`` to the pool key of https requests."""
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self._server_hostname
        return host_params, pool_kwargs


def _download_session(target: Target) -> requests.Session:
    """Return a fresh session that sends ``target``'s host name over TLS."""
    session = new_session()
    session.mount("https://", _PinnedAdapter(target.host))
    return session


def download_to_file(
    url: str,
    fileobj: BinaryIO,
    *,
    max_bytes: int,
    timeout_total_s: float,
    allowed_content_types: tuple[str, ...],
    allow_loopback_hosts: frozenset[str] = frozenset(),
) -> DownloadResult:
    """Download ``url`` into ``fileobj`` under the docs/architecture.md "What must hold" guard.

    Every hop (the URL and each redirect, at most :data:`MAX_REDIRECTS`) must be http or
    https and resolve only to public addresses; the connection then goes to one of the
    addresses that were checked, so DNS rebinding cannot redirect it. The ``Content-Type``
    header and the sniffed first bytes must both be in ``allowed_content_types``.

    Residual risk: name resolution itself (``getaddrinfo``) cannot be interrupted, so a slow
    resolver may delay the start beyond ``timeout_total_s``.

    Args:
        url: absolute http(s) URL (user-given or from the provider's status answer).
        fileobj: binary file open for writing; on error it may hold a partial body, which
            the caller must discard.
        max_bytes: largest body accepted, in bytes (decoded, if the server compressed it).
        timeout_total_s: wall-clock limit in seconds for the whole download, redirects and a
            slow-drip body included.
        allowed_content_types: media types, e.g. ``media.VIDEO_CONTENT_TYPES``.
        allow_loopback_hosts: ``host:port`` strings or host names that may resolve to
            loopback, i.e. the configured simulator (``ProviderClient.download_allow_hosts``).

    Returns:
        A :class:`DownloadResult`.

    Raises:
        DownloadRefused: scheme, URL, address, size, content type or content refused, too
            many redirects, or a 4xx answer (not retryable).
        DownloadError: DNS, connection or TLS failure, total timeout, 429 or 5xx answer
            (retryable).
        ValueError: ``max_bytes`` or ``timeout_total_s`` not positive.
    """
    if max_bytes <= 0 or timeout_total_s <= 0:
        raise ValueError("max_bytes and timeout_total_s must be positive")
    deadline = time.monotonic() + timeout_total_s
    allowed = frozenset(t.lower() for t in allowed_content_types)
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        target = resolve_target(current, allow_loopback_hosts=allow_loopback_hosts)
        with _download_session(target) as session, _open(session, target, deadline) as response:
            if response.status_code in _REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise DownloadRefused(
                        "The server sent a redirect without a target.",
                        reason=DownloadReason.REDIRECTS,
                    )
                current = urljoin(current, location.strip())
                continue
            _check_response(response, allowed=allowed, max_bytes=max_bytes)
            content_type, size = _stream_to_file(
                response, fileobj, allowed=allowed, max_bytes=max_bytes, deadline=deadline
            )
            return DownloadResult(content_type=content_type, size_bytes=size, final_url=current)
    raise DownloadRefused("Too many redirects.", reason=DownloadReason.REDIRECTS)


def _open(session: requests.Session, target: Target, deadline: float) -> requests.Response:
    """Send the GET to the first vetted address that accepts a connection.

    Raises:
        DownloadError: no address accepted a connection, or the deadline passed.
    """
    headers = {"Host": target.host_header, "Accept-Encoding": "identity"}
    error: Exception | None = None
    for address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return session.get(
                target.url_for(address),
                headers=headers,
                timeout=(min(remaining, _DOWNLOAD_CONNECT_TIMEOUT_S), remaining),
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as exc:
            error = exc
            if not isinstance(_send_error(exc), ProviderConnectionError):
                break  # connected, then failed: another address will not help
    if error is None or isinstance(error, requests.exceptions.ReadTimeout):
        raise DownloadError(
            "The download took too long.", reason=DownloadReason.TIMEOUT, detail=repr(error)
        ) from error
    raise DownloadError(
        "The file's server could not be reached.",
        reason=DownloadReason.CONNECTION,
        detail=repr(error),
    ) from error


def _check_response(
    response: requests.Response, *, allowed: frozenset[str], max_bytes: int
) -> None:
    """Refuse an error status, a disallowed ``Content-Type`` or a declared oversize body.

    Raises:
        DownloadError: 429 or 5xx (retryable).
        DownloadRefused: any other non-2xx status, content type or declared size refused.
    """
    status = response.status_code
    if not 200 <= status <= 299:
        cls = DownloadError if status == 429 or status >= 500 else DownloadRefused
        raise cls(
            f"The file's server answered with HTTP {status}.",
            reason=DownloadReason.STATUS,
            status=status,
        )
    media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media_type not in allowed:
        raise DownloadRefused(
            "The file is not of an allowed type.",
            reason=DownloadReason.CONTENT_TYPE,
            status=status,
            detail=f"Content-Type {media_type!r}",
        )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise DownloadRefused(
            "The file is too large.", reason=DownloadReason.SIZE, status=status, detail=declared
        )


def _stream_to_file(
    response: requests.Response,
    fileobj: BinaryIO,
    *,
    allowed: frozenset[str],
    max_bytes: int,
    deadline: float,
) -> tuple[str, int]:
    """Copy the body into ``fileobj`` once its first bytes are a known, allowed media type.

    Returns:
        The sniffed media type and the number of bytes written.

    Raises:
        DownloadRefused: content or size refused. DownloadError: timeout or broken transfer.
        OSError: writing to ``fileobj`` failed (a local problem, not the download's).
    """
    head = b""
    content_type = ""
    size = 0
    for chunk in _download_chunks(response, max_bytes=max_bytes, deadline=deadline):
        if not content_type:
            head += chunk
            if len(head) < SNIFF_BYTES:
                continue
            content_type = _sniff_allowed(head, allowed)
            chunk, head = head, b""
        fileobj.write(chunk)
        size += len(chunk)
    if not content_type:  # a body shorter than SNIFF_BYTES
        content_type = _sniff_allowed(head, allowed)
        fileobj.write(head)
        size += len(head)
    return content_type, size


def _download_chunks(
    response: requests.Response, *, max_bytes: int, deadline: float
) -> Iterator[bytes]:
    """Yield the body like :func:`_read_body`, turning its failures into download errors.

    Raises:
        DownloadRefused: over ``max_bytes`` (reason ``SIZE``).
        DownloadError: deadline passed (``TIMEOUT``) or transfer broken (``CONNECTION``).
    """
    try:
        yield from _read_body(response, max_bytes=max_bytes, deadline=deadline)
    except _BodyTooLarge as exc:
        raise DownloadRefused("The file is too large.", reason=DownloadReason.SIZE) from exc
    except _DeadlinePassed as exc:
        raise DownloadError("The download took too long.", reason=DownloadReason.TIMEOUT) from exc
    except _BODY_READ_ERRORS as exc:
        raise DownloadError(
            "The download was interrupted.", reason=DownloadReason.CONNECTION, detail=repr(exc)
        ) from exc


def _sniff_allowed(head: bytes, allowed: frozenset[str]) -> str:
    """Return the media type ``head`` starts with, if allowed.

    Raises:
        DownloadRefused: unknown or disallowed content (reason ``CONTENT``).
    """
    sniffed = sniff_media(head)
    if sniffed is None or sniffed not in allowed:
        raise DownloadRefused(
            "The file's content is not of an allowed type.",
            reason=DownloadReason.CONTENT,
            detail=f"starts with {head[:16]!r}",
        )
    return sniffed


@dataclass(frozen=True)
class PostResult:
    """What :func:`post_guarded` got back: the status and the first bytes of the body."""

    status: int
    body_head: bytes


def post_guarded(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    timeout_total_s: float,
    allow_loopback_hosts: frozenset[str] = frozenset(),
    max_answer_bytes: int = 4096,
) -> PostResult:
    """POST ``body`` to a user-given ``url`` under the download guard; never retry.

    For outbound webhooks (docs/api.md "Webhooks"): the URL must be http(s) and resolve only
    to public addresses (``resolve_target``; ``allow_loopback_hosts`` for tests), and the
    connection goes to a vetted address. Redirects are not followed (a 3xx is the answer).
    At most ``max_answer_bytes`` of the answer are read.

    Args:
        url: absolute http(s) URL.
        body: the bytes to send (e.g. JSON).
        headers: request headers (``Content-Type``, signatures).
        timeout_total_s: wall-clock seconds for connecting, sending and the answer.
        allow_loopback_hosts: host names or ``host:port`` that may be loopback addresses.
        max_answer_bytes: bytes of the answer kept in ``body_head``.

    Raises:
        DownloadRefused: scheme, URL or address refused (not retryable for this URL).
        DownloadError: DNS, connection or TLS failure, or the time limit (retryable).
        ValueError: ``timeout_total_s`` not positive.
    """
    if timeout_total_s <= 0:
        raise ValueError("timeout_total_s must be positive")
    deadline = time.monotonic() + timeout_total_s
    target = resolve_target(url, allow_loopback_hosts=allow_loopback_hosts)
    sent_headers = {**headers, "Host": target.host_header, "Accept-Encoding": "identity"}
    error: Exception | None = None
    with _download_session(target) as session:
        for address in target.addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                response = session.post(
                    target.url_for(address),
                    data=body,
                    headers=sent_headers,
                    timeout=(min(remaining, _DOWNLOAD_CONNECT_TIMEOUT_S), remaining),
                    allow_redirects=False,
                    stream=True,
                )
            except requests.RequestException as exc:
                error = exc
                if not isinstance(_send_error(exc), ProviderConnectionError):
                    break  # connected, then failed: another address will not help
                continue
            with response:
                head = b""
                try:
                    for chunk in _read_body(response, max_bytes=1 << 62, deadline=deadline):
                        head += chunk
                        if len(head) >= max_answer_bytes:
                            break
                except _DeadlinePassed as exc:
                    raise DownloadError(
                        "The endpoint took too long to answer.", reason=DownloadReason.TIMEOUT
                    ) from exc
                except _BODY_READ_ERRORS:
                    pass  # the status is what counts; a broken answer body is not
                return PostResult(status=response.status_code, body_head=head[:max_answer_bytes])
    if error is None or isinstance(error, requests.exceptions.ReadTimeout):
        raise DownloadError(
            "The endpoint took too long to answer.",
            reason=DownloadReason.TIMEOUT,
            detail=repr(error),
        ) from error
    raise DownloadError(
        "The endpoint could not be reached.", reason=DownloadReason.CONNECTION, detail=repr(error)
    ) from error
