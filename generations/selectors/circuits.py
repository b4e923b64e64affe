"""Read-only questions about provider circuits (``models.ProviderCircuit``); no network."""

from datetime import datetime

from ..models import ProviderCircuit


def paused_providers() -> frozenset[str]:
    """Return the providers whose circuit is open: nothing is submitted to or polled there."""
    return frozenset(
        ProviderCircuit.objects.filter(state=ProviderCircuit.State.OPEN).values_list(
            "provider", flat=True
        )
    )


def provider_paused_until(*, provider: str) -> datetime | None:
    """Return when ``provider``'s open circuit is next probed, or None if calls are allowed."""
    circuit = (
        ProviderCircuit.objects.filter(provider=provider, state=ProviderCircuit.State.OPEN)
        .only("next_probe_at")
        .first()
    )
    if circuit is None:
        return None
    return circuit.next_probe_at or circuit.opened_at
