"""Generation times: drawn within the documented range, spread, reproducible with a seed.

docs/providers/apixo.md "Latency and polling": typical generation time 40-60 s for a 4 s clip,
60-90 s for 8 s, 90-120 s for 12 s; extensions take somewhat longer (the simulator's x1.15), and
the simulator's own assumption that 1080p takes 10 % longer. The ranges below are written out
from those sentences, not taken from the simulator's tables.
"""

from __future__ import annotations

import statistics
from types import SimpleNamespace

import pytest

from generations.simulator.config import SimulatorConfig
from generations.simulator.lifecycle import Engine, completion_seconds
from generations.simulator.store import Dice

from .conftest import EXTEND, PRO

# (model, resolution, duration) -> documented typical range in seconds.
RANGES = {
    (PRO, "480p", 4): (40.0, 60.0),
    (PRO, "720p", 6): (50.0, 75.0),  # half way between 4 s and 8 s
    (PRO, "720p", 8): (60.0, 90.0),
    (PRO, "480p", 12): (90.0, 120.0),
    (EXTEND, "720p", 4): (46.0, 69.0),  # x1.15
    (EXTEND, "1080p", 12): (113.85, 151.8),  # x1.15 x1.1
}
DRAWS = 2000


def spec(model: str, resolution: str, duration: int) -> SimpleNamespace:
    return SimpleNamespace(model=model, resolution=resolution, duration=duration, prompt="p")


@pytest.mark.parametrize(("key", "bounds"), RANGES.items(), ids=lambda v: str(v))
def test_times_stay_in_the_documented_range_and_are_spread_over_it(key, bounds):
    low, high = bounds
    dice = Dice(11)
    times = [completion_seconds(spec(*key), dice) for _ in range(DRAWS)]

    assert low <= min(times) and max(times) <= high
    width = high - low
    # Not a constant: the draws cover most of the range, skewed towards its low end (the
    # model's own work, plus a queue wait that is sometimes long).
    assert len(set(times)) > DRAWS * 0.99
    assert min(times) < low + 0.15 * width
    assert max(times) > low + 0.8 * width
    assert low + 0.2 * width < statistics.median(times) < low + 0.5 * width


def test_longer_clips_take_longer_on_average():
    dice = Dice(3)
    means = {
        duration: statistics.mean(
            completion_seconds(spec(PRO, "720p", duration), dice) for _ in range(500)
        )
        for duration in (4, 8, 12)
    }
    assert means[4] < means[8] < means[12]


def test_a_seed_repeats_the_same_times():
    first, second, other = Dice(5), Dice(5), Dice(6)
    clip = spec(PRO, "480p", 8)

    a = [completion_seconds(clip, first) for _ in range(20)]
    b = [completion_seconds(clip, second) for _ in range(20)]
    c = [completion_seconds(clip, other) for _ in range(20)]

    assert a == b
    assert a != c


def test_the_engine_scales_the_drawn_time_by_time_scale():
    config = SimulatorConfig(time_scale=0.5)
    engine = Engine(None, lambda: config, None, timing_dice=Dice(8))  # type: ignore[arg-type]
    try:
        dues = [engine.timing(spec(PRO, "480p", 4), now=1000.0)[1] - 1000.0 for _ in range(200)]
    finally:
        engine.stop()

    # 40-60 s at half speed: 20-30 s, and not all the same.
    assert min(dues) >= 20.0 and max(dues) <= 30.0
    assert len(set(dues)) > 150
