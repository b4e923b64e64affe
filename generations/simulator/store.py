"""In-memory, thread-safe state of one provider: tasks, account balance, request counters.

Each provider of the simulator has its own :class:`TaskStore`, :class:`RequestLog` and
:class:`Dice`. Sources: docs/providers/apixo.md "Rate limits" (10,000 requests/minute, 1,000
concurrent tasks), docs/providers/apixo.md "Billing", docs/providers/aivideoapi.md "Pricing" ("The
provider refunds its own credits on failure"). How a task looks on the wire is the provider's
:class:`~.dialect.Dialect`.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

if TYPE_CHECKING:
    from .dialect import Dialect, Spec

T = TypeVar("T")
WINDOW_S = 60.0


class Failure(NamedTuple):
    """A task's failure: a documented code and a human message (APIXO ``failCode`` and
    ``failMsg``; aivideoapi.ai ``error.code`` and ``error.message``)."""

    code: str
    message: str


class InsufficientBalanceError(Exception):
    """The account cannot pay for the task (HTTP 402)."""


class ConcurrencyLimitError(Exception):
    """Too many non-final tasks (HTTP 429, docs/providers/apixo.md "Rate limits")."""


class SpendLimitError(Exception):
    """The key's spend limit would be exceeded (aivideoapi.ai: 429 spend_limit_exceeded)."""


@dataclass
class Task:
    """One generation task; fields below ``drop_callback`` change as it progresses.

    ``price`` is in the provider's unit (USD for APIXO, credits for aivideoapi.ai);
    ``base_url`` is the root its result is served under (``<base_url>/files/<id>.mp4``).
    """

    task_id: str
    spec: Spec
    request_body: dict
    base_url: str
    created_at: float
    pending_until: float
    due_at: float
    planned_failure: Failure | None
    duplicate_callback: bool
    drop_callback: bool = False
    price: Decimal = Decimal(0)
    prepared: bool = False
    result_path: Path | None = None
    failure: Failure | None = None
    final_state: str | None = None
    completed_at: float | None = None
    status_requests: int = 0
    callbacks: list[dict] = field(default_factory=list)

    @property
    def result_url(self) -> str:
        """Return the public URL of the result video."""
        return f"{self.base_url}/files/{self.task_id}.mp4"

    def state(self, now: float) -> str:
        """Return pending, processing, success or failed (internal names)."""
        if self.final_state is not None:
            return self.final_state
        return "pending" if now < self.pending_until else "processing"


class TaskStore:
    """Hold one provider's tasks and account balance behind one lock.

    The price of a task is deducted from the balance when it is admitted and given back if it
    fails, so the balance only ever pays for successful tasks. ``consumed`` is what was
    deducted and not given back. ``dialect`` renders tasks for the status endpoint.
    """

    def __init__(self, balance: Decimal, dialect: Dialect) -> None:
        self._lock = threading.Lock()
        self._dialect = dialect
        self._tasks: dict[str, Task] = {}
        self._active: set[str] = set()
        self._balance = balance
        self._consumed = Decimal(0)

    def admit(self, task: Task, *, max_active: int, spend_limit: Decimal | None = None) -> None:
        """Store a new task and deduct its price; raise ConcurrencyLimitError, SpendLimitError
        or InsufficientBalanceError without storing anything."""
        price = task.price
        with self._lock:
            if len(self._active) >= max_active:
                raise ConcurrencyLimitError
            if spend_limit is not None and self._consumed + price > spend_limit:
                raise SpendLimitError
            if self._balance < price:
                raise InsufficientBalanceError
            self._balance -= price
            self._consumed += price
            self._tasks[task.task_id] = task
            self._active.add(task.task_id)

    def get(self, task_id: str) -> Task | None:
        """Return a stored task by id."""
        with self._lock:
            return self._tasks.get(task_id)

    def poll(self, task_id: str, now: float, model: str | None = None) -> dict | None:
        """Count a status request and return the task's status data, or None if not found.

        With ``model``, a task created under another model is not found.
        """
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None or (model is not None and task.spec.model != model):
                return None
            task.status_requests += 1
            return self._dialect.status_data(task, now)

    def status_data(self, task: Task, now: float) -> dict:
        """Return a task's status data without counting a request."""
        with self._lock:
            return self._dialect.status_data(task, now)

    def mark_prepared(
        self, task: Task, *, result_path: Path | None, failure: Failure | None
    ) -> bool:
        """Record the outcome of input checks and rendering; False if the task was cleared."""
        with self._lock:
            if self._tasks.get(task.task_id) is not task:
                return False
            task.result_path, task.failure, task.prepared = result_path, failure, True
            return True

    def finalize(self, task: Task, now: float) -> bool:
        """Move a prepared task to its final state once; give a failed task's price back.

        Return False if the task is gone, not prepared or already final.
        """
        with self._lock:
            if self._tasks.get(task.task_id) is not task or not task.prepared:
                return False
            if task.final_state is not None:
                return False
            task.completed_at = now
            task.final_state = "failed" if task.failure else "success"
            if task.failure:
                self._balance += task.price
                self._consumed -= task.price
            self._active.discard(task.task_id)
            return True

    def record_callback(self, task: Task, record: dict) -> None:
        """Append one delivery attempt to a task's callback log."""
        with self._lock:
            task.callbacks.append(record)

    @property
    def balance(self) -> Decimal:
        """Return the available balance (prices of admitted tasks already deducted)."""
        with self._lock:
            return self._balance

    @property
    def consumed(self) -> Decimal:
        """Return what admitted tasks cost, failed ones excepted."""
        with self._lock:
            return self._consumed

    def set_balance(self, balance: Decimal) -> None:
        """Set the available balance."""
        with self._lock:
            self._balance = balance

    def describe(self, now: float) -> list[dict]:
        """Return every task with its request body, state and counters (``GET /_sim/tasks``)."""
        label = self._dialect.state_label
        with self._lock:
            return [
                {
                    "taskId": task.task_id,
                    "model": task.spec.model,
                    "state": label(task.state(now)),
                    "request": task.request_body,
                    "status": self._dialect.status_data(task, now),
                    "statusRequests": task.status_requests,
                    "callbacks": list(task.callbacks),
                }
                for task in self._tasks.values()
            ]

    def counts(self, now: float) -> dict:
        """Return tasks per state, status requests per task and callback attempts
        (``GET /_sim/stats``)."""
        with self._lock:
            states = Counter(task.state(now) for task in self._tasks.values())
            per_task = {task_id: t.status_requests for task_id, t in self._tasks.items()}
            attempts = [a for task in self._tasks.values() for a in task.callbacks]
        total = len(per_task)
        label = self._dialect.state_label
        return {
            "tasks": {"total": total, "active": total - states["success"] - states["failed"]}
            | {label(state): count for state, count in states.items()},
            "status_requests_per_task": per_task,
            "status_requests_avg": sum(per_task.values()) / total if total else 0.0,
            "callbacks": {
                "attempts": len(attempts),
                "delivered": sum(
                    1 for attempt in attempts if self._dialect.delivered(attempt["status"])
                ),
            },
        }

    def clear(self, balance: Decimal) -> None:
        """Forget every task and set the balance (``POST /_sim/reset``)."""
        with self._lock:
            self._tasks.clear()
            self._active.clear()
            self._balance = balance
            self._consumed = Decimal(0)


class RequestLog:
    """Count requests per endpoint and enforce the per-minute rate limit
    (docs/providers/apixo.md "Rate limits").

    ``max_requests_per_60s`` is the largest number of API requests received in any 60 s window;
    requests refused with 429 count there but not against the limit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def record(self, endpoint: str, outcome: str) -> None:
        """Count one request and its outcome (an HTTP status, or "dropped")."""
        with self._lock:
            self._endpoints[endpoint] += 1
            self._statuses[outcome] += 1

    def arrive(self, now: float) -> None:
        """Note an API request, authenticated or not, for ``max_requests_per_60s``."""
        with self._lock:
            self._received.append(now)
            while self._received[0] <= now - WINDOW_S:
                self._received.popleft()
            self._peak = max(self._peak, len(self._received))

    def admit(self, now: float, limit: int) -> bool:
        """Admit an authenticated request unless ``limit`` were exceeded in the last 60 s."""
        with self._lock:
            while self._admitted and self._admitted[0] <= now - WINDOW_S:
                self._admitted.popleft()
            if len(self._admitted) >= limit:
                return False
            self._admitted.append(now)
            return True

    def snapshot(self) -> dict:
        """Return the counters as JSON-ready data."""
        with self._lock:
            return {
                "requests": dict(self._endpoints),
                "responses": dict(self._statuses),
                "max_requests_per_60s": self._peak,
            }

    def clear(self) -> None:
        """Reset every counter."""
        with self._lock:
            self._endpoints: Counter[str] = Counter()
            self._statuses: Counter[str] = Counter()
            self._received: deque[float] = deque()
            self._admitted: deque[float] = deque()
            self._peak = 0


class Dice:
    """Thread-safe, reseedable random source behind every injected fault (and, as its own
    instance, behind generation times: ``lifecycle.completion_seconds``)."""

    def __init__(self, seed: int | str | None) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def chance(self, rate: float) -> bool:
        """Return True with probability ``rate`` (0 never, 1 always)."""
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def choice(self, options: Sequence[T]) -> T:
        """Return one of ``options`` at random."""
        with self._lock:
            return self._random.choice(options)

    def lognormal(self, mu: float, sigma: float) -> float:
        """Return a log-normal draw: ``exp`` of a normal with mean ``mu`` and deviation
        ``sigma``."""
        with self._lock:
            return self._random.lognormvariate(mu, sigma)

    def integer(self, low: int, high: int) -> int:
        """Return an integer from ``low`` to ``high`` inclusive."""
        with self._lock:
            return self._random.randint(low, high)

    def reseed(self, seed: int | str | None) -> None:
        """Restart the sequence from ``seed``."""
        with self._lock:
            self._random.seed(seed)
