"""The aivideoapi.ai task API for ``doubao-seedance-1.5-pro``, served under ``/aivideoapi``.

URLs (the base URL to configure a client with is ``http://HOST:PORT/aivideoapi/v1``):

- ``POST /aivideoapi/v1/videos/generations``: create a task
  (docs/providers/aivideoapi.md "Create Task"), answered
  ``{"code":200,"msg":"success","data":{"taskId":"<uuid>"}}``;
- ``GET /aivideoapi/v1/tasks/<taskId>``: the task object, no envelope
  (docs/providers/aivideoapi.md "Query Task");
- ``GET /aivideoapi/v1/credits``: ``{"code":200,"msg":"success","data":{"balance",
  "total_purchased","total_consumed"}}`` in integer credits
  (docs/providers/aivideoapi.md "Credits balance");
- ``GET|HEAD /aivideoapi/files/<taskId>.mp4`` and the ``/aivideoapi/_sim/*`` controls
  (:mod:`.provider`), with this provider's own knobs (:class:`~.config.AivideoapiConfig`).

Errors are ``{"error": {"code", "message", "type"}}`` with the codes of
docs/providers/aivideoapi.md "Error Reference": 400 ``invalid_request``, 401 ``invalid_api_key``,
402 ``insufficient_credits``, 403 ``ip_not_allowed``, 404 ``model_not_found`` / ``task_not_found``,
429 ``rate_limit_exceeded`` / ``spend_limit_exceeded``, 500 ``internal_error``, 503
``upstream_error``. Two answers the docs do not list use the same shape: 404 ``not_found`` (no such
endpoint) and 405 ``method_not_allowed``. Callbacks follow docs/providers/aivideoapi.md "Callback"
(:mod:`.callbacks`). Request validation is :mod:`.aivideoapi_validation`.
"""

from __future__ import annotations

import dataclasses
import hmac
import time
import uuid
from decimal import Decimal
from typing import ClassVar

from .aivideoapi_validation import (
    SEED_MAX,
    AivideoapiSpec,
    ModelNotFoundError,
    decode_body,
    parse_submit,
)
from .callbacks import MISMATCH_RESULT_URL
from .config import AIVIDEOAPI_KEY_PREFIX, AivideoapiConfig
from .lifecycle import planned_failure
from .provider import Provider
from .store import (
    ConcurrencyLimitError,
    Failure,
    InsufficientBalanceError,
    SpendLimitError,
    Task,
)
from .validation import RequestError
from .web import BodyError, DropConnection, Response, json_response, read_body

# docs/providers/aivideoapi.md "Error Reference": code -> (HTTP status, type). The last two are not
# documented.
ERRORS = {
    "invalid_request": (400, "invalid_request_error"),
    "invalid_api_key": (401, "authentication_error"),
    "insufficient_credits": (402, "billing_error"),
    "ip_not_allowed": (403, "permission_error"),
    "model_not_found": (404, "invalid_request_error"),
    "task_not_found": (404, "invalid_request_error"),
    "rate_limit_exceeded": (429, "rate_limit_error"),
    "spend_limit_exceeded": (429, "billing_error"),
    "internal_error": (500, "api_error"),
    "upstream_error": (503, "upstream_error"),
    "not_found": (404, "invalid_request_error"),
    "method_not_allowed": (405, "invalid_request_error"),
}
# Messages after docs/providers/aivideoapi.md "Error Reference" / "Error Codes" and
# docs/providers/aivideoapi.md "Keys and limits".
MESSAGES = {
    "insufficient_credits": "Your credit balance is too low. Please top up.",
    "ip_not_allowed": "Request IP not in the key's allowlist.",
    "rate_limit_exceeded": "Too many requests, please slow down.",
    "spend_limit_exceeded": "Key spend limit reached.",
    "internal_error": "Unexpected server error.",
    "upstream_error": "Upstream AI provider returned an error.",
    "not_found": "Unknown endpoint.",
    "method_not_allowed": "Method not allowed.",
}
SERVER_ERRORS = ("internal_error", "upstream_error")  # what ``rate_5xx`` chooses from
# Task failures (docs/providers/aivideoapi.md "upstream_error (503)").
FAILURE_MESSAGES = {
    "upstream_error": "The request failed because the input text may contain sensitive "
    "information.",
    "internal_error": "Unexpected server error.",
}
RANDOM_FAILURES = (
    Failure("upstream_error", FAILURE_MESSAGES["upstream_error"]),
    Failure("upstream_error", "The upstream AI provider is temporarily unavailable."),
    Failure("upstream_error", "The request parameters are not supported by the provider."),
    Failure("internal_error", FAILURE_MESSAGES["internal_error"]),
)
MISMATCH_FAILURE = Failure("upstream_error", "Upstream AI provider returned an error.")
# docs/providers/aivideoapi.md "Callback": 1st attempt immediate, 2nd 3 minutes later, 3rd 10
# minutes later (read as 10 minutes after the 2nd), then the callback is marked failed.
RETRY_DELAYS_S = (180.0, 600.0)
# docs/providers/aivideoapi.md "Completed" example: output.metadata.framespersecond
FRAMES_PER_SECOND = 24
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# docs/providers/aivideoapi.md "Query Task": pending -> processing -> completed|failed
_LABELS = {"success": "completed"}


def error(code: str, message: str | None = None) -> Response:
    """Return the documented error body for ``code``
    (docs/providers/aivideoapi.md "Error Codes")."""
    status, kind = ERRORS[code]
    return json_response(
        status, {"error": {"code": code, "message": message or MESSAGES[code], "type": kind}}
    )


def success(data: object) -> Response:
    """Return the envelope of create-task and credits answers (the field is ``msg``)."""
    return json_response(200, {"code": 200, "msg": "success", "data": data})


class AivideoapiProvider(Provider):
    """aivideoapi.ai's API plus its :class:`~.dialect.Dialect`."""

    prefix: ClassVar[str] = "/aivideoapi"
    api_prefix: ClassVar[str] = "/v1/"
    balance_knob: ClassVar[str] = "balance_credits"
    task_id_pattern: ClassVar[str] = _UUID
    fps = FRAMES_PER_SECOND
    retry_delays_s = RETRY_DELAYS_S
    config: AivideoapiConfig

    # --- HTTP ------------------------------------------------------------------------------

    def api(self, environ: dict, route: str) -> Response:
        """Apply latency, auth, the IP allowlist, rate limits and faults, then route."""
        refused = self.refusal(environ)
        if refused is not None:
            return refused
        method = environ["REQUEST_METHOD"]
        if route == "videos/generations":
            return self._submit(environ) if method == "POST" else self.error(405)
        if route == "credits":
            return self._credits() if method == "GET" else self.error(405)
        kind, _, task_id = route.partition("/")
        if kind == "tasks" and task_id and "/" not in task_id:
            return self._task(task_id) if method == "GET" else self.error(405)
        return self.error(404)

    def endpoint(self, route: str) -> str:
        """Name the endpoint of a route, for the request counters."""
        if route == "videos/generations":
            return "generations"
        if route == "credits":
            return "credits"
        return "tasks" if route.startswith("tasks/") else "other"

    def error(self, status: int) -> Response:
        """Return a generic 404, 405 or 500 in the documented error shape."""
        return error({404: "not_found", 405: "method_not_allowed", 500: "internal_error"}[status])

    def authenticate(self, environ: dict) -> Response | None:
        """Check ``Authorization: Bearer sk-...``
        (docs/providers/aivideoapi.md "invalid_api_key (401)"), then the key's IP allowlist (the
        ``ip_not_allowed`` knob: 403, docs/providers/aivideoapi.md "Error Reference")."""
        scheme, _, key = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme != "Bearer" or not key:
            return error("invalid_api_key", "Missing API key. Send 'Authorization: Bearer sk-...'.")
        if not key.startswith(AIVIDEOAPI_KEY_PREFIX):
            return error("invalid_api_key", "Invalid API key: keys start with 'sk-'.")
        if not hmac.compare_digest(key.encode(), self.config.api_key.encode()):
            return error("invalid_api_key", "API key is invalid, disabled, or deleted.")
        if self.config.ip_not_allowed:
            return error("ip_not_allowed")
        return None

    def rate_limited(self) -> Response:
        """Return 429 ``rate_limit_exceeded`` (docs/providers/aivideoapi.md "Error Reference")."""
        return error("rate_limit_exceeded")

    def server_error(self) -> Response:
        """Return 500 ``internal_error`` or 503 ``upstream_error``
        (docs/providers/aivideoapi.md "Error Reference")."""
        return error(self.dice.choice(SERVER_ERRORS))

    def gateway_error(self) -> Response:
        """Return a proxy's HTML 502 or 504 page: aivideoapi.ai documents neither status
        (docs/providers/aivideoapi.md "Error Reference"), but what stands in front of any
        service answers so when its upstream fails or is slow."""
        status = self.dice.choice((502, 504))
        reason = "Bad Gateway" if status == 502 else "Gateway Timeout"
        page = f"<html><head><title>{status} {reason}</title></head><body>{reason}</body></html>"
        body = page.encode()
        headers = [("Content-Type", "text/html"), ("Content-Length", str(len(body)))]
        return Response(status, [body], headers)

    def _submit(self, environ: dict) -> Response:
        """Validate, admit and start a task (docs/providers/aivideoapi.md "Create Task",
        "Pricing")."""
        config = self.config
        try:
            body = decode_body(read_body(environ))
            spec = parse_submit(body, allow_http_callbacks=config.allow_http_callbacks)
        except ModelNotFoundError as exc:
            return error("model_not_found", exc.detail)
        except RequestError as exc:
            return error("invalid_request", exc.detail)
        except BodyError as exc:
            return error("invalid_request", f"{exc}.")
        # docs/providers/aivideoapi.md "Seed": the seed used is returned
        if spec.seed is None or spec.seed == -1:
            spec = dataclasses.replace(spec, seed=self.dice.integer(0, SEED_MAX))
        now = time.time()
        pending_until, due_at = self.engine.timing(spec, now)
        task = Task(
            task_id=str(uuid.uuid4()),
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
                pool=RANDOM_FAILURES,
                messages=FAILURE_MESSAGES,
            ),
            duplicate_callback=self.dice.chance(config.callback_duplicate_rate),
            drop_callback=self.dice.chance(config.callback_drop_rate),
            price=Decimal(spec.price_credits),
        )
        limit = config.spend_limit_credits
        try:
            self.store.admit(
                task,
                max_active=config.max_concurrent_tasks,
                spend_limit=None if limit is None else Decimal(limit),
            )
        except ConcurrencyLimitError:
            return error("rate_limit_exceeded", "Too many concurrent tasks, please slow down.")
        except SpendLimitError:
            return error("spend_limit_exceeded")
        except InsufficientBalanceError:
            return error("insufficient_credits")
        self.engine.start(task)
        if self.dice.chance(config.drop_after_submit_rate):
            raise DropConnection
        return success({"taskId": task.task_id})

    def _task(self, task_id: str) -> Response:
        """Answer the task object (docs/providers/aivideoapi.md "Query Task"), or 404
        ``task_not_found``."""
        data = self.store.poll(task_id, time.time())
        if data is None:
            return error("task_not_found", f"Task '{task_id}' does not exist.")
        return json_response(200, data)

    def _credits(self) -> Response:
        """Answer balance, purchased and consumed credits
        (docs/providers/aivideoapi.md "Credits balance")."""
        balance, consumed = int(self.store.balance), int(self.store.consumed)
        return success(
            {"balance": balance, "total_purchased": balance + consumed, "total_consumed": consumed}
        )

    # --- Dialect ---------------------------------------------------------------------------

    def status_data(self, task: Task, now: float) -> dict:
        """Return the task object (docs/providers/aivideoapi.md "Query Task").

        ``{id, status, model, created_at, completed_at, progress}`` always (Unix seconds;
        ``completed_at`` null until final), plus ``output: {urls, metadata}`` when completed
        and ``error: {code, message}`` when failed.
        """
        state = task.state(now)
        data: dict[str, object] = {
            "id": task.task_id,
            "status": self.state_label(state),
            "model": task.spec.model,
            "created_at": int(task.created_at),
            "completed_at": None if task.completed_at is None else int(task.completed_at),
            "progress": _progress(task, state, now),
        }
        if state == "success":
            data["output"] = _output(task, task.result_url)
        elif state == "failed" and task.failure is not None:
            data["error"] = {"code": task.failure.code, "message": task.failure.message}
        return data

    def state_label(self, state: str) -> str:
        """Name ``success`` ``completed``; the other states keep their names."""
        return _LABELS.get(state, state)

    def delivered(self, status: int | None) -> bool:
        """Any 2xx answer is a delivery (docs/providers/aivideoapi.md "Callback")."""
        return status is not None and 200 <= status < 300

    def input_failure(self, failure: Failure) -> Failure:
        """An unusable input image is rejected upstream: ``upstream_error``
        (docs/providers/aivideoapi.md "upstream_error (503)")."""
        return Failure("upstream_error", failure.message)

    def render_failure(self) -> Failure:
        """Return ``internal_error`` for an unexpected rendering error."""
        return Failure("internal_error", FAILURE_MESSAGES["internal_error"])

    def callback_request(self, task: Task, data: dict) -> tuple[dict[str, str], object]:
        """Headers ``X-Event``, ``X-Task-Id``, ``X-Timestamp``; the task object as the body."""
        event = "task.completed" if data["status"] == "completed" else "task.failed"
        headers = {
            "User-Agent": "aivideoapi-simulator/1",
            "X-Event": event,
            "X-Task-Id": task.task_id,
            "X-Timestamp": str(int(time.time())),
        }
        return headers, data

    def claimed_state(self, data: dict) -> str:
        """Return ``data["status"]``."""
        return data["status"]

    def opposite_outcome(self, task: Task, data: dict) -> dict:
        """Return a task object claiming the other final outcome (``callback_mismatch``)."""
        claimed = {key: value for key, value in data.items() if key not in ("output", "error")}
        if data["status"] == "completed":
            failure = MISMATCH_FAILURE
            return claimed | {
                "status": "failed",
                "error": {"code": failure.code, "message": failure.message},
            }
        return claimed | {
            "status": "completed",
            "progress": 100,
            "output": _output(task, MISMATCH_RESULT_URL),
        }


def _output(task: Task, url: str) -> dict:
    """Return ``output`` of a completed task (docs/providers/aivideoapi.md "Completed" example)."""
    spec: AivideoapiSpec = task.spec  # type: ignore[assignment]
    return {
        "urls": [url],
        "metadata": {
            "seed": spec.seed,
            "ratio": spec.aspect_ratio,
            "duration": spec.duration,
            "resolution": spec.resolution,
            "generate_audio": spec.sound,
            "framespersecond": FRAMES_PER_SECOND,
        },
    }


def _progress(task: Task, state: str, now: float) -> int:
    """Return 0 while pending, 1-99 along processing, 100 when completed; a failed task keeps
    the progress it had reached."""
    if state == "success":
        return 100
    if state == "pending":
        return 0
    at = task.completed_at if state == "failed" and task.completed_at is not None else now
    span = task.due_at - task.pending_until
    if span <= 0:
        return 99 if state == "processing" else 0
    return max(1, min(99, int(100 * (at - task.pending_until) / span)))
