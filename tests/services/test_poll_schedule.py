"""The polling schedule against DESIGN.md's target: at most 3 status requests per job on
average in polling mode, for completion times spread over CONTRACT.md's typical ranges."""

from datetime import timedelta

import pytest

from generations.services.lifecycle import TYPICAL_SECONDS, first_poll_delay, next_poll_delay

from ..factories import GenerationFactory

pytestmark = pytest.mark.django_db


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


@pytest.mark.parametrize(("duration", "first"), [(4, 48), (8, 72), (12, 102)])
def test_the_first_poll_comes_40_percent_into_the_typical_range(duration, first):
    generation = GenerationFactory.build(duration=duration)
    assert first_poll_delay(generation) == timedelta(seconds=first)
    extend = GenerationFactory.build(duration=duration, mode="video-extend")
    assert first_poll_delay(extend) == timedelta(seconds=first * 1.15)


@pytest.mark.parametrize("duration", range(4, 13))
def test_polling_mode_averages_at_most_3_status_requests(duration):
    generation = GenerationFactory.build(duration=duration)
    low_length, high_length = (4, 8) if duration <= 8 else (8, 12)
    share = (duration - low_length) / (high_length - low_length)
    low, high = (
        a + share * (b - a)
        for a, b in zip(TYPICAL_SECONDS[low_length], TYPICAL_SECONDS[high_length], strict=True)
    )
    samples = [low + (high - low) * i / 100 for i in range(101)]  # done anywhere in the range
    counts = [polls_needed(generation, done) for done in samples]
    assert sum(counts) / len(counts) <= 3.0, (duration, sum(counts) / len(counts))
    assert max(counts) <= 5  # even a job done at the slow end of the range
