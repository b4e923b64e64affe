"""Deliver callbacks for final tasks, with each provider's retries.

Sources: docs/providers/apixo.md "Webhooks" (APIXO: POST the ``statusTask`` envelope; the receiver
must answer HTTP 200 within 30 s; otherwise retry after 30 s, 2 min and 10 min) and
docs/providers/aivideoapi.md "Callback" (POST the task object with ``X-Event``, ``X-Task-Id`` and
``X-Timestamp``; a non-2xx answer or an unreachable server is retried: the 1st attempt is immediate,
the 2nd 3 minutes later, the 3rd 10 minutes later, then the callback is marked failed). The wire
details come from the provider's :class:`~.dialect.Dialect`; here a failed attempt is followed by
the next of ``dialect.retry_delays_s`` until they run out.

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

from .config import BaseConfig
from .dialect import Dialect
from .store import Task, TaskStore

if TYPE_CHECKING:
    from .lifecycle import Scheduler

logger = logging.getLogger(__name__)

MISMATCH_RESULT_URL = "http://169.254.169.254/evil.mp4"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post_json(
    url: str, payload: object, *, timeout: float, headers: dict[str, str] | None = None
) -> tuple[int | None, str | None]:
    """POST ``payload`` as JSON; return (HTTP status, None) or (None, error description).

    ``url`` was checked to be HTTP(S) when the task was submitted.
    """
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "seedance-simulator/1"}
        | (headers or {}),
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


class CallbackDispatcher:
    """Send final-state callbacks in background threads, with the provider's retries."""

    def __init__(
        self,
        store: TaskStore,
        config: Callable[[], BaseConfig],
        dialect: Dialect,
        scheduler: Scheduler,
    ) -> None:
        self._store = store
        self._config = config
        self._dialect = dialect
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
            data = self._dialect.opposite_outcome(task, data)
        timeout = config.callback_timeout_s
        status = self._send(task, url, data, number, duplicate=False, timeout=timeout)
        delays = self._dialect.retry_delays_s
        if self._dialect.delivered(status):
            if task.duplicate_callback:
                self._send(task, url, data, number, duplicate=True, timeout=timeout)
        elif number < len(delays):
            delay = delays[number] * config.effective_callback_time_scale
            self._schedule(task, number + 1, time.time() + delay)
        else:
            logger.info("Simulator gave up the callback of task %s", task.task_id)

    def _send(
        self, task: Task, url: str, data: dict, number: int, *, duplicate: bool, timeout: float
    ) -> int | None:
        headers, payload = self._dialect.callback_request(task, data)
        status, error = post_json(url, payload, timeout=timeout, headers=headers)
        self._store.record_callback(
            task,
            {
                "attempt": number + 1,
                "duplicate": duplicate,
                "at": int(time.time() * 1000),
                "state": self._dialect.claimed_state(data),
                "status": status,
                "error": error,
            },
        )
        return status
