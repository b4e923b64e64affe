"""A faked APIXO for service and view tests: answers, webhook bodies and job helpers.

HTTP is faked at the provider seam with ``responses`` (docs/style.md practice 11): every request
the portal makes is recorded, and a URL nobody registered raises instead of going out. The
fixtures ``api``, ``payer`` and ``make_job`` live in ``tests/conftest.py``.
"""

import json

from generations.models import Generation
from generations.services.callback_tokens import callback_token_new

BASE = "https://api.apixo.test/api/v1"
PRO = "seedance-1-5-pro"
SUBMIT_URL = f"{BASE}/generateTask/{PRO}"
STATUS_URL = f"{BASE}/statusTask/{PRO}"
RESULT_URL = "https://file.apixo.test/result.mp4"
ATTACKER_URL = "http://169.254.169.254/evil.mp4"


def envelope(data, *, code: int = 200, message: str = "success") -> dict:
    """Return an APIXO answer body (docs/providers/apixo.md "Envelope and states")."""
    return {"code": code, "message": message, "data": data}


def task_data(task_id: str, state: str, *, url: str = RESULT_URL) -> dict:
    """Return statusTask ``data`` for ``state`` (docs/providers/apixo.md "Poll for result")."""
    data: dict = {"taskId": task_id, "state": state, "createTime": 1767965610929}
    if state == "success":
        data["resultJson"] = json.dumps({"resultUrls": [url]})
    if state == "failed":
        data |= {"failCode": "SensitiveContent", "failMsg": "Content violates upstream policy"}
    if state in ("success", "failed"):
        data |= {"completeTime": 1767965695412, "costTime": 84483}
    return data


def callback_body(task_id: str, state: str, **kwargs) -> bytes:
    """Return a webhook body: the statusTask envelope (docs/providers/apixo.md "Webhooks")."""
    return json.dumps(envelope(task_data(task_id, state, **kwargs))).encode()


def status_calls(api) -> int:
    """Return how many statusTask requests were made."""
    return sum(1 for call in api.calls if call.request.url.startswith(STATUS_URL))


def give_token(generation: Generation) -> str:
    """Give ``generation`` a webhook token (as a callback-mode submit does); return it."""
    token, token_hash = callback_token_new()
    Generation.objects.filter(pk=generation.pk).update(callback_token_hash=token_hash)
    generation.callback_token_hash = token_hash
    return token


def settlements(generation: Generation) -> list[str]:
    """Return the kinds of the job's ledger entries, in order."""
    return list(generation.credit_entries.order_by("id").values_list("kind", flat=True))
