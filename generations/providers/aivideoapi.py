"""aivideoapi.ai client for Seedance 1.5 Pro (``doubao-seedance-1.5-pro``).

Sources, cited in each docstring: the sections of ``docs/providers/aivideoapi.md``, which restates
aivideoapi.ai's Seedance 1.5 Pro page and its general pages. The same model as APIXO's
``seedance-1-5-pro``, behind other shapes: a ``{"model", "input"}`` body, an envelope with ``msg``
on create and credits, a bare task object on query, and an ``{"error": {...}}`` body on failure.
Text- and image-to-video only: no video-extend.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from .base import GenerationRequest, TaskStatus
from .errors import (
    ProviderError,
    ProviderResponseError,
    ProviderSpendLimited,
    ProviderTaskNotFound,
    error_for_status,
)
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
    optional_object,
    optional_str,
    task_id_and_state,
)
from .http import request_json

# docs/providers/aivideoapi.md "Model"; Request Body: "Must be doubao-seedance-1.5-pro"
MODEL = "doubao-seedance-1.5-pro"
# docs/providers/aivideoapi.md "Pricing": one provider credit = $0.005 (derived from its per-second
# prices).
USD_PER_PROVIDER_CREDIT = Decimal("0.005")
_MODES = ("text-to-video", "image-to-video")  # docs/providers/aivideoapi.md "Generation Modes"
# docs/providers/aivideoapi.md "Model"; Input Object / resolution
RESOLUTIONS = ("480p", "720p", "1080p")
# docs/providers/aivideoapi.md "Aspect Ratio"
ASPECT_RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9")
# the portal's rule, the same as APIXO's (docs/providers/aivideoapi.md "Input Object" gives no
# limit)
PROMPT_CHARS = (3, 2500)
DURATION_SECONDS = (4, 12)  # docs/providers/aivideoapi.md "Duration"
SEED_RANGE = (-1, 4_294_967_295)  # docs/providers/aivideoapi.md "Seed"
# docs/providers/aivideoapi.md "Generation Modes": 1 = first frame, 2 = first and last frame
IMAGES = (1, 2)
# docs/providers/aivideoapi.md "Query Task": "pending -> processing -> completed or failed".
_STATES = {
    "pending": "pending",
    "processing": "processing",
    "completed": "success",
    "failed": "failed",
}
# docs/providers/aivideoapi.md "Callback": the X-Event header of a callback.
_EVENT_STATES = {"task.completed": "success", "task.failed": "failed"}


class AivideoapiClient:
    """Talk to aivideoapi.ai's task API (or a simulator at another ``base_url``).

    Every network method raises only ``ProviderError`` subclasses for provider or network
    trouble (mapping: docs/providers/aivideoapi.md "Error Reference", see
    :func:`error_from_answer`), and never retries by itself.
    """

    name = "aivideoapi"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        total_timeout: float | None = None,
        allow_http_callbacks: bool = False,
    ) -> None:
        """Configure the client.

        Args:
            base_url: e.g. ``https://api.aivideoapi.ai/v1``
                (docs/providers/aivideoapi.md "Create Task").
            api_key: the aivideoapi.ai key (``sk-...``), sent as ``Authorization: Bearer
                <key>`` (docs/providers/aivideoapi.md "Examples").
            connect_timeout: seconds to connect to aivideoapi.ai.
            read_timeout: seconds to wait for an answer.
            total_timeout: seconds for a whole call, connect and answer together (the
                webhook's confirming status read: ``http.request_json``); None: no cap
                beyond the two above.
            allow_http_callbacks: accept ``http://`` callback URLs. Only with a loopback
                ``base_url``, i.e. a local simulator; against the real service the portal
                sends HTTPS callback URLs only, as for APIXO.

        Raises:
            ValueError: any argument out of its domain (a configuration error), or
                ``allow_http_callbacks`` with a base URL that is not a loopback address.
        """
        self.base_url = check_client_config(
            "aivideoapi.ai",
            base_url,
            api_key,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        if allow_http_callbacks and not self.download_allow_hosts():
            raise ValueError("http callback URLs are only for a simulator on a loopback address")
        self.allow_http_callbacks = bool(allow_http_callbacks)
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        if total_timeout is not None and total_timeout <= 0:
            raise ValueError("aivideoapi.ai total timeout must be a positive number of seconds")
        self.total_timeout = float(total_timeout) if total_timeout is not None else None
        self._api_key = api_key

    def __repr__(self) -> str:
        """Describe the client without its key."""
        return f"AivideoapiClient(base_url={self.base_url!r})"

    def model_for(self, mode: str) -> str:
        """Return ``doubao-seedance-1.5-pro`` for text-to-video and image-to-video.

        Source: docs/providers/aivideoapi.md "Model" and "Generation Modes" (the mode follows from
        the number of images).

        Raises:
            ValueError: video-extend (docs/providers/aivideoapi.md "Input Object": "video_urls ...
                are not supported by this model") or an unknown mode.
        """
        if mode == "video-extend":
            raise ValueError("aivideoapi.ai cannot extend videos (it does not support video_urls)")
        if mode not in _MODES:
            raise ValueError(f"aivideoapi.ai has no model for mode {mode!r}")
        return MODEL

    def build_request(self, request: GenerationRequest, *, callback_url: str | None = None) -> dict:
        """Return the exact create-task body for ``request``, with documented fields only.

        Shape (docs/providers/aivideoapi.md "Request Body", "Callback"):
        ``{"model": MODEL, "input": {...}}`` plus a top-level ``callback_url`` only when one
        is given. ``input`` (docs/providers/aivideoapi.md "Input Object" and "Parameters"):

        - ``prompt``: trimmed; 3-2500 characters after trimming (the portal's rule;
          docs/providers/aivideoapi.md "Input Object" sets no limit).
        - ``image_urls``: image-to-video only, 1 or 2 http(s) URLs (first frame, optional
          last frame), in the string-array form (docs/providers/aivideoapi.md "Image URLs Format");
          text-to-video leaves the key out, as 0 images select text-to-video
          (docs/providers/aivideoapi.md "Generation Modes").
        - ``duration``: integer seconds, 4-12 (docs/providers/aivideoapi.md "Duration").
        - ``aspect_ratio``: only when given; 16:9, 4:3, 1:1, 3:4, 9:16 or 21:9
          (docs/providers/aivideoapi.md "Aspect Ratio"; the provider default is 16:9).
        - ``resolution``: 480p, 720p or 1080p (docs/providers/aivideoapi.md "Model").
        - ``generate_audio``: ``request.sound``, always sent: the provider default is true
          (docs/providers/aivideoapi.md "Input Object"), and a silent request must not be billed
          with audio (docs/providers/aivideoapi.md "Pricing").
        - ``watermark``: only when ``request.watermark`` is not None
          (docs/providers/aivideoapi.md "Input Object").
        - ``camera_fixed``: ``request.camera_fixed``, always sent
          (docs/providers/aivideoapi.md "Camera Fixed").
        - ``seed``: only when ``request.seed`` is not None; -1 to 4294967295
          (docs/providers/aivideoapi.md "Seed").

        Args:
            request: what the member asked for.
            callback_url: the portal's public HTTPS webhook URL, or None to poll
                (docs/providers/aivideoapi.md "Callback").

        Raises:
            ValueError: a value the docs do not allow (the forms should have caught it):
                video-extend, video URLs (docs/providers/aivideoapi.md "Input Object":
                "video_urls ... not supported"), unknown mode or resolution, duration outside 4-12
                or not an int, prompt outside 3-2500 characters, 0 or 3 images on image-to-video,
                images on text-to-video, a non-http(s) image URL, unknown aspect ratio, non-boolean
                sound, camera_fixed or watermark, seed out of range, a non-HTTPS callback
                URL (an ``http://`` one only passes with ``allow_http_callbacks``).
        """
        model = self.model_for(request.mode)
        if request.video_urls:
            raise ValueError("aivideoapi.ai takes no video URLs (it does not support video_urls)")
        fields: dict[str, Any] = {"prompt": check_prompt(request.prompt, PROMPT_CHARS)}
        if request.mode == "image-to-video":
            low, high = IMAGES
            if not low <= len(request.image_urls) <= high:
                raise ValueError("image-to-video takes 1 or 2 image URLs (first, last frame)")
            fields["image_urls"] = [check_url(url, "image_urls") for url in request.image_urls]
        elif request.image_urls:
            raise ValueError("text-to-video takes no image URLs")
        fields["duration"] = check_int(request.duration, "duration (seconds)", DURATION_SECONDS)
        if request.aspect_ratio is not None:
            if request.aspect_ratio not in ASPECT_RATIOS:
                raise ValueError(f"aspect_ratio must be one of {ASPECT_RATIOS}")
            fields["aspect_ratio"] = request.aspect_ratio
        if request.resolution not in RESOLUTIONS:
            raise ValueError(f"{model} takes resolutions {RESOLUTIONS}, not {request.resolution!r}")
        fields["resolution"] = request.resolution
        fields["generate_audio"] = check_bool(request.sound, "sound")
        if request.watermark is not None:
            fields["watermark"] = check_bool(request.watermark, "watermark")
        fields["camera_fixed"] = check_bool(request.camera_fixed, "camera_fixed")
        if request.seed is not None:
            fields["seed"] = check_int(request.seed, "seed", SEED_RANGE)
        body: dict[str, Any] = {"model": model, "input": fields}
        if callback_url is not None:
            schemes = ("https", "http") if self.allow_http_callbacks else ("https",)
            body["callback_url"] = check_url(callback_url, "callback_url", schemes=schemes)
        return body

    def submit(self, request: GenerationRequest, *, callback_url: str | None = None) -> str:
        """Create a task: ``POST /videos/generations``; return ``data.taskId``.

        Source: docs/providers/aivideoapi.md "Create Task"
        (``{"code":200,"msg":"success","data":{"taskId":"<uuid>"}}``).

        Raises:
            ValueError: see :meth:`build_request`.
            ProviderOutcomeUnknown: the request went out but the answer was lost; the task
                may exist. Never re-send blindly.
            ProviderResponseError: an HTTP 200 that is not that envelope or has no usable
                ``taskId``. The task may exist here too.
            ProviderError: any other subclass, per :func:`error_from_answer`.
        """
        body = self.build_request(request, callback_url=callback_url)
        data = _envelope_data(self._call("POST", "/videos/generations", json=body))
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not is_task_id(task_id):
            raise ProviderResponseError(
                status=200, detail=f"submit answer without taskId: {data!r:.200}"
            )
        return task_id

    def fetch_status(self, task_id: str, *, model: str) -> TaskStatus:
        """Read a task: ``GET /tasks/<id>`` (no envelope); parse it strictly.

        Source: docs/providers/aivideoapi.md "Query Task" (the task object).

        Args:
            task_id: the id :meth:`submit` returned.
            model: the model the task was submitted to (:meth:`model_for`); only
                ``doubao-seedance-1.5-pro`` exists here.

        Raises:
            ValueError: not a task id, or another model.
            ProviderNotFound: 404 ``task_not_found``
                (docs/providers/aivideoapi.md "Error Reference").
            ProviderResponseError: not a task object, another ``id``, bad fields (see
                :func:`parse_task`).
            ProviderError: any other subclass, per :func:`error_from_answer`. An unknown
                outcome is safe to retry here (``errors.is_retryable(..., idempotent=True)``).
        """
        if not is_task_id(task_id):
            raise ValueError(f"not a task id: {task_id!r}")
        if model != MODEL:
            raise ValueError(f"not an aivideoapi.ai model: {model!r}")
        data = self._call("GET", f"/tasks/{quote(task_id, safe='')}")
        return parse_task(data, expected_task_id=task_id)

    def parse_callback(
        self, body: bytes, *, headers: Mapping[str, str] | None = None
    ) -> TaskStatus:
        """Parse a webhook: the body is the task object of ``GET /tasks/<id>``.

        Source: docs/providers/aivideoapi.md "Callback" (callbacks: headers ``X-Event:
        task.completed|task.failed``, ``X-Task-Id``, ``X-Timestamp``; no signature). The
        callback is unauthenticated; use it only as a signal and confirm with
        :meth:`fetch_status` before finalizing (docs/architecture.md "Generation lifecycle").

        Args:
            body: the raw request body.
            headers: the request headers, any letter case (e.g. Django's
                ``request.headers``), or None to skip the header checks. When present,
                ``X-Task-Id`` must equal the body's ``id`` and ``X-Event`` must name the
                body's state (``task.completed`` for success, ``task.failed`` for failed).
                ``X-Timestamp`` is not checked: unsigned, it proves nothing.

        Raises:
            ProviderResponseError: a body that is too large, not JSON or not a well-formed
                task object (:func:`parse_task`), or headers that contradict it.
        """
        status = parse_task(load_json_body(body), expected_task_id=None)
        if headers is not None:
            _check_callback_headers(status, headers)
        return status

    def account_credits(self) -> int:
        """Return the account's remaining provider credits: ``GET /credits``, ``data.balance``.

        Source: docs/providers/aivideoapi.md "Credits balance"
        (``{"code":200,"msg":"success","data":{"balance":
        9800,"total_purchased":10000,"total_consumed":200}}``, integer credits);
        docs/providers/aivideoapi.md "insufficient_credits (402)" names the endpoint.

        Raises:
            ProviderResponseError: not that envelope, or ``data.balance`` not an integer.
            ProviderError: any other subclass, per :func:`error_from_answer`.
        """
        data = _envelope_data(self._call("GET", "/credits"))
        balance = data.get("balance") if isinstance(data, dict) else None
        if not is_int(balance):
            raise ProviderResponseError(
                status=200, detail=f"credits without an integer balance: {data!r:.200}"
            )
        return balance

    def account_balance(self) -> Decimal:
        """Return the account's remaining balance in USD: credits times $0.005.

        Source: docs/providers/aivideoapi.md "Pricing" (one provider credit is worth $0.005).

        Raises:
            ProviderError: as :meth:`account_credits`.
        """
        return self.account_credits() * USD_PER_PROVIDER_CREDIT

    def download_allow_hosts(self) -> frozenset[str]:
        """Return ``{"host:port"}`` when the base URL is a loopback address, else nothing.

        A loopback base URL is a local simulator (docs/architecture.md "Provider simulator"), whose
        result URLs the downloader must be allowed to fetch (``fields.loopback_hosts``).
        """
        return loopback_hosts(self.base_url)

    def _call(self, method: str, path: str, *, json: Any = None) -> Any:
        """Send one API request; return the JSON body of an HTTP 200 answer.

        Raises:
            ProviderError: transport failures (``http.request_json``) and any status but
                200 (:func:`error_from_answer`).
        """
        status, body = request_json(
            method,
            self.base_url + path,
            headers={"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"},
            json=json,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            total_timeout=self.total_timeout,
        )
        if status != 200:
            raise error_from_answer(status, body)
        return body


def error_from_answer(status: int, body: Any) -> ProviderError:
    """Return (not raise) the typed error for an answer whose HTTP status is not 200.

    Source: docs/providers/aivideoapi.md "Error Codes" and "Error Reference": the body is
    ``{"error": {"code", "message", "type"}}``. The HTTP status decides the class
    (``errors.error_for_status``, with ``error.code`` as the code and ``error.message`` quoted), so
    400 ``invalid_request`` is a rejection, 401 ``invalid_api_key`` and 403 ``ip_not_allowed``
    auth errors for an operator, 402 ``insufficient_credits`` a balance error, 404
    ``model_not_found``/``task_not_found`` not-found, 429 ``rate_limit_exceeded`` rate
    limited (retryable), 500 ``internal_error`` and 503 ``upstream_error`` server errors
    (retryable). A body without that shape (an HTML proxy page) still maps by status.

    Two codes name a billing state and win over the status:

    - ``spend_limit_exceeded`` (docs/providers/aivideoapi.md "Error Reference": 429,
      "Key spend limit reached (hourly/daily/total)";
      docs/providers/aivideoapi.md "Keys and limits") is :class:`~.errors.ProviderSpendLimited`: not
      retryable, ``alert_admin``. A backoff of seconds cannot end an hourly, daily or total limit,
      and retrying it as a rate limit would hide from the operator that the key is capped.
    - ``insufficient_credits`` is a balance error (``alert_admin``) whatever its status.

    Only a 404 whose body says ``task_not_found`` (docs/providers/aivideoapi.md "Error Reference":
    "Task ID does not exist") is :class:`~.errors.ProviderTaskNotFound`; a 404 without it
    (``model_not_found``, a proxy's page) is a plain :class:`~.errors.ProviderNotFound`, which
    proves nothing about the task (``errors.status_read_fault``).
    """
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    code = code.strip() if isinstance(code, str) else ""
    message = error.get("message")
    text = message if isinstance(message, str) else ""
    if code == "spend_limit_exceeded":
        detail = " ".join(text.split())[:MAX_FAIL_MESSAGE_CHARS]
        return ProviderSpendLimited(status=status, code=code, detail=detail)
    if status == 404 and code == "task_not_found":
        return ProviderTaskNotFound(status=status, code=code, detail=text[:MAX_FAIL_MESSAGE_CHARS])
    if code == "insufficient_credits":
        return error_for_status(402, http_status=status, code=code, provider_text=text)
    answer = error_for_status(status, code=code, provider_text=text)
    # aivideoapi.ai's own error body (docs/providers/aivideoapi.md "Error Codes"); anything
    # else came from a CDN or proxy in front of it (``errors.submit_outcome_unknown``).
    answer.provider_shaped = bool(code)
    return answer


def _envelope_data(body: Any) -> Any:
    """Return ``data`` of a ``{"code": 200, "msg", "data"}`` envelope
    (docs/providers/aivideoapi.md "Create Task").

    Source: docs/providers/aivideoapi.md "Create Task" (the field is ``msg``).
    docs/providers/aivideoapi.md "Create Task" shows no 200 answer with another ``code``, so one is
    not understood.

    Raises:
        ProviderResponseError: not such an envelope.
    """
    if not isinstance(body, dict) or not is_int(body.get("code")) or body["code"] != 200:
        raise ProviderResponseError(status=200, detail=f"not an envelope: {body!r:.200}")
    if "data" not in body:
        raise ProviderResponseError(status=200, detail=f"envelope without data: {body!r:.200}")
    return body["data"]


def parse_task(data: Any, *, expected_task_id: str | None) -> TaskStatus:
    """Parse a task object (``GET /tasks/<id>`` or a callback body) into a :class:`TaskStatus`.

    Source: docs/providers/aivideoapi.md "Query Task" and "Completed"; "Query Task":
    ``{id, status, model, created_at, completed_at, progress, output: {urls, metadata},
    error: {code, message}}``.

    - ``status`` ``pending``/``processing`` keep their name, ``completed`` is ``success``,
      ``failed`` is ``failed``; any other is ``unknown`` (still running until the caller's
      deadline). ``raw_state`` is the provider's string.
    - ``completed``: ``output.urls`` must be a non-empty list of http(s) URLs.
    - ``failed``: ``error.code`` and ``error.message`` (both optional); a missing message
      becomes a generic one.
    - ``created_at``/``completed_at`` are Unix seconds (integers or null), returned in
      milliseconds; ``cost_time_ms`` is their difference when both are given, None if
      ``completed_at`` comes first (a clock glitch must not block a finished task).
    - ``model``, when given, must be a string; ``progress`` and ``output.metadata`` are
      not read.

    Args:
        data: the decoded JSON object.
        expected_task_id: the id asked for, or None (callbacks).

    Raises:
        ProviderResponseError: any field missing or of the wrong type.
    """
    task_id, raw_state, state = task_id_and_state(
        data, id_key="id", state_key="status", states=_STATES, expected_task_id=expected_task_id
    )
    optional_str(data, "model")
    created = optional_int(data, "created_at")
    completed = optional_int(data, "completed_at")
    times = {
        "create_time_ms": None if created is None else created * 1000,
        "complete_time_ms": None if completed is None else completed * 1000,
        "cost_time_ms": None,
    }
    if created is not None and completed is not None and completed >= created:
        times["cost_time_ms"] = (completed - created) * 1000
    if state == "success":
        output = optional_object(data, "output")
        if output is None:
            raise ProviderResponseError(detail=f"completed task {task_id} without output")
        urls = http_urls(output.get("urls"), "output.urls")
        return TaskStatus(task_id, state, raw_state, result_urls=urls, **times)
    if state == "failed":
        error = optional_object(data, "error") or {}
        fail_message = optional_str(error, "message")[:MAX_FAIL_MESSAGE_CHARS]
        return TaskStatus(
            task_id,
            state,
            raw_state,
            fail_code=optional_str(error, "code"),
            fail_message=fail_message or GENERIC_FAIL_MESSAGE,
            **times,
        )
    return TaskStatus(task_id, state, raw_state, **times)


def _check_callback_headers(status: TaskStatus, headers: Mapping[str, str]) -> None:
    """Check that the callback headers agree with the body
    (docs/providers/aivideoapi.md "Callback").

    Each header is checked when present: ``X-Task-Id`` equals the body's ``id``;
    ``X-Event`` is ``task.completed`` on a success or ``task.failed`` on a failure.

    Raises:
        ProviderResponseError: a header that is not a string or contradicts the body.
    """
    lowered = {str(name).lower(): value for name, value in headers.items()}
    header_task_id = lowered.get("x-task-id")
    if header_task_id is not None and (
        not isinstance(header_task_id, str) or header_task_id.strip() != status.task_id
    ):
        raise ProviderResponseError(
            detail=f"X-Task-Id {header_task_id!r:.100} is not the body's {status.task_id}"
        )
    event = lowered.get("x-event")
    if event is not None:
        claimed = _EVENT_STATES.get(event.strip().lower()) if isinstance(event, str) else None
        if claimed is None or claimed != status.state:
            raise ProviderResponseError(
                detail=f"X-Event {event!r:.100} does not match status {status.raw_state!r:.50}"
            )
