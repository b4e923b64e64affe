"""Drive tasks from pending to a final state over (scaled) time, for either provider.

Sources: docs/providers/apixo.md "Latency and polling" (typical generation time per duration, extend
takes somewhat longer; each task's time is drawn within that range: :func:`completion_seconds`),
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
import math
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

# docs/providers/apixo.md "Latency and polling": typical generation time per clip length, seconds.
TYPICAL_RANGE = {4: (40.0, 60.0), 8: (60.0, 90.0), 12: (90.0, 120.0)}
EXTEND = "seedance-1-5-pro-extend"
EXTEND_FACTOR = 1.15  # docs/providers/apixo.md "Latency and polling": "may take slightly longer"
# Not documented: the simulator's own assumption that 1080p (extend only) takes a bit longer.
RESOLUTION_FACTOR = {"1080p": 1.1}
# Where a generation time falls in its range: the range's low end (the model's own work) plus a
# right-skewed wait (queue, route, inputs): log-normal with its median at this share of the
# range's width and this sigma, drawn again when it would pass the range's high end (about 2 %
# of draws). Median ~0.35 into the range, 5th percentile ~0.15, 95th ~0.8.
WAIT_MEDIAN_SHARE = 0.35
WAIT_SIGMA = 0.5
MAX_DRAWS = 100
PENDING_SHARE = 0.15
SLOW_FACTOR = 10.0

_FAIL_TRIGGER = re.compile(r"\[sim:fail(?:=([^\]]+))?\]")
_SLOW_TRIGGER = "[sim:slow]"


def documented_range(spec: Spec) -> tuple[float, float]:
    """Return the typical generation time of ``spec`` as (low, high) seconds, unscaled.

    docs/providers/apixo.md "Latency and polling": 40-60 s for a 4 s clip, 60-90 s for 8 s,
    90-120 s for 12 s (linear in between), x1.15 for an extension ("somewhat longer"); 1080p
    x1.1 (``RESOLUTION_FACTOR``, the simulator's assumption). aivideoapi.ai documents no
    timing and runs the same model, so it gets the same figures.
    """
    low_length, high_length = (4, 8) if spec.duration <= 8 else (8, 12)
    share = (spec.duration - low_length) / (high_length - low_length)
    low, high = (
        a + share * (b - a)
        for a, b in zip(TYPICAL_RANGE[low_length], TYPICAL_RANGE[high_length], strict=True)
    )
    factor = (EXTEND_FACTOR if spec.model == EXTEND else 1.0) * RESOLUTION_FACTOR.get(
        spec.resolution, 1.0
    )
    return low * factor, high * factor


def completion_seconds(spec: Spec, dice: Dice) -> float:
    """Draw one task's generation time in seconds (unscaled), within ``documented_range``.

    The low end of the range plus a log-normal wait (``WAIT_MEDIAN_SHARE``, ``WAIT_SIGMA``),
    drawn again while it would end past the high end (after ``MAX_DRAWS`` tries: the high
    end). Real generation times spread like this: never faster than the model's work, now and
    then much slower when queued; so a portal cannot schedule from one constant.
    """
    low, high = documented_range(spec)
    width = high - low
    mu = math.log(WAIT_MEDIAN_SHARE * width)
    for _ in range(MAX_DRAWS):
        wait = dice.lognormal(mu, WAIT_SIGMA)
        if wait <= width:
            return low + wait
    return high


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
        timing_dice: Dice | None = None,
    ) -> None:
        self._store = store
        self._timing_dice = timing_dice or Dice(None)
        self._config = config
        self._dialect = dialect
        self._scheduler = Scheduler()
        self._workers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sim-prepare")
        self._videos = videos or video.VideoCache()
        self.callbacks = CallbackDispatcher(store, config, dialect, self._scheduler)

    def timing(self, spec: Spec, now: float) -> tuple[float, float]:
        """Return (pending_until, due_at) for a task submitted at ``now``.

        The generation time is drawn (:func:`completion_seconds`) and scaled by ``time_scale``.
        """
        config = self._config()
        if config.callback_early:
            return now, now
        total = completion_seconds(spec, self._timing_dice) * config.time_scale
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
