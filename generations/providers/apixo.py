"""APIXO client for Seedance 1.5 Pro (``seedance-1-5-pro``, ``seedance-1-5-pro-extend``).

Sources, cited in each docstring: the sections of ``docs/providers/apixo.md``, which restates
APIXO's seedance-1-5-pro page, its extend page, its reference page (with the ``provider`` routing
field) and its general pages. The same code talks to the local simulator; only the base URL differs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .base import GenerationRequest, TaskStatus
from .errors import ProviderError, ProviderResponseError, ProviderTaskNotFound, error_for_status
from .fields import (
    GENERIC_FAIL_MESSAGE,
    MAX_FAIL_MESSAGE_CHARS,
    check_bool,
    check_client_config,
    check_int,
    check_prompt,
    check_url,
    http_urls,
    is_int,
    is_task_id,
    load_json_body,
    loopback_hosts,
    optional_int,
    optional_str,
    task_id_and_state,
)
from .http import parse_json, request_json

MODEL_PRO = "seedance-1-5-pro"
MODEL_EXTEND = "seedance-1-5-pro-extend"
_MODEL_BY_MODE = {
    "text-to-video": MODEL_PRO,
    "image-to-video": MODEL_PRO,
    "video-extend": MODEL_EXTEND,
}
# docs/providers/apixo.md "Parameters": "backend validation accepts only 480p and 720p";
# docs/providers/apixo.md "Overview" adds 1080p.
_RESOLUTIONS = {MODEL_PRO: ("480p", "720p"), MODEL_EXTEND: ("480p", "720p", "1080p")}
# docs/providers/apixo.md "Overview".
ASPECT_RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9", "21:9")
PROMPT_CHARS = (3, 2500)  # docs/providers/apixo.md "Overview", after trimming
DURATION_SECONDS = (4, 12)  # docs/providers/apixo.md "Overview"
SEED_RANGE = (0, 2_147_483_647)  # docs/providers/apixo.md "Parameters"
# docs/providers/apixo.md "Routing" (routing).
ROUTINGS = ("auto", "value", "official")
# docs/providers/apixo.md "Status response fields"; "Envelope and states".
_STATES = {s: s for s in ("pending", "processing", "success", "failed")}


class ApixoClient:
    """Talk to APIXO's task API (or the simulator at another ``base_url``).

    Every network method raises only ``ProviderError`` subclasses for provider or network
    trouble (mapping: docs/providers/apixo.md "HTTP errors"), and never retries by itself.
    """

    name = "apixo"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        routing: str = "auto",
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        total_timeout: float | None = None,
        allow_http_callbacks: bool = False,
    ) -> None:
        """Configure the client.

        Args:
            base_url: e.g. ``https://api.apixo.ai/api/v1``
                (docs/providers/apixo.md "Endpoint and authentication").
            api_key: the APIXO key, sent as ``Authorization: Bearer <key>``.
            routing: ``auto``, ``value`` or ``official`` (docs/providers/apixo.md "Routing").
            connect_timeout: seconds to connect to APIXO.
            read_timeout: seconds to wait for an answer.
            total_timeout: seconds for a whole call, connect and answer together (the
                webhook's confirming status read: ``http.request_json``); None: no cap
                beyond the two above.
            allow_http_callbacks: accept ``http://`` callback URLs. Only with a loopback
                ``base_url``, i.e. the local simulator (its ``allow_http_callbacks`` knob):
                APIXO itself requires a public HTTPS callback URL
                (docs/providers/apixo.md "Parameters").

        Raises:
            ValueError: any argument out of its domain (a configuration error), or
                ``allow_http_callbacks`` with a base URL that is not a loopback address.
        """
        self.base_url = check_client_config(
            "APIXO",
            base_url,
            api_key,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        if routing not in ROUTINGS:
            raise ValueError(f"APIXO routing must be one of {ROUTINGS}, not {routing!r}")
        if allow_http_callbacks and not self.download_allow_hosts():
            raise ValueError("http callback URLs are only for a simulator on a loopback address")
        self.allow_http_callbacks = bool(allow_http_callbacks)
        self.routing = routing
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        if total_timeout is not None and total_timeout <= 0:
            raise ValueError("APIXO total timeout must be a positive number of seconds")
        self.total_timeout = float(total_timeout) if total_timeout is not None else None
        self._api_key = api_key

    def __repr__(self) -> str:
        """Describe the client without its key."""
        return f"ApixoClient(base_url={self.base_url!r}, routing={self.routing!r})"

    def model_for(self, mode: str) -> str:
        """Return ``seedance-1-5-pro`` for text/image-to-video, ``-extend`` for video-extend.

        Source: docs/providers/apixo.md "Overview" (modes), docs/providers/apixo.md "Overview"
        (required mode ``video-extend``).

        Raises:
            ValueError: unknown mode.
        """
        model = _MODEL_BY_MODE.get(mode) if isinstance(mode, str) else None
        if model is None:
            raise ValueError(f"APIXO has no model for mode {mode!r}")
        return model

    def build_request(self, request: GenerationRequest, *, callback_url: str | None = None) -> dict:
        """Return the exact submit body for ``request``, with documented fields only.

        Shapes: docs/providers/apixo.md "Request body" (text-to-video, image-to-video:
        ``aspect_ratio`` and ``fixed_lens``), docs/providers/apixo.md "Request body" (video-extend:
        ``video_urls``, ``camera_fixed``, optional ``seed`` and ``watermark``; no ``aspect_ratio``,
        no ``fixed_lens``). ``request_type`` is ``callback`` with ``callback_url`` when one is given
        (docs/providers/apixo.md "Webhooks"), else ``async``.

        ``provider`` is sent only for ``value`` and ``official``.
        docs/providers/apixo.md "Parameters" documents its default as ``auto``, so leaving it out
        means the same to the request body; and the key's dashboard strategy takes part too, with no
        documented precedence (docs/providers/apixo.md "Routing"), so under ``auto`` the body never
        overrides it. It goes to both models: the general parameters page documents it for the whole
        API, though the extend page does not list it (docs/providers/apixo.md "Routing").

        Args:
            request: what the member asked for; ``aspect_ratio`` None leaves the provider's
                default (1:1 per docs/providers/apixo.md "Parameters").
            callback_url: the portal's public HTTPS webhook URL, or None to poll.

        Raises:
            ValueError: a value the docs do not allow (the forms should have caught it):
                unknown mode, resolution not offered by the model, duration outside 4-12,
                prompt outside 3-2500 characters, 0 or 3 images, not exactly 1 video,
                fields of another mode, seed outside 0-2147483647, non-HTTPS callback URL
                (an ``http://`` one only passes with ``allow_http_callbacks``).
        """
        model = self.model_for(request.mode)
        _check_common(request, model)
        fields = _extend_input(request) if model == MODEL_EXTEND else _pro_input(request)
        body: dict[str, Any] = {"request_type": "async"}
        if callback_url is not None:
            schemes = ("https", "http") if self.allow_http_callbacks else ("https",)
            check_url(callback_url, "callback_url", schemes=schemes)
            body = {"request_type": "callback", "callback_url": callback_url}
        if self.routing != "auto":
            body["provider"] = self.routing
        body["input"] = fields
        return body

    def submit(self, request: GenerationRequest, *, callback_url: str | None = None) -> str:
        """Create a task: ``POST /generateTask/<model>``; return ``data.taskId``.

        Source: docs/providers/apixo.md "Request body" and "Submit task response".

        Raises:
            ValueError: see :meth:`build_request`.
            ProviderOutcomeUnknown: the request went out but the answer was lost; the task
                may exist. Never re-send blindly.
            ProviderResponseError: an HTTP 200 without a usable ``taskId``. The task may
                exist here too.
            ProviderError: any other subclass, per docs/providers/apixo.md "HTTP errors"; a 400
                quotes the body's ``message`` and ``data.error``
                (docs/providers/apixo.md "Envelope and states").
        """
        body = self.build_request(request, callback_url=callback_url)
        data = self._call("POST", f"/generateTask/{self.model_for(request.mode)}", json=body)
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not is_task_id(task_id):
            raise ProviderResponseError(
                status=200, detail=f"submit answer without taskId: {data!r:.200}"
            )
        return task_id

    def fetch_status(self, task_id: str, *, model: str) -> TaskStatus:
        """Read a task: ``GET /statusTask/<model>?taskId=<id>``; parse it strictly.

        Source: docs/providers/apixo.md "Poll for result" and "Status response fields"; unknown
        states (e.g. ``processing_r2``) become ``unknown``
        (docs/providers/apixo.md "Envelope and states").

        Args:
            task_id: the id :meth:`submit` returned.
            model: the model the task was submitted to (:meth:`model_for`).

        Raises:
            ValueError: empty task id or unknown model.
            ProviderResponseError: bad envelope, other ``taskId``, missing state, malformed
                ``resultJson`` or times.
            ProviderError: any other subclass, per docs/providers/apixo.md "HTTP errors". An unknown
                outcome is safe to retry here (``errors.is_retryable(..., idempotent=True)``).
        """
        if not is_task_id(task_id):
            raise ValueError(f"not a task id: {task_id!r}")
        if model not in _RESOLUTIONS:
            raise ValueError(f"not an APIXO model: {model!r}")
        data = self._call("GET", f"/statusTask/{model}", params={"taskId": task_id})
        return parse_task(data, expected_task_id=task_id)

    def parse_callback(
        self, body: bytes, *, headers: Mapping[str, str] | None = None
    ) -> TaskStatus:
        """Parse a webhook body: the ``statusTask`` envelope (docs/providers/apixo.md "Webhooks").

        The body is unauthenticated; use it only as a signal and confirm with
        :meth:`fetch_status` before finalizing (docs/architecture.md "Generation lifecycle").

        Args:
            body: the raw request body.
            headers: the request headers; ignored. APIXO documents no callback headers,
                no signature and no event name (docs/providers/apixo.md "Webhooks"). Accepted so
                that callers can pass headers to any client (``ProviderClient.parse_callback``).

        Raises:
            ProviderResponseError: anything but a well-formed envelope with ``code`` 200
                and a task in ``data`` (too large, not JSON, bad fields).
        """
        envelope = load_json_body(body)
        if not isinstance(envelope, dict) or not is_int(envelope.get("code")):
            raise ProviderResponseError(detail="callback body is not an APIXO envelope")
        if envelope["code"] != 200:
            raise ProviderResponseError(detail=f"callback envelope code {envelope['code']}")
        return parse_task(envelope.get("data"), expected_task_id=None)

    def account_balance(self) -> Decimal:
        """Return the key's remaining balance in USD: ``GET /apikeys/current-balance``.

        Source: docs/providers/apixo.md "Balance endpoint" (``data`` is a number, e.g. 74.87).

        Raises:
            ProviderResponseError: ``data`` is not a finite number.
            ProviderError: any other subclass, per docs/providers/apixo.md "HTTP errors".
        """
        data = self._call("GET", "/apikeys/current-balance")
        if is_int(data) or (isinstance(data, float) and math.isfinite(data)):
            return Decimal(str(data))
        raise ProviderResponseError(status=200, detail=f"balance is not a number: {data!r:.100}")

    def download_allow_hosts(self) -> frozenset[str]:
        """Return ``{"host:port"}`` when the base URL is a loopback address, else nothing.

        A loopback base URL is the local simulator (docs/architecture.md "Provider simulator"),
        whose result URLs the downloader must be allowed to fetch (``fields.loopback_hosts``).
        """
        return loopback_hosts(self.base_url)

    def _call(self, method: str, path: str, *, json: Any = None, params: dict | None = None) -> Any:
        """Send one API request and return the envelope's ``data``.

        Raises:
            ProviderError: transport failures (``http.request_json``) and error answers
                (:func:`_data_or_error`).
        """
        status, body = request_json(
            method,
            self.base_url + path,
            headers={"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"},
            json=json,
            params=params,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            total_timeout=self.total_timeout,
        )
        return _data_or_error(status, body)


def _data_or_error(status: int, body: Any) -> Any:
    """Return ``data`` of a good envelope; raise the typed error of any other answer.

    Source: docs/providers/apixo.md "Envelope and states": check both the HTTP status and the body
    ``code`` before trusting ``data``; a 200 whose ``code`` is not 200 is an error carrying
    that code. docs/providers/apixo.md "HTTP errors" shows a 400 "Insufficient credits"; it is
    treated as a balance error (402) so that an operator hears of it.

    Raises:
        ProviderError: the subclass for the status or code (``errors.error_for_status``).
        ProviderResponseError: a 200 answer that is not an envelope.
    """
    envelope = body if isinstance(body, dict) else {}
    code = envelope.get("code")
    if status == 200:
        if not is_int(code) or "data" not in envelope:
            raise ProviderResponseError(status=200, detail=f"not an APIXO envelope: {body!r:.200}")
        if code == 200:
            return envelope["data"]
    raise _envelope_error(code if status == 200 else status, envelope, http_status=status)


def _envelope_error(status: int, envelope: dict, *, http_status: int) -> ProviderError:
    """Build the typed error for an error answer (see :func:`_data_or_error`).

    An envelope whose ``code`` is 404 (with HTTP 404, or HTTP 200 carrying it) is
    :class:`~.errors.ProviderTaskNotFound`: on a status read the model is the portal's own,
    so it is the task that is missing (docs/providers/apixo.md "HTTP errors": "404 model or task not
    found"). The caller still confirms it after a delay before failing a job.
    """
    message = envelope.get("message")
    data = envelope.get("data")
    extra = data.get("error") if isinstance(data, dict) else None
    text = ": ".join(t for t in (message, extra) if isinstance(t, str) and t)
    if status == 400 and "insufficient" in text.lower():
        status = 402
    code = envelope.get("code")
    if status == 404 and code == 404:
        # The documented "task not found" (docs/providers/apixo.md "HTTP errors"): a real envelope
        # saying
        # 404. A 404 whose body is not an envelope (a proxy's page) proves nothing.
        return ProviderTaskNotFound(status=http_status, code="404", detail=text)
    error = error_for_status(
        status,
        http_status=http_status,
        code=str(code) if is_int(code) else "",
        provider_text=text,
    )
    # APIXO's own error answer: its envelope, ``code`` equal to the status
    # (docs/providers/apixo.md "Envelope and states"); anything else came from a gateway,
    # a CDN or a proxy in front of it (``errors.submit_outcome_unknown``).
    error.provider_shaped = is_int(code) and code == status and "message" in envelope
    return error


def parse_task(data: Any, *, expected_task_id: str | None) -> TaskStatus:
    """Parse a ``statusTask`` (or callback) ``data`` object into a :class:`TaskStatus`.

    Source: docs/providers/apixo.md "Status response fields"; "Envelope and states" (pending
    and processing carry only ``taskId``, ``state``, ``createTime``; unknown states are
    still running). Times must be integers when present. On success ``resultJson`` must be
    a JSON string holding a non-empty ``resultUrls`` list of http(s) URLs; on failure a
    missing ``failMsg`` becomes a generic message.

    Args:
        data: the envelope's ``data``.
        expected_task_id: the id asked for, or None (callbacks).

    Raises:
        ProviderResponseError: any field missing or of the wrong type.
    """
    task_id, raw_state, state = task_id_and_state(
        data, id_key="taskId", state_key="state", states=_STATES, expected_task_id=expected_task_id
    )
    times = {
        "create_time_ms": optional_int(data, "createTime"),
        "complete_time_ms": optional_int(data, "completeTime"),
        "cost_time_ms": optional_int(data, "costTime"),
    }
    if state == "success":
        urls = _parse_result_json(data.get("resultJson"))
        return TaskStatus(task_id, state, raw_state, result_urls=urls, **times)
    if state == "failed":
        fail_code = optional_str(data, "failCode")
        fail_message = optional_str(data, "failMsg")[:MAX_FAIL_MESSAGE_CHARS]
        return TaskStatus(
            task_id,
            state,
            raw_state,
            fail_code=fail_code,
            fail_message=fail_message or GENERIC_FAIL_MESSAGE,
            **times,
        )
    return TaskStatus(task_id, state, raw_state, **times)


def _parse_result_json(value: Any) -> tuple[str, ...]:
    """Return ``resultUrls`` from the ``resultJson`` string
    (docs/providers/apixo.md "Poll for result").

    Raises:
        ProviderResponseError: not a string, not JSON, no non-empty list of http(s) URLs.
    """
    if not isinstance(value, str):
        raise ProviderResponseError(detail=f"resultJson is not a string: {value!r:.200}")
    payload = parse_json(value)
    if not isinstance(payload, dict):
        raise ProviderResponseError(detail=f"resultJson is not an object: {value:.200}")
    return http_urls(payload.get("resultUrls"), "resultUrls")


def _check_common(request: GenerationRequest, model: str) -> None:
    """Check the fields every mode shares (docs/providers/apixo.md "Overview" and "Parameters").

    Raises:
        ValueError: prompt, resolution, duration or sound out of their documented domain.
    """
    check_prompt(request.prompt, PROMPT_CHARS)
    if request.resolution not in _RESOLUTIONS[model]:
        raise ValueError(
            f"{model} takes resolutions {_RESOLUTIONS[model]}, not {request.resolution!r}"
        )
    check_int(request.duration, "duration (seconds)", DURATION_SECONDS)
    check_bool(request.sound, "sound")
    check_bool(request.camera_fixed, "camera_fixed")


def _pro_input(request: GenerationRequest) -> dict[str, Any]:
    """Return ``input`` for text- or image-to-video (docs/providers/apixo.md "Request body").

    Raises:
        ValueError: images on text-to-video, not 1-2 images on image-to-video, a video URL,
            a seed or watermark (extend-only fields), or an unknown aspect ratio.
    """
    if request.video_urls or request.seed is not None or request.watermark is not None:
        raise ValueError("video_urls, seed and watermark are for video-extend only")
    if request.aspect_ratio is not None and request.aspect_ratio not in ASPECT_RATIOS:
        raise ValueError(f"aspect_ratio must be one of {ASPECT_RATIOS}")
    fields: dict[str, Any] = {"mode": request.mode, "prompt": request.prompt.strip()}
    if request.mode == "image-to-video":
        if not 1 <= len(request.image_urls) <= 2:
            raise ValueError("image-to-video takes 1 or 2 image URLs (start, end frame)")
        fields["image_urls"] = [check_url(url, "image_urls") for url in request.image_urls]
    elif request.image_urls:
        raise ValueError("text-to-video takes no image URLs")
    fields.update(resolution=request.resolution, duration=request.duration, sound=request.sound)
    if request.aspect_ratio is not None:
        fields["aspect_ratio"] = request.aspect_ratio
    fields["fixed_lens"] = request.camera_fixed
    return fields


def _extend_input(request: GenerationRequest) -> dict[str, Any]:
    """Return ``input`` for video-extend (docs/providers/apixo.md "Request body" and "Parameters").

    Raises:
        ValueError: not exactly one video URL, image URLs, an aspect ratio
            (docs/providers/apixo.md "Overview": "no public aspect_ratio field"), a seed outside
            0-2147483647, a non-boolean watermark.
    """
    if len(request.video_urls) != 1:
        raise ValueError("video-extend takes exactly 1 video URL")
    if request.image_urls or request.aspect_ratio is not None:
        raise ValueError("video-extend takes no image URLs and no aspect ratio")
    fields: dict[str, Any] = {
        "mode": request.mode,
        "prompt": request.prompt.strip(),
        "video_urls": [check_url(request.video_urls[0], "video_urls")],
        "resolution": request.resolution,
        "duration": request.duration,
        "sound": request.sound,
        "camera_fixed": request.camera_fixed,
    }
    if request.seed is not None:
        fields["seed"] = check_int(request.seed, "seed", SEED_RANGE)
    if request.watermark is not None:
        fields["watermark"] = check_bool(request.watermark, "watermark")
    return fields
