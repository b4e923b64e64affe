"""When to ask the provider for a job's status: the first poll and the ones after it.

docs/providers/apixo.md "Latency and polling" ("The portal's schedule") states the rules, and
docs/architecture.md "Performance targets" the figures they are held to: in polling mode at most
1.5 status requests per job on average, with a p95 finalize delay (provider finished -> portal
finalized) under 10 s (``benchmarks/inflight.py`` measures both).

The trade-off: a later first poll finds more jobs done (fewer requests) but leaves the fast ones
waiting longer. Generation times spread over their documented range, so no one figure fits
every job; the first poll comes at ``OBSERVED_SHARE`` of the completion times this portal
observed for similar jobs, and only without enough of them at a fixed share of the documented
range.
"""

import logging
import math
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache

from ..catalog import Mode
from ..models import Generation
from ..selectors.poll_schedule import completion_samples

logger = logging.getLogger(__name__)

# docs/providers/apixo.md "Latency and polling": typical generation time, seconds, per clip length.
TYPICAL_SECONDS = {4: (40.0, 60.0), 8: (60.0, 90.0), 12: (90.0, 120.0)}
EXTEND_FACTOR = 1.15  # docs/providers/apixo.md "Latency and polling": extend takes somewhat longer
# Without enough observed jobs: the first poll this far into the documented range.
FIRST_POLL_SHARE = 0.4
# From observed jobs: the first poll at this percentile of their completion times (nearest
# rank), over the latest OBSERVED_WINDOW similar succeeded jobs, once there are
# OBSERVED_MIN of them. Cached per kind of job for OBSERVED_CACHE_S seconds (it runs at each
# submit).
OBSERVED_SHARE = 0.65
OBSERVED_WINDOW = 100
OBSERVED_MIN = 20
OBSERVED_CACHE_S = 30
# Polling mode, after the first poll found the job running: 8 s for the next two, then 1 s
# more per poll up to 10 s (docs/providers/apixo.md "Latency and polling": "then every 5-10 s").
FOLLOW_UP_S = 8.0
FOLLOW_UP_MAX_S = 10.0
# Callback mode: polling is only the safety net, so it starts this much later (seconds,
# scaled) and runs every 30-60 s instead.
CALLBACK_FIRST_POLL_MARGIN_S = 60.0
CALLBACK_POLL_INTERVAL_S = (30.0, 60.0)

_NOT_ENOUGH = "not-enough"


def _scaled(seconds: float) -> timedelta:
    return timedelta(seconds=seconds * settings.POLL_TIME_SCALE)


def documented_first_poll_seconds(*, mode: str, duration: int) -> float:
    """Return the fallback first poll, unscaled seconds: ``FIRST_POLL_SHARE`` into the range.

    docs/providers/apixo.md "Latency and polling": 40-60 s for 4 s of video, 60-90 s for 8 s,
    90-120 s for 12 s, linear in between; extend x1.15. That gives 48, 72 and 102 s (55.2,
    82.8 and 117.3 s for an extension).
    """
    low_length, high_length = (4, 8) if duration <= 8 else (8, 12)
    share = (duration - low_length) / (high_length - low_length)
    low, high = (
        a + share * (b - a)
        for a, b in zip(TYPICAL_SECONDS[low_length], TYPICAL_SECONDS[high_length], strict=True)
    )
    seconds = low + FIRST_POLL_SHARE * (high - low)
    if mode == Mode.VIDEO_EXTEND:
        seconds *= EXTEND_FACTOR
    return seconds


def observed_first_poll_seconds(
    *, provider: str, mode: str, resolution: str, duration: int
) -> float | None:
    """Return the ``OBSERVED_SHARE`` percentile of similar jobs' completion times, or None.

    Nearest rank over the latest ``OBSERVED_WINDOW`` succeeded jobs with the same provider,
    mode, resolution and duration (``selectors.poll_schedule.completion_samples``): the
    ``ceil(OBSERVED_SHARE * n)``-th smallest of the ``n`` samples. None when there are fewer
    than ``OBSERVED_MIN``. The samples are wall-clock seconds as observed, so they need no
    ``POLL_TIME_SCALE``. The answer is cached for ``OBSERVED_CACHE_S`` seconds per kind of
    job; a cache that fails is skipped (the query is one index range read).
    """
    key = f"poll-schedule:v1:{provider}:{mode}:{resolution}:{duration}"
    try:
        cached = cache.get(key)
    except Exception:  # a cache outage must not stop submits
        logger.warning("Poll schedule cache unavailable", exc_info=True)
        cached = None
    if cached is not None:
        return None if cached == _NOT_ENOUGH else float(cached)
    samples = completion_samples(
        provider=provider,
        mode=mode,
        resolution=resolution,
        duration=duration,
        limit=OBSERVED_WINDOW,
    )
    seconds = None
    if len(samples) >= OBSERVED_MIN:
        samples.sort()
        seconds = samples[math.ceil(OBSERVED_SHARE * len(samples)) - 1]
    try:
        cache.set(key, _NOT_ENOUGH if seconds is None else seconds, OBSERVED_CACHE_S)
    except Exception:
        logger.warning("Poll schedule cache unavailable", exc_info=True)
    return seconds


# The learned first poll never comes later than this many times the documented figure.
OBSERVED_MAX_FACTOR = 4.0


def first_poll_delay(generation: Generation) -> timedelta:
    """Return how long after the submit answer to poll ``generation`` first.

    Polling mode: the observed percentile (:func:`observed_first_poll_seconds`, at most
    ``OBSERVED_MAX_FACTOR`` times the documented figure) when there are enough similar jobs,
    else :func:`documented_first_poll_seconds` scaled by
    ``POLL_TIME_SCALE``. Callback mode (``generation.uses_callback``): the callback should
    come first, so the safety-net poll waits the documented figure plus
    ``CALLBACK_FIRST_POLL_MARGIN_S`` (scaled), whatever was observed.

    Args:
        generation: the job being submitted (``provider``, ``mode``, ``resolution``,
            ``duration`` and ``callback_token_hash`` are read; nothing is written).
    """
    documented = documented_first_poll_seconds(mode=generation.mode, duration=generation.duration)
    if generation.uses_callback:
        return _scaled(documented + CALLBACK_FIRST_POLL_MARGIN_S)
    observed = observed_first_poll_seconds(
        provider=generation.provider,
        mode=generation.mode,
        resolution=generation.resolution,
        duration=generation.duration,
    )
    if observed is not None:
        # Samples are the provider's completion time minus our submit time: a provider clock
        # that is off (or a units slip) must not push first polls out towards the deadline.
        ceiling = _scaled(documented * OBSERVED_MAX_FACTOR)
        return min(timedelta(seconds=max(observed, 0.0)), ceiling)
    return _scaled(documented)


def next_poll_delay(generation: Generation, *, fast: bool = False) -> timedelta:
    """Return the wait before the next poll, scaled by ``POLL_TIME_SCALE``.

    ``generation.poll_count`` counts the status requests made before the one just answered.
    Polling mode: ``FOLLOW_UP_S`` (8 s) after the first and the second poll, then 1 s more per
    poll up to ``FOLLOW_UP_MAX_S`` (10 s): a job missed by the first poll is finalized at most
    about 8 s after it finished. Callback mode: 30 s growing by 5 s per poll up to 60 s
    (docs/providers/apixo.md "Webhooks": "use callback mode to avoid frequent polling"), unless
    ``fast``: a callback announced a final state that the status answer does not show yet, so
    the next look comes at the polling-mode pace.
    """
    if generation.uses_callback and not fast:
        low, high = CALLBACK_POLL_INTERVAL_S
        return _scaled(min(low + 5.0 * generation.poll_count, high))
    return _scaled(min(FOLLOW_UP_S + max(0, generation.poll_count - 1), FOLLOW_UP_MAX_S))
