"""Read-only: how long similar jobs took at the provider, for the first poll's time; no network.

docs/providers/apixo.md "Latency and polling" ("The portal's schedule"): the first poll of a
polling-mode job comes at a percentile of the completion times observed for recent succeeded
jobs of the same provider, mode, resolution and duration (``services.poll_schedule``).
"""

from ..models import Generation


def completion_samples(
    *, provider: str, mode: str, resolution: str, duration: int, limit: int
) -> list[float]:
    """Return the completion times of the latest ``limit`` similar succeeded jobs, in seconds.

    A completion time runs from ``submitted_at`` (the portal's clock, when the submit answer
    came, which is where the first poll is scheduled from) to ``provider_completed_at`` (the
    provider's own completion time from its status answer). A job without a provider
    completion time is left out: its ``finished_at`` is when a poll happened to see it, an
    output of the poll schedule itself, and learning from it would feed the schedule back on
    itself. A negative difference (clocks apart) counts as 0.

    Args:
        provider, mode, resolution: ``Generation`` field values, e.g. "apixo",
            "text-to-video", "720p".
        duration: requested seconds (4-12).
        limit: how many of the most recent samples (by provider completion time) to read.

    Returns:
        Seconds as floats, newest first; at most ``limit``, possibly empty. One range read of
        the partial index ``generation_poll_schedule`` (migration 0015).
    """
    rows = (
        Generation.objects.filter(
            provider=provider,
            mode=mode,
            resolution=resolution,
            duration=duration,
            state=Generation.State.SUCCEEDED,
            provider_completed_at__isnull=False,
            submitted_at__isnull=False,
        )
        .order_by("-provider_completed_at")
        .values_list("submitted_at", "provider_completed_at")[:limit]
    )
    return [max(0.0, (completed - submitted).total_seconds()) for submitted, completed in rows]
