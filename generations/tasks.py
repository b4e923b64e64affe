"""django-q2 entry points: take ids, call a service, decide nothing else (docs/style.md practice 5).

Retries with backoff are decided by the services, which set each job's ``next_action_at``;
the dispatcher enqueues what is due. django-q2's own re-delivery (``retry`` in Q_CLUSTER)
only covers a worker that died mid-task, and every service here is safe to run twice.
"""

import logging
import time
import uuid

from django.conf import settings
from django.utils import timezone

from .models import WorkerLease
from .queue import enqueue
from .services.alerts import provider_alert_email
from .services.circuit import provider_circuit_probe
from .services.dispatch import (
    dispatch_pass,
    generations_poll_batch,
    lease_acquire,
    lease_release,
)
from .services.lifecycle import generation_store_result, generation_submit
from .services.notifications import (
    credits_request_email,
    generation_finished_notify,
    low_balance_check,
)
from .services.posters import generation_poster_make
from .services.provider_balances import provider_balances_refresh
from .services.team import invitation_send
from .services.webhooks import (
    webhook_deliver,
    webhook_deliveries_due,
    webhook_disabled_notify,
    webhook_events_create,
)

logger = logging.getLogger(__name__)

DISPATCHER_LEASE = "dispatcher"
LOOP_SECONDS = 55.0  # below the schedule's minute and Q_CLUSTER timeout
IDLE_PASSES_BEFORE_EXIT = 20


def submit_generation(generation_id: int, claimed_until=None) -> str:
    """Submit one queued generation (``generation_submit``) with the claim its enqueuer gave
    it (``claimed_until``; None for a due job); then make sure polling runs."""
    state = generation_submit(generation_id=generation_id, claimed_until=claimed_until)
    if state and settings.DISPATCHER_AUTOSTART:
        ensure_dispatcher()
    return state


def poll_generations(
    generation_ids: list[int], claimed_until=None, enqueued_at=None, backlog: int = 0
) -> dict[int, str]:
    """Poll a batch of submitted generations (``services.dispatch.generations_poll_batch``):
    from the dispatcher with its claim (``claimed_until``), when it was enqueued and the
    broker's backlog then; from elsewhere with the ids only."""
    return generations_poll_batch(
        generation_ids=generation_ids,
        claimed_until=claimed_until,
        enqueued_at=enqueued_at,
        backlog=backlog,
    )


def refresh_provider_balances() -> int:
    """Read every configured provider account's balance (``provider_balances_refresh``)."""
    return provider_balances_refresh()


def probe_provider(provider: str) -> bool:
    """Probe a paused provider once (``services.circuit.provider_circuit_probe``)."""
    return provider_circuit_probe(provider=provider)


def make_poster(generation_id: int) -> bool:
    """Make a stored video's poster frame (``services.posters.generation_poster_make``)."""
    return generation_poster_make(generation_id=generation_id)


def store_result(generation_id: int) -> str:
    """Download a succeeded generation's video into storage (``generation_store_result``)."""
    return generation_store_result(generation_id=generation_id)


def notify_generation_finished(generation_id: int) -> bool:
    """E-mail the owner that their job finished (``services.notifications``) and queue the
    webhook events their endpoints want (``services.webhooks``)."""
    webhook_events_create(generation_id=generation_id)
    return generation_finished_notify(generation_id=generation_id)


def deliver_webhook(delivery_id: int) -> str:
    """Make one attempt at a webhook delivery (``webhook_deliver``)."""
    return webhook_deliver(delivery_id=delivery_id)


def webhooks_dispatch() -> int:
    """Queue the webhook attempts that are due (scheduled every minute)."""
    return len(webhook_deliveries_due())


def email_webhook_disabled(endpoint_id: int) -> bool:
    """E-mail a member that their webhook endpoint was disabled (``webhook_disabled_notify``)."""
    return webhook_disabled_notify(endpoint_id=endpoint_id)


def check_low_balance(user_id: int) -> bool:
    """E-mail the member if their balance fell under their threshold (``low_balance_check``)."""
    return low_balance_check(user_id=user_id)


def email_credits_request(user_id: int, credits: int | None) -> int:
    """E-mail the managers that a member asks for credits (``credits_request_email``)."""
    return credits_request_email(user_id=user_id, credits=credits)


def send_invitation(invitation_id: int, base_url: str, language: str | None = None) -> bool:
    """E-mail an invitation's link, starting with ``base_url``, in ``language``
    (``invitation_send``)."""
    return invitation_send(invitation_id=invitation_id, base_url=base_url, language=language)


def email_provider_alert(alert_id: int) -> None:
    """E-mail the managers a provider alert (``provider_alert_email``)."""
    provider_alert_email(alert_id=alert_id)


def ensure_dispatcher() -> None:
    """Start a dispatcher loop unless one holds the lease (cheap; called after submits)."""
    busy = WorkerLease.objects.filter(name=DISPATCHER_LEASE, expires_at__gt=timezone.now()).exclude(
        holder=""
    )
    if not busy.exists():
        enqueue("dispatch_loop", group="dispatch")


def dispatch_loop() -> str:
    """Run dispatcher passes every second for up to ``LOOP_SECONDS``.

    Scheduled every minute (the safety net) and started after submits. Only the holder of
    the ``dispatcher`` lease runs; it stops early once nothing has been in flight for
    ``IDLE_PASSES_BEFORE_EXIT`` passes. A loop that runs out of time with jobs still in
    flight enqueues its successor after releasing the lease, so polls never wait for the
    minute schedule.
    """
    holder = uuid.uuid4().hex
    if not lease_acquire(name=DISPATCHER_LEASE, holder=holder):
        return "another dispatcher is running"
    started = time.monotonic()
    idle = 0
    passes = 0
    report = None
    try:
        while time.monotonic() - started < LOOP_SECONDS and idle < IDLE_PASSES_BEFORE_EXIT:
            report = dispatch_pass(interval_seconds=settings.DISPATCH_INTERVAL)
            passes += 1
            idle = idle + 1 if report.in_flight == 0 else 0
            if not lease_acquire(name=DISPATCHER_LEASE, holder=holder):
                return f"lost the lease after {passes} passes"
            time.sleep(settings.DISPATCH_INTERVAL)
    finally:
        lease_release(name=DISPATCHER_LEASE, holder=holder)
    if report is not None and report.in_flight and settings.DISPATCHER_AUTOSTART:
        # Out of time with jobs in flight: start the successor now. Waiting for the next
        # submit or the minute schedule left due polls up to a minute late once submits
        # stopped (benchmarks/inflight.py: p95 finalize delay 25-30 s, issue #14 item 2).
        enqueue("dispatch_loop", group="dispatch")
        return f"{passes} passes, handed over"
    return f"{passes} passes"
