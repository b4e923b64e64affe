"""The polling schedule against the documented figures, written out here, not recomputed.

docs/providers/apixo.md, "Typical generation time": 40-60 s for 4 s of video,
60-90 s for 8 s, 90-120 s for 12 s (linear in between, as ``lifecycle.first_poll_delay``
documents); extend "takes somewhat longer" (x1.15). The first poll comes 40 % into that range,
then every 5-10 s (docs/providers/apixo.md "Latency and polling"). The figures below were worked out
by hand from those sentences, so a wrong table or formula in the code fails here for the right
reason. docs/architecture.md's old target: at most 3 status requests per job on average in polling
mode.
"""

from datetime import timedelta

import pytest

from generations.services.lifecycle import first_poll_delay, next_poll_delay

from ..factories import GenerationFactory

pytestmark = pytest.mark.django_db

# Requested seconds -> typical completion range in seconds
# (docs/providers/apixo.md "Latency and polling"; linear in between).
TYPICAL = {
    4: (40.0, 60.0),
    5: (45.0, 67.5),
    6: (50.0, 75.0),
    7: (55.0, 82.5),
    8: (60.0, 90.0),
    9: (67.5, 97.5),
    10: (75.0, 105.0),
    11: (82.5, 112.5),
    12: (90.0, 120.0),
}
# Requested seconds -> first poll, 40 % into the range: low + 0.4 * (high - low).
FIRST_POLL = {4: 48, 5: 54, 6: 60, 7: 66, 8: 72, 9: 79.5, 10: 87, 11: 94.5, 12: 102}
# Waits after the first poll (docs/providers/apixo.md: every 5-10 s): 5 s, growing by 1 s per poll,
# up to 10 s.
NEXT_POLLS = [5, 6, 7, 8, 9, 10, 10, 10]


def polls_needed(generation, done_after: float) -> int:
    """Count the status requests the schedule makes until one sees the job done."""
    at = first_poll_delay(generation)
    generation.poll_count = 0
    while at < timedelta(seconds=done_after):
        generation.poll_count += 1
        at += next_poll_delay(generation)
    return generation.poll_count + 1


@pytest.fixture(autouse=True)
def _real_time(settings):
    settings.POLL_TIME_SCALE = 1.0


@pytest.mark.parametrize("duration", sorted(FIRST_POLL))
def test_the_first_poll_comes_40_percent_into_the_typical_range(duration):
    low, high = TYPICAL[duration]
    assert low < FIRST_POLL[duration] < high
    generation = GenerationFactory.build(duration=duration)
    assert first_poll_delay(generation) == timedelta(seconds=FIRST_POLL[duration])
    extend = GenerationFactory.build(duration=duration, mode="video-extend")
    assert first_poll_delay(extend) == timedelta(seconds=FIRST_POLL[duration] * 1.15)


def test_callback_mode_polls_a_minute_later_as_a_safety_net():
    generation = GenerationFactory.build(duration=8, callback_token_hash="a" * 64)
    assert first_poll_delay(generation) == timedelta(seconds=72 + 60)


def test_then_every_5_to_10_seconds():
    generation = GenerationFactory.build(duration=4)
    waits = []
    for count in range(len(NEXT_POLLS)):
        generation.poll_count = count
        waits.append(next_poll_delay(generation).total_seconds())
    assert waits == NEXT_POLLS


@pytest.mark.parametrize("duration", sorted(TYPICAL))
def test_polling_mode_averages_at_most_3_status_requests(duration):
    generation = GenerationFactory.build(duration=duration)
    low, high = TYPICAL[duration]
    samples = [low + (high - low) * i / 100 for i in range(101)]  # done anywhere in the range
    counts = [polls_needed(generation, done) for done in samples]
    assert sum(counts) / len(counts) <= 3.0, (duration, sum(counts) / len(counts))
    assert max(counts) <= 5  # even a job done at the slow end of the range
