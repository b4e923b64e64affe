"""A faked aivideoapi.ai for service tests: its answers, task objects and callback headers.

The counterpart of ``tests/fake_apixo.py`` for the second provider, with the shapes of
docs/providers/aivideoapi.md: the ``{"code", "msg", "data"}`` envelope of "Create Task" and
"Credits balance", the bare task object of "Query Task" (also the callback body, "Callback"),
and the ``{"error": {"code", "message", "type"}}`` bodies of "Error Reference". HTTP is faked
with ``responses`` at ``BASE`` (the tests' ``AIVIDEOAPI_BASE_URL``).
"""

import json
import re

BASE = "https://api.aivideoapi.test/v1"
MODEL = "doubao-seedance-1.5-pro"
KEY = "sk-test-key"
SUBMIT_URL = f"{BASE}/videos/generations"
TASK_URL = re.compile(re.escape(f"{BASE}/tasks/") + r"[^/?]+$")
CREDITS_URL = f"{BASE}/credits"
RESULT_URL = "https://file.aivideoapi.test/videos/abc.mp4"

# docs/providers/aivideoapi.md "Error Reference": fault name -> (HTTP status, code, type).
ERRORS = {
    "400": (400, "invalid_request", "invalid_request_error"),
    "401": (401, "invalid_api_key", "authentication_error"),
    "402": (402, "insufficient_credits", "billing_error"),
    "403": (403, "ip_not_allowed", "permission_error"),
    "404": (404, "task_not_found", "invalid_request_error"),
    "429": (429, "rate_limit_exceeded", "rate_limit_error"),
    "spend_limit": (429, "spend_limit_exceeded", "billing_error"),
    "500": (500, "internal_error", "api_error"),
    "503": (503, "upstream_error", "upstream_error"),
}
# The portal's task states (docs/providers/aivideoapi.md "Query Task") -> the provider's ``status``.
STATUS_OF_STATE = {"success": "completed", "failed": "failed"}


def envelope(data, *, code: int = 200, msg: str = "success") -> dict:
    """Return a Create Task / credits answer (docs/providers/aivideoapi.md "Create Task")."""
    return {"code": code, "msg": msg, "data": data}


def error_answer(fault: str) -> tuple[int, dict]:
    """Return ``(status, body)`` of a documented error (docs/providers/aivideoapi.md "Error
    Reference"), e.g. ``error_answer("503")`` is 503 ``upstream_error``."""
    status, code, type_ = ERRORS[fault]
    return status, {"error": {"code": code, "message": f"{code} (test)", "type": type_}}


def task_object(task_id: str, state: str, *, url: str = RESULT_URL) -> dict:
    """Return the task object of ``GET /tasks/{id}`` for the portal's ``state`` (``pending``,
    ``processing``, ``success`` or ``failed``; docs/providers/aivideoapi.md "Query Task")."""
    task: dict = {
        "id": task_id,
        "status": STATUS_OF_STATE.get(state, state),
        "model": MODEL,
        "created_at": 1774790227,
        "progress": 100 if state in STATUS_OF_STATE else 40,
    }
    if state == "success":
        task |= {"completed_at": 1774790327, "output": {"urls": [url]}}
    if state == "failed":
        task |= {
            "completed_at": 1774790327,
            "error": {"code": "upstream_error", "message": "The upstream provider refused it"},
        }
    return task


def callback_body(task_id: str, state: str, **kwargs) -> bytes:
    """Return a callback body: the task object (docs/providers/aivideoapi.md "Callback")."""
    return json.dumps(task_object(task_id, state, **kwargs)).encode()


def callback_headers(task_id: str, state: str) -> dict[str, str]:
    """Return a callback's headers (docs/providers/aivideoapi.md "Callback"): ``X-Task-Id``,
    ``X-Timestamp`` and, for a final ``state``, ``X-Event`` naming it."""
    headers = {"X-Task-Id": task_id, "X-Timestamp": "1774790327"}
    if state in STATUS_OF_STATE:
        headers["X-Event"] = f"task.{STATUS_OF_STATE[state]}"
    return headers
