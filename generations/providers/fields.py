"""Checks and field readers that every provider client shares.

Two kinds of helper live here:

* request-side checks (``check_*``) raise ``ValueError``: a value the provider docs do not
  allow is a programming error, which the forms should have caught;
* answer-side readers (``optional_*``, :func:`load_json_body`) raise only
  ``ProviderResponseError``: a provider answer that does not fit its documented shape.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from .errors import ProviderResponseError
from .http import JSON_MAX_BYTES, parse_json

MAX_TASK_ID_CHARS = 255
MAX_URL_CHARS = 4096
MAX_FAIL_MESSAGE_CHARS = 1000
GENERIC_FAIL_MESSAGE = "The video service could not generate this video."


# --- Configuration -------------------------------------------------------------------------


def check_client_config(
    provider: str, base_url: str, api_key: str, *, connect_timeout: float, read_timeout: float
) -> str:
    """Check the settings every client takes; return ``base_url`` without a trailing slash.

    Args:
        provider: the provider's display name, for the error messages (e.g. ``APIXO``).
        base_url: an absolute http(s) URL with a host.
        api_key: the key, sent as ``Authorization: Bearer <key>``: non-empty, no whitespace.
        connect_timeout, read_timeout: seconds, positive.

    Raises:
        ValueError: any argument out of its domain (a configuration error).
    """
    parts = urlsplit(base_url) if isinstance(base_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{provider} base URL must be an http(s) URL, not {base_url!r}")
    if (
        not isinstance(api_key, str)
        or not api_key
        or api_key != api_key.strip()
        or any(c.isspace() for c in api_key)
    ):
        raise ValueError(f"{provider} API key must be a non-empty string without whitespace")
    if connect_timeout <= 0 or read_timeout <= 0:
        raise ValueError(f"{provider} timeouts must be positive numbers of seconds")
    return base_url.rstrip("/")


def loopback_hosts(base_url: str) -> frozenset[str]:
    """Return ``{"host:port"}`` when ``base_url``'s host is a loopback address, else nothing.

    A loopback base URL is the local simulator (docs/architecture.md "Provider simulator"), whose
    result URLs the downloader must be allowed to fetch; it is also the only place where
    ``http://`` callback URLs are allowed.
    """
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return frozenset()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return frozenset({f"[{host}]:{port}" if ":" in host else f"{host}:{port}"})


# --- Request values ------------------------------------------------------------------------


def check_url(url: Any, field: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str:
    """Return ``url`` if it is an absolute URL with one of ``schemes``.

    Raises:
        ValueError: not such a URL (``field`` names it in the message).
    """
    if not is_http_url(url) or urlsplit(url).scheme not in schemes:
        raise ValueError(f"{field} must be {'/'.join(schemes)} URLs, not {url!r:.100}")
    return url


def check_prompt(prompt: Any, chars: tuple[int, int]) -> str:
    """Return ``prompt`` trimmed if it has ``chars[0]``-``chars[1]`` characters after trimming.

    Raises:
        ValueError: not a string, or too short or too long once trimmed.
    """
    if not isinstance(prompt, str):
        raise ValueError("prompt must be a string")
    low, high = chars
    trimmed = prompt.strip()
    if not low <= len(trimmed) <= high:
        raise ValueError(f"prompt must have {low}-{high} characters after trimming")
    return trimmed


def check_int(value: Any, field: str, bounds: tuple[int, int]) -> int:
    """Return ``value`` if it is an int (not a bool) within ``bounds``, both ends included.

    Raises:
        ValueError: another type, or out of range.
    """
    low, high = bounds
    if not is_int(value) or not low <= value <= high:
        raise ValueError(f"{field} must be an integer from {low} to {high}")
    return value


def check_bool(value: Any, field: str) -> bool:
    """Return ``value`` if it is a bool (1 and "yes" are not).

    Raises:
        ValueError: another type.
    """
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be a boolean")
    return value


# --- Answer values -------------------------------------------------------------------------


def is_http_url(value: Any) -> bool:
    """Tell whether ``value`` is a string holding an absolute http(s) URL with a host."""
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS or value != value.strip():
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def is_int(value: Any) -> bool:
    """Tell whether ``value`` is an int and not a bool (JSON true is not 1 here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_task_id(value: Any) -> bool:
    """Tell whether ``value`` looks like a task id: a short non-blank printable string."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_TASK_ID_CHARS
        and value == value.strip()
        and value.isprintable()
    )


def optional_int(data: dict, key: str) -> int | None:
    """Return ``data[key]`` if it is an int, None if absent or null.

    Raises:
        ProviderResponseError: present with another type (a bool included).
    """
    value = data.get(key)
    if value is None or is_int(value):
        return value
    raise ProviderResponseError(detail=f"{key} is not an integer: {value!r:.100}")


def optional_str(data: dict, key: str) -> str:
    """Return ``data[key]`` stripped if it is a string, "" if absent or null.

    Raises:
        ProviderResponseError: present with another type.
    """
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    raise ProviderResponseError(detail=f"{key} is not a string: {value!r:.100}")


def optional_object(data: dict, key: str) -> dict | None:
    """Return ``data[key]`` if it is a JSON object, None if absent or null.

    Raises:
        ProviderResponseError: present with another type.
    """
    value = data.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise ProviderResponseError(detail=f"{key} is not an object: {value!r:.100}")


def http_urls(value: Any, field: str) -> tuple[str, ...]:
    """Return ``value`` as a tuple if it is a non-empty list of absolute http(s) URLs.

    Raises:
        ProviderResponseError: not a list, empty, or an item that is not such a URL.
    """
    if not isinstance(value, list) or not value:
        raise ProviderResponseError(detail=f"{field} is not a non-empty list: {value!r:.200}")
    for url in value:
        if not is_http_url(url):
            raise ProviderResponseError(detail=f"{field} item is not http(s): {url!r:.200}")
    return tuple(value)


def load_json_body(body: bytes, *, what: str = "callback body") -> Any:
    """Decode a raw request body (a webhook's) as strict JSON, at most ``JSON_MAX_BYTES``.

    Raises:
        ProviderResponseError: too large or not JSON.
    """
    if len(body) > JSON_MAX_BYTES:
        raise ProviderResponseError(detail=f"{what} over {JSON_MAX_BYTES} bytes")
    return parse_json(bytes(body))


def task_id_and_state(
    data: Any,
    *,
    id_key: str,
    state_key: str,
    states: dict[str, str],
    expected_task_id: str | None,
) -> tuple[str, str, str]:
    """Return ``(task_id, raw_state, state)`` of a provider's task object.

    Both providers' task objects name their id and state (APIXO ``taskId``/``state``,
    docs/providers/apixo.md "Status response fields"; aivideoapi.ai ``id``/``status``,
    docs/providers/aivideoapi.md "Query Task"); a state missing from ``states`` (raw, lower-cased ->
    ours) is ``unknown``: still running until a deadline
    (docs/providers/apixo.md "Envelope and states").

    Raises:
        ProviderResponseError: not an object, no valid id, another id than
            ``expected_task_id`` (when given), or no state.
    """
    if not isinstance(data, dict):
        raise ProviderResponseError(detail=f"task is not an object: {data!r:.200}")
    task_id = data.get(id_key)
    if not is_task_id(task_id):
        raise ProviderResponseError(detail=f"task without a valid {id_key}: {task_id!r:.100}")
    if expected_task_id is not None and task_id != expected_task_id:
        raise ProviderResponseError(detail=f"asked for {expected_task_id}, got {task_id!r:.100}")
    raw_state = data.get(state_key)
    if not isinstance(raw_state, str) or not raw_state.strip():
        raise ProviderResponseError(detail=f"task {task_id} without a {state_key}")
    return task_id, raw_state, states.get(raw_state.strip().lower(), "unknown")
