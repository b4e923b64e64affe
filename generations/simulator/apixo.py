"""The APIXO task API for Seedance 1.5 Pro, as the simulator serves it at the server root.

URLs (docs/providers/apixo.md "Endpoint and authentication"):

- ``POST /api/v1/generateTask/<model>`` and ``GET /api/v1/statusTask/<model>?taskId=`` for
  ``seedance-1-5-pro`` and ``seedance-1-5-pro-extend``;
- ``GET /api/v1/apikeys/current-balance``;
- ``GET|HEAD /files/<taskId>.mp4`` and the ``/_sim/*`` controls (:mod:`.provider`).

Every ``/api/v1`` answer is the envelope ``{"code": <HTTP status>, "message", "data"}``
(docs/providers/apixo.md "Envelope and states"). Request validation is :mod:`.validation`.
"""

from __future__ import annotations

import hmac
import json
import time
import uuid
from typing import ClassVar
from urllib.parse import parse_qs

from .callbacks import MISMATCH_RESULT_URL
from .config import SimulatorConfig
from .lifecycle import planned_failure
from .provider import Provider
from .store import ConcurrencyLimitError, Failure, InsufficientBalanceError, Task
from .validation import EXTEND, MODELS, PRO, RequestError, decode_body, parse_submit
from .web import BodyError, DropConnection, Response, envelope, invalid, read_body

# docs/providers/apixo.md "HTTP errors": the retryable server-side statuses.
SERVER_ERRORS = {
    500: "Internal server error",
    502: "Upstream error",
    503: "Service unavailable",
    504: "Upstream timeout",
}
# Documented failCode -> failMsg (docs/providers/apixo.md "Task failure codes"). Input-related codes
# come from inputs.py, not from fail_rate.
FAILURE_MESSAGES = {
    "PromptInvalid": "The prompt was rejected or malformed",
    "SensitiveContent": "Content violates upstream policy, please adjust the prompt",
    "ImageFormatIncorrect": "A reference image could not be accepted upstream",
    "RateLimited": "The upstream route rate limited the task",
    "Timeout": "The upstream route timed out",
    "InsufficientBalance": "The route could not continue because of balance or quota",
    "Unknown error": "The upstream error did not match a known mapping",
    "CONTENT_VIOLATION": "Content does not meet safety guidelines",
    "INVALID_IMAGE_URL": "Cannot access provided image URL",
    "API_SERVICE_UNAVAILABLE": "Video extend processing is temporarily unavailable",
    "INVALID_PARAMETER": "One or more fields use an unsupported value or type",
    "MISSING_REQUIRED_PARAM": "A required field is missing",
}
RANDOM_FAILURES = {
    PRO: (
        "PromptInvalid",
        "SensitiveContent",
        "RateLimited",
        "Timeout",
        "InsufficientBalance",
        "Unknown error",
        "CONTENT_VIOLATION",
    ),
    EXTEND: (
        "API_SERVICE_UNAVAILABLE",
        "SensitiveContent",
        "RateLimited",
        "Timeout",
        "Unknown error",
    ),
}
# docs/providers/apixo.md "Webhooks": retry after 30 s, 2 min, 10 min, then abandon.
RETRY_DELAYS_S = (30.0, 120.0, 600.0)
_OUTCOME_KEYS = ("resultJson", "failCode", "failMsg")


class ApixoProvider(Provider):
    """APIXO's API plus its :class:`~.dialect.Dialect`."""

    prefix: ClassVar[str] = ""
    api_prefix: ClassVar[str] = "/api/v1/"
    balance_knob: ClassVar[str] = "balance_usd"
    task_id_pattern: ClassVar[str] = "task_[0-9a-f]{32}"
    retry_delays_s = RETRY_DELAYS_S
    config: SimulatorConfig

    # --- HTTP ------------------------------------------------------------------------------

    def authenticate(self, environ: dict) -> Response | None:
        """Refuse a missing or wrong key: 401 (docs/providers/apixo.md "Envelope and states")."""
        given = environ.get("HTTP_AUTHORIZATION", "").encode()
        if not hmac.compare_digest(given, f"Bearer {self.config.api_key}".encode()):
            return envelope(401, "Invalid or missing API key")
        return None

    def rate_limited(self) -> Response:
        """Return 429 (docs/providers/apixo.md "HTTP errors")."""
        return envelope(429, "Rate limit exceeded")

    def server_error(self) -> Response:
        """Return 500 or 503, the server's own errors (docs/providers/apixo.md "HTTP errors")."""
        status = self.dice.choice((500, 503))
        return envelope(status, SERVER_ERRORS[status])

    def gateway_error(self) -> Response:
        """Return 502 or 504, a gateway's answers (docs/providers/apixo.md "HTTP errors")."""
        status = self.dice.choice((502, 504))
        return envelope(status, SERVER_ERRORS[status])

    def api(self, environ: dict, route: str) -> Response:
        """Apply latency, auth, rate limits and injected faults (:meth:`refusal`), then route."""
        refused = self.refusal(environ)
        if refused is not None:
            return refused
        method = environ["REQUEST_METHOD"]
        if route == "apikeys/current-balance":
            return self._balance() if method == "GET" else self.error(405)
        kind, _, model = route.partition("/")
        if kind not in ("generateTask", "statusTask") or not model:
            return self.error(404)
        if model not in MODELS:
            return envelope(404, f"Model not found: {model}")
        if kind == "generateTask":
            return self._submit(environ, model) if method == "POST" else self.error(405)
        return self._status(environ, model) if method == "GET" else self.error(405)

    def endpoint(self, route: str) -> str:
        """Name the endpoint of a route, for the request counters."""
        kind = route.split("/", 1)[0]
        if kind in ("generateTask", "statusTask"):
            return kind
        return "current-balance" if route == "apikeys/current-balance" else "other"

    def error(self, status: int) -> Response:
        """Return the envelope of a generic 404, 405 or 500."""
        messages = {404: "Not found", 405: "Method not allowed", 500: SERVER_ERRORS[500]}
        return envelope(status, messages[status])

    def _submit(self, environ: dict, model: str) -> Response:
        """Validate, admit and start a task (docs/providers/apixo.md "Request body",
        "Rate limits")."""
        config = self.config
        try:
            body = decode_body(read_body(environ))
            spec = parse_submit(model, body, allow_http_callbacks=config.allow_http_callbacks)
        except (RequestError, BodyError) as exc:
            return invalid(getattr(exc, "detail", str(exc)))
        now = time.time()
        pending_until, due_at = self.engine.timing(spec, now)
        task = Task(
            task_id=f"task_{uuid.uuid4().hex}",
            spec=spec,
            request_body=body,
            base_url=self.base_url(environ),
            created_at=now,
            pending_until=pending_until,
            due_at=due_at,
            planned_failure=planned_failure(
                spec.prompt,
                self.dice,
                config.fail_rate,
                pool=tuple(Failure(c, FAILURE_MESSAGES[c]) for c in RANDOM_FAILURES[model]),
                messages=FAILURE_MESSAGES,
            ),
            duplicate_callback=self.dice.chance(config.callback_duplicate_rate),
            drop_callback=self.dice.chance(config.callback_drop_rate),
            price=spec.price_usd,
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
        """Answer statusTask for a task of ``model`` (docs/providers/apixo.md "Poll for result")."""
        query = parse_qs(environ.get("QUERY_STRING", ""))
        task_id = (query.get("taskId") or [""])[0]
        if not task_id:
            return invalid("Missing required parameter: taskId")
        data = self.store.poll(task_id, time.time(), model)
        if data is None:
            return envelope(404, "Task not found")
        return envelope(200, "success", data)

    def _balance(self) -> Response:
        """Answer the remaining balance in USD (docs/providers/apixo.md "Balance endpoint")."""
        return envelope(200, "success", float(self.store.balance))

    # --- Dialect ---------------------------------------------------------------------------

    def status_data(self, task: Task, now: float) -> dict:
        """Return the ``data`` of a statusTask answer (docs/providers/apixo.md "Poll for result").

        Pending and processing carry only taskId, state and createTime; success adds
        ``resultJson`` as a JSON *string*; failed adds failCode and failMsg; both final states
        add completeTime and costTime (Unix milliseconds / milliseconds).
        """
        created_ms = _ms(task.created_at)
        data: dict[str, object] = {"taskId": task.task_id, "state": task.state(now)}
        if task.final_state == "success":
            data["resultJson"] = _result_json(task.result_url)
        elif task.final_state == "failed" and task.failure is not None:
            data["failCode"] = task.failure.code
            data["failMsg"] = task.failure.message
        data["createTime"] = created_ms
        if task.completed_at is not None:
            data["completeTime"] = _ms(task.completed_at)
            data["costTime"] = _ms(task.completed_at) - created_ms
        return data

    def state_label(self, state: str) -> str:
        """APIXO's states are the internal ones
        (docs/providers/apixo.md "Status response fields")."""
        return state

    def delivered(self, status: int | None) -> bool:
        """The receiver must answer HTTP 200 (docs/providers/apixo.md "Webhooks")."""
        return status == 200

    def input_failure(self, failure: Failure) -> Failure:
        """Input failures carry APIXO's documented codes already (``inputs.py``)."""
        return failure

    def render_failure(self) -> Failure:
        """Return the catch-all failure (docs/providers/apixo.md "Task failure codes")."""
        return Failure("Unknown error", FAILURE_MESSAGES["Unknown error"])

    def callback_request(self, task: Task, data: dict) -> tuple[dict[str, str], object]:
        """The body is the statusTask envelope; no signature or extra header
        (docs/providers/apixo.md "Webhooks")."""
        payload = {"code": 200, "message": "success", "data": data}
        return {"User-Agent": "apixo-simulator/1"}, payload

    def claimed_state(self, data: dict) -> str:
        """Return ``data["state"]``."""
        return data["state"]

    def opposite_outcome(self, task: Task, data: dict) -> dict:
        """Return status data claiming the other final outcome (``callback_mismatch``)."""
        claimed = {key: value for key, value in data.items() if key not in _OUTCOME_KEYS}
        if data["state"] == "success":
            return claimed | {
                "state": "failed",
                "failCode": "Unknown error",
                "failMsg": "Generation failed",
            }
        return claimed | {"state": "success", "resultJson": _result_json(MISMATCH_RESULT_URL)}


def _result_json(url: str) -> str:
    return json.dumps({"resultUrls": [url]}, separators=(",", ":"))


def _ms(timestamp: float) -> int:
    return int(timestamp * 1000)
