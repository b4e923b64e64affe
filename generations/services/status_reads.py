"""The one place that sends a job's status request to its provider, and counts it.

docs/architecture.md "Generation lifecycle": every status request the portal sends for a job (a
poll, the confirmation of a callback, a manager's "poll now", an expired job's late look) goes
through :func:`task_status_read`, which adds one to ``Generation.poll_count`` before it asks.
The job page's "Status checks", the admin and the benchmarks therefore show what the provider
saw (the simulator counts ``statusRequests`` per task the same way), whatever the answer was.
"""

from django.db.models import F

from ..models import Generation
from ..providers import TaskStatus


def task_status_read(*, generation: Generation, client, task_id: str | None = None) -> TaskStatus:
    """Count one status request for ``generation``, then send it.

    The count is written first, in its own statement (autocommit, or the caller's transaction),
    so a request that times out or is answered with garbage is counted too: the provider saw
    it. No lock is held across the HTTP call.

    Args:
        generation: the job; only ``pk``, ``provider_task_id`` and ``model_id`` are read.
        client: the provider client to ask (``providers.get_provider(...)``, possibly with the
            webhook's short budget).
        task_id: the task to read, when it is not yet the job's own (a callback naming the task
            of a job whose submit answer was lost); default ``generation.provider_task_id``.

    Returns:
        The provider's well-formed status.

    Raises:
        providers.errors.ProviderError: whatever ``client.fetch_status`` raises (classified by
            the caller with ``providers.errors.status_read_fault``).
    """
    Generation.objects.filter(pk=generation.pk).update(poll_count=F("poll_count") + 1)
    return client.fetch_status(task_id or generation.provider_task_id, model=generation.model_id)
