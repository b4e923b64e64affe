"""The provider circuit: pause a provider that refuses the portal's account, probe, resume.

Issue #12 item 1, docs/architecture.md "What must hold": 401, 402 and 403 "alert managers and pause
that provider without failing its jobs". docs/providers/apixo.md "HTTP errors" lists them as "no
retry (alert an admin)"; aivideoapi.ai's 429 ``spend_limit_exceeded``
(docs/providers/aivideoapi.md "Error Reference") and a provider address that cannot be used
(``bad_configuration``) count too (``providers.errors.is_credentials_error``). Such a refusal says
nothing about a task: the provider may still be running (and billing) every task it accepted. So
instead of failing jobs, the circuit of that provider opens:

- the dispatcher stops submitting and polling that provider's jobs (they keep their holds;
  queued submits wait); the webhook still answers 200 and defers;
- a probe, one cheap authenticated call (APIXO ``GET /apikeys/current-balance``,
  aivideoapi.ai ``GET /credits``: docs/providers/apixo.md "Balance endpoint" and
  docs/providers/aivideoapi.md "Credits balance"), runs when ``next_probe_at`` passes, at growing
  intervals (``PROBE_FIRST_S`` doubling up to ``PROBE_MAX_S``, scaled by ``POLL_TIME_SCALE``);
- a successful probe closes the circuit and resolves the provider's credential alerts;
  the paused jobs are due at once and resume. Jobs whose deadline passes meanwhile expire
  with a release as always (``services.sweeper``).

One database row per provider, so every web and worker node sees the same state.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import ProviderAlert, ProviderCircuit
from ..providers import get_provider
from ..providers.errors import ProviderError

logger = logging.getLogger(__name__)
Circuit = ProviderCircuit.State

PROBE_FIRST_S = 30.0
PROBE_MAX_S = 900.0
# Alert kinds a successful probe proves fixed (``services.alerts.alert_kind``).
CREDENTIAL_ALERT_KINDS = ("http_401", "http_402", "http_403", "http_429", "bad_configuration")


def probe_interval(probes: int) -> timedelta:
    """Return the wait before probe number ``probes + 1``: 30 s doubling up to 15 min, scaled.

    Args:
        probes: probes made since the circuit opened (0 for the first).
    """
    seconds = min(PROBE_MAX_S, PROBE_FIRST_S * 2 ** min(probes, 16))
    return timedelta(seconds=seconds * settings.POLL_TIME_SCALE)


def provider_circuit_open(*, provider: str, error: ProviderError) -> ProviderCircuit:
    """Pause calls to ``provider`` after ``error`` (a credentials refusal); idempotent.

    On the row locked FOR UPDATE (created if missing): a closed circuit opens with its first
    probe ``probe_interval(0)`` from now; an open one only records the latest reason, so
    repeated refusals do not push the probe back.

    Args:
        provider: e.g. ``apixo``.
        error: the refusal (normally one for which ``errors.is_credentials_error`` holds).

    Returns:
        The circuit, open.
    """
    now = timezone.now()
    reason = f"{error.message} ({error.code}, HTTP {error.status or '-'})"
    with transaction.atomic():
        ProviderCircuit.objects.get_or_create(provider=provider)
        circuit = ProviderCircuit.objects.select_for_update().get(provider=provider)
        if not circuit.is_open:
            circuit.state = Circuit.OPEN
            circuit.opened_at = now
            circuit.probes = 0
            circuit.next_probe_at = now + probe_interval(0)
            circuit.closed_at = None
            logger.warning("Provider %s paused: %s", provider, reason)
        circuit.reason = reason
        circuit.updated_at = now
        circuit.save()
    return circuit


def provider_circuits_claim_probes(*, now: datetime | None = None) -> list[str]:
    """Claim the open circuits whose probe is due; return their providers.

    Each claim is a conditional UPDATE that moves ``next_probe_at`` to the next, longer
    interval and counts the probe, so one probe runs per interval across all nodes, and a
    probe task that gets lost is simply made again at the next interval.
    """
    now = now or timezone.now()
    claimed = []
    due = ProviderCircuit.objects.filter(state=Circuit.OPEN, next_probe_at__lte=now)
    for provider, probes, next_probe_at in due.values_list("provider", "probes", "next_probe_at"):
        taken = ProviderCircuit.objects.filter(
            provider=provider, state=Circuit.OPEN, next_probe_at=next_probe_at
        ).update(
            next_probe_at=now + probe_interval(probes + 1), probes=F("probes") + 1, updated_at=now
        )
        if taken:
            claimed.append(provider)
    return claimed


def provider_circuit_probe(*, provider: str) -> bool:
    """Make one authenticated call to ``provider`` (its balance); close the circuit if it works.

    The call runs outside any transaction. Any answer at all from the balance endpoint
    proves the key works again; an error leaves the circuit open for the next probe
    (already scheduled by :func:`provider_circuits_claim_probes`) and records why.

    Returns:
        True if the circuit is closed afterwards.
    """
    if not ProviderCircuit.objects.filter(provider=provider, state=Circuit.OPEN).exists():
        return True
    try:
        get_provider(provider).account_balance()
    except ProviderError as error:
        logger.info("Probe of paused provider %s failed: %r", provider, error)
        ProviderCircuit.objects.filter(provider=provider, state=Circuit.OPEN).update(
            reason=f"{error.message} ({error.code}, HTTP {error.status or '-'})",
            updated_at=timezone.now(),
        )
        return False
    return provider_circuit_close(provider=provider)


def provider_circuit_close(*, provider: str) -> bool:
    """Resume calls to ``provider`` and resolve its credential alerts.

    A conditional UPDATE (open -> closed): closing twice, or concurrently, does nothing the
    second time. The alerts of kinds ``CREDENTIAL_ALERT_KINDS`` are resolved with no actor
    (the probe proved the cause fixed); their history stays in the admin. Paused jobs kept
    their ``next_action_at`` (the dispatcher skipped them), so they are due at once.

    Returns:
        True if this call closed it.
    """
    now = timezone.now()
    with transaction.atomic():
        closed = ProviderCircuit.objects.filter(provider=provider, state=Circuit.OPEN).update(
            state=Circuit.CLOSED, closed_at=now, next_probe_at=None, updated_at=now
        )
        if closed:
            ProviderAlert.objects.unresolved().filter(
                provider=provider, kind__in=CREDENTIAL_ALERT_KINDS
            ).update(resolved_at=now)
    if closed:
        logger.warning("Provider %s resumed: a probe succeeded", provider)
    return bool(closed)
