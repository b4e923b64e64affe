"""Reads about the worker nodes, from their heartbeats (``generations.workers``)."""

from django.utils import timezone

from ..models import WorkerHeartbeat


def provider_served_elsewhere(*, provider: str, this_node: str) -> list[str]:
    """Return the live worker nodes other than ``this_node`` that have a key for ``provider``.

    A node is live while its heartbeat is fresher than ``workers.heartbeat_stale_after()``.
    Used before failing a job whose provider this node does not know: on a node whose
    environment lacks a key another node has, the provider was not removed from the
    configuration, this node is misconfigured (docs/architecture.md "Generation lifecycle").

    Args:
        provider: e.g. ``apixo``.
        this_node: this node's name (``workers.node_name()``).

    Returns:
        The node names, sorted; empty when no other live node serves ``provider``.
    """
    from ..workers import heartbeat_stale_after

    since = timezone.now() - heartbeat_stale_after()
    beats = (
        WorkerHeartbeat.objects.filter(last_seen_at__gte=since)
        .exclude(node=this_node)
        .only("node", "providers")
    )
    return sorted(beat.node for beat in beats if provider in beat.provider_names)
