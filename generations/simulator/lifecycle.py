"""Drive tasks from pending to a final state over (scaled) time, for either provider.

Sources: docs/providers/apixo.md "Latency and polling" (typical generation time per duration),
docs/providers/apixo.md "Latency and polling" (extend takes somewhat longer),
docs/providers/apixo.md "Status response fields" and docs/providers/aivideoapi.md "Query Task"
(pending -> processing -> a final state). aivideoapi.ai documents no timing; it runs the same model,
so it gets the same figures.

A submitted task is *prepared* in a worker pool (inputs fetched and checked, result rendered),
then *finalized* at its due time (or when preparation ends, if later); tasks with a callback
URL are then handed to the :class:`~.callbacks.CallbackDispatcher`. What failures look like is
the provider's :class:`~.dialect.Dialect`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import inputs, video
from .callbacks import CallbackDispatcher
from .config import BaseConfig, SimulatorConfig
from .dialect import Dialect, Spec
from .store import Dice, Failure, Task, TaskStore

logger = logging.getLogger(__name__)

# docs/providers/apixo.md "Latency and polling": 4 s -> 40-60 s, 8 s -> 60-90 s, 12 s -> 90-120 s
# (midpoints).
TYPICAL_SECONDS = {4: 50.0, 8: 75.0, 12: 105.0}
EXTEND = "seedance-1-5-pro-extend"
EXTEND_FACTOR = 1.15  # docs/providers/apixo.md "Latency and polling": "may take slightly longer"
PENDING_SHARE = 0.15
SLOW_FACTOR = 10.0

_FAIL_TRIGGER = re.compile(r"\[sim:fail(?:=([^\]]+))?\]")
_SLOW_TRIGGER = "[sim:slow]"


def typical_seconds(spec: Spec) -> float:
    """Return the documented typical generation time, linear between 4, 8 and 12 s clips."""
    low, high = (4, 8) if spec.duration <= 8 else (8, 12)
    share = (spec.duration - low) / (high - low)
    seconds = TYPICAL_SECONDS[low] + share * (TYPICAL_SECONDS[high] - TYPICAL_SECONDS[low])
    return seconds * (EXTEND_FACTOR if spec.model == EXTEND else 1.0)


def is_slow(prompt: str) -> bool:
    """Tell whether the prompt carries the ``[sim:slow]`` trigger."""
    return _SLOW_TRIGGER in prompt


def planned_failure(
    prompt: str,
    dice: Dice,
    fail_rate: float,
    *,
    pool: Sequence[Failure],
    messages: Mapping[str, str],
) -> Failure | None:
    """Return the failure a task is destined for, or None.

    ``[sim:fail=Code]`` in the prompt picks ``Code`` (message from ``messages``), ``[sim:fail]``
    or ``fail_rate`` one of ``pool`` at random.
    """
    match = _FAIL_TRIGGER.search(prompt)
    if match is None and not dice.chance(fail_rate):
        return None
    code = match.group(1).strip() if match and match.group(1) else None
    if code is None:
        return dice.choice(pool)
    return Failure(code, messages.get(code, f"Simulated failure: {code}"))


class Scheduler:
    """Run callables at wall-clock times on one daemon thread; they must return quickly."""

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sim-scheduler", daemon=True)
        self._thread.start()

    def call_at(self, when: float, action: Callable[[], None]) -> None:
        """Run ``action`` at ``when`` (``time.time()`` seconds), or at once if past."""
        with self._wake:
            heapq.heappush(self._queue, (when, next(self._order), action))
            self._wake.notify()

    def stop(self) -> None:
        """Stop the thread; pending actions are dropped."""
        with self._wake:
            self._stopped = True
            self._queue.clear()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._queue or self._queue[0][0] > time.time()):
                    timeout = self._queue[0][0] - time.time() if self._queue else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, action = heapq.heappop(self._queue)
            try:
                action()
            except Exception:
                logger.exception("Simulator scheduled action failed")


class Engine:
    """Prepare and finalize tasks; the single owner of the task lifecycle."""

    def __init__(
        self,
        store: TaskStore,
        config: Callable[[], BaseConfig],
        dialect: Dialect,
        videos: video.VideoCache | None = None,
    ) -> None:
        self._store = store
        self._config = config
        self._dialect = dialect
        self._scheduler = Scheduler()
        self._workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sim-prepare")
        self._videos = videos or video.VideoCache()
        self.callbacks = CallbackDispatcher(store, config, dialect, self._scheduler)

    def timing(self, spec: Spec, now: float) -> tuple[float, float]:
        """Return (pending_until, due_at) for a task submitted at ``now``."""
        config = self._config()
        if config.callback_early:
            return now, now
        total = typical_seconds(spec) * config.time_scale
        if is_slow(spec.prompt):
            total *= SLOW_FACTOR
        return now + total * PENDING_SHARE, now + total

    def start(self, task: Task) -> None:
        """Begin work on an admitted task.

        With ``callback_early`` the task is prepared and finalized in the caller's thread and
        the first callback attempt is made before returning, i.e. before the submit answer.
        """
        if self._config().callback_early:
            self._prepare(task)
            self._finalize(task, deliver_now=True)
        else:
            self._workers.submit(self._prepare_and_schedule, task)

    def stop(self) -> None:
        """Stop background work (tasks in flight are abandoned)."""
        self._scheduler.stop()
        self._workers.shutdown(wait=False, cancel_futures=True)
        self.callbacks.stop()

    def _prepare_and_schedule(self, task: Task) -> None:
        self._prepare(task)
        self._scheduler.call_at(task.due_at, lambda: self._finalize(task))

    def _prepare(self, task: Task) -> None:
        """Check inputs and render the result, recording either a path or a failure."""
        if task.planned_failure is not None:
            self._store.mark_prepared(task, result_path=None, failure=task.planned_failure)
            return
        try:
            path = self._render(task.spec)
        except inputs.InputError as exc:
            failure = self._dialect.input_failure(exc.failure)
            self._store.mark_prepared(task, result_path=None, failure=failure)
        except Exception:
            logger.exception("Simulator could not render task %s", task.task_id)
            failure = self._dialect.render_failure()
            self._store.mark_prepared(task, result_path=None, failure=failure)
        else:
            self._store.mark_prepared(task, result_path=path, failure=None)

    def _render(self, spec: Spec) -> Path:
        config = self._config()
        if spec.image_urls:
            inputs.check_images(
                spec.image_urls, timeout=config.fetch_timeout_s, max_bytes=config.max_image_bytes
            )
        duration = float(spec.duration)
        aspect = video.parse_aspect_ratio(spec.aspect_ratio)
        if spec.video_urls:
            assert isinstance(config, SimulatorConfig)  # only APIXO's extend takes a clip
            source = inputs.check_source_video(
                spec.video_urls[0],
                timeout=config.fetch_timeout_s,
                max_bytes=config.max_video_bytes,
                scratch=config.media_path / "sources",
            )
            # docs/providers/apixo.md "Output": the final stitched video
            duration += source.duration_s
            aspect = (source.width, source.height)
        width, height = video.frame_size(*aspect, spec.resolution)
        return self._videos.get(
            config.media_path,
            width=width,
            height=height,
            duration_s=duration,
            sound=spec.sound,
            fps=self._dialect.fps,
        )

    def _finalize(self, task: Task, *, deliver_now: bool = False) -> None:
        if self._store.finalize(task, time.time()) and task.spec.callback_url is not None:
            self.callbacks.dispatch(task, deliver_now=deliver_now)
