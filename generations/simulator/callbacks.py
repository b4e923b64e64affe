"""Deliver webhook callbacks for ``request_type: "callback"`` tasks.

Source: CONTRACT.md "Webhooks": when a task reaches a final state, POST the same envelope as
``statusTask`` to ``callback_url``; the receiver must answer HTTP 200 within 30 s; otherwise
retry after 30 s, 2 min and 10 min. Read here as the first delivery plus three retries: once the
third retry fails the webhook is abandoned. Duplicate deliveries happen. No signature.

Fault knobs applied here: ``callback_delay_s``, ``callback_duplicate_rate`` and
``callback_drop_rate`` (both decided per task at submit), ``callback_mismatch`` and the retry
``callback_time_scale``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from .config import SimulatorConfig
from .store import Task, TaskStore

if TYPE_CHECKING:
    from .lifecycle import Scheduler

logger = logging.getLogger(__name__)

RETRY_DELAYS_S = (30.0, 120.0, 600.0)
MISMATCH_RESULT_URL = "http://169.254.169.254/evil.mp4"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def envelope(data: dict) -> dict:
    """Wrap status data as statusTask answers it (001 "Poll for result")."""
    return {"code": 200, "message": "success", "data": data}


def post_json(url: str, payload: dict, *, timeout: float) -> tuple[int | None, str | None]:
    """POST ``payload`` as JSON; return (HTTP status, None) or (None, error description).

    ``url`` was checked to be HTTP(S) when the task was submitted.
    """
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "apixo-simulator/1"},
        method="POST",
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, None
    except urllib.error.URLError as exc:
        return None, str(exc.reason)
    except (OSError, ValueError) as exc:  # timeouts, resets
        return None, type(exc).__name__


def opposite_outcome(data: dict) -> dict:
    """Return status data claiming the other final outcome (``callback_mismatch``)."""
    outcome_keys = ("resultJson", "failCode", "failMsg")
    claimed = {key: value for key, value in data.items() if key not in outcome_keys}
    if data["state"] == "success":
        claimed |= {"state": "failed", "failCode": "Unknown error", "failMsg": "Generation failed"}
    else:
        claimed |= {
            "state": "success",
            "resultJson": json.dumps({"resultUrls": [MISMATCH_RESULT_URL]}, separators=(",", ":")),
        }
    return claimed


class CallbackDispatcher:
    """Send final-state callbacks in background threads, with the documented retries."""

    def __init__(
        self,
        store: TaskStore,
        config: Callable[[], SimulatorConfig],
        scheduler: Scheduler,
    ) -> None:
        self._store = store
        self._config = config
        self._scheduler = scheduler
        self._senders = ThreadPoolExecutor(max_workers=16, thread_name_prefix="sim-callback")

    def dispatch(self, task: Task, *, deliver_now: bool = False) -> None:
        """Start delivering a final task's callback (nothing for ``callback_drop_rate`` tasks).

        ``deliver_now`` makes the first attempt in the calling thread (``callback_early``)
        unless ``callback_delay_s`` asks for a late delivery.
        """
        if task.drop_callback:
            logger.info("Simulator drops the callback of task %s", task.task_id)
            return
        delay = self._config().callback_delay_s
        if deliver_now and delay == 0:
            self._attempt(task, 0)
        else:
            self._schedule(task, 0, time.time() + delay)

    def stop(self) -> None:
        """Stop sending; attempts already running finish."""
        self._senders.shutdown(wait=False, cancel_futures=True)

    def _schedule(self, task: Task, number: int, when: float) -> None:
        def send() -> None:
            with contextlib.suppress(RuntimeError):  # raised once stopped
                self._senders.submit(self._attempt, task, number)

        self._scheduler.call_at(when, send)

    def _attempt(self, task: Task, number: int) -> None:
        """Make delivery attempt ``number`` (0 = first) and schedule the next if it failed."""
        url = task.spec.callback_url
        if url is None or self._store.get(task.task_id) is not task:
            return  # not a callback task, or forgotten by /_sim/reset
        config = self._config()
        data = self._store.status_data(task, time.time())
        if config.callback_mismatch:
            data = opposite_outcome(data)
        timeout = config.callback_timeout_s
        status = self._send(task, url, data, number, duplicate=False, timeout=timeout)
        if status == 200:
            if task.duplicate_callback:
                self._send(task, url, data, number, duplicate=True, timeout=timeout)
        elif number < len(RETRY_DELAYS_S):
            delay = RETRY_DELAYS_S[number] * config.effective_callback_time_scale
            self._schedule(task, number + 1, time.time() + delay)
        else:
            logger.info("Simulator gave up the callback of task %s", task.task_id)

    def _send(
        self, task: Task, url: str, data: dict, number: int, *, duplicate: bool, timeout: float
    ) -> int | None:
        status, error = post_json(url, envelope(data), timeout=timeout)
        self._store.record_callback(
            task,
            {
                "attempt": number + 1,
                "duplicate": duplicate,
                "at": int(time.time() * 1000),
                "state": data["state"],
                "status": status,
                "error": error,
            },
        )
        return status
