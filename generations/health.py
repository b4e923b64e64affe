"""Readiness checks for ``/readyz`` (issue #13 item 7; docs/architecture.md "Configuration").

Each check returns a :class:`Check`; any exception inside a check is a failed check, since
the question is only "can this node serve now". The checks talk to the database, the cache
and the broker, each with short timeouts where the client library allows them.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

logger = logging.getLogger(__name__)

# The dispatcher loop runs for up to a minute, every minute (migration 0004) and after
# submits; its lease is renewed every pass and released (expires_at = now) when it stops.
# Older than this, no dispatcher has run for two schedule periods.
DISPATCHER_STALE_AFTER = timedelta(seconds=150)
REDIS_TIMEOUT_S = 2.0

_migrations_applied = False  # once true for this process's code, it stays true


@dataclass(frozen=True)
class Check:
    """The result of one readiness check.

    Attributes:
        ok: whether the dependency is usable.
        detail: what was found, for the operator (never a secret).
        seconds: how long the check took.
    """

    ok: bool
    detail: str
    seconds: float = 0.0


def check_database() -> Check:
    """Run ``SELECT 1`` on the default database."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return Check(True, connections[DEFAULT_DB_ALIAS].vendor)


def check_migrations() -> Check:
    """Check that every migration of this code is applied to the database."""
    global _migrations_applied
    if _migrations_applied:
        return Check(True, "all applied")
    from django.db.migrations.executor import MigrationExecutor

    # Every node of the graph, not a plan towards the leaves: a plan is empty when a leaf is
    # recorded as applied, even if a migration before it is not.
    loader = MigrationExecutor(connections[DEFAULT_DB_ALIAS]).loader
    unapplied = sorted(set(loader.graph.nodes) - set(loader.applied_migrations))
    if unapplied:
        names = ", ".join(f"{app}.{name}" for app, name in unapplied[:5])
        return Check(False, f"{len(unapplied)} unapplied: {names}")
    _migrations_applied = True
    return Check(True, "all applied")


def check_cache() -> Check:
    """Write a random value to the cache and read it back."""
    key, value = f"readyz:{secrets.token_hex(8)}", secrets.token_hex(8)
    cache.set(key, value, timeout=10)
    read = cache.get(key)
    cache.delete(key)
    backend = type(cache).__name__
    if read != value:
        return Check(False, f"{backend}: wrote a value and read back {read!r}")
    return Check(True, backend)


def check_broker() -> Check:
    """Reach django-q2's broker: Redis answers PING, or the ORM queue table answers."""
    if settings.Q_BROKER == "redis":
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
        )
        try:
            client.ping()
        finally:
            client.close()
        return Check(True, "redis")
    from django_q.models import OrmQ

    OrmQ.objects.exists()
    return Check(True, "orm")


def check_dispatcher() -> Check:
    """Check that the dispatcher's lease was held or released within DISPATCHER_STALE_AFTER."""
    from .models import WorkerLease
    from .tasks import DISPATCHER_LEASE

    lease = WorkerLease.objects.filter(name=DISPATCHER_LEASE).first()
    if lease is None:
        return Check(False, "the dispatcher has never run")
    now = timezone.now()
    if lease.expires_at < now - DISPATCHER_STALE_AFTER:
        age = (now - lease.expires_at).total_seconds()
        return Check(False, f"no dispatcher for {age:.0f} s")
    if lease.holder and lease.expires_at > now:
        return Check(True, "running")
    return Check(True, "idle, ran recently")


def check_workers() -> Check:
    """Check that at least one worker node renewed its heartbeat recently."""
    from .models import WorkerHeartbeat
    from .workers import heartbeat_stale_after

    since = timezone.now() - heartbeat_stale_after()
    alive = list(
        WorkerHeartbeat.objects.filter(last_seen_at__gte=since).values_list("node", flat=True)
    )
    if not alive:
        return Check(False, "no worker heartbeat since " + since.isoformat(timespec="seconds"))
    return Check(True, f"{len(alive)} node(s): {', '.join(alive[:10])}")


def check_provider() -> Check:
    """Name the provider setup in use; informational, it never fails the page.

    With DEBUG off on the simulator (no ``APIXO_API_KEY``) and without
    ``SIMULATOR_IN_PRODUCTION``, the detail is the warning of ``manage.py check --deploy``
    (``seedance.W001``; docs/operations.md "Health endpoints").
    """
    from .checks import SIMULATOR_IN_PRODUCTION, simulator_in_production

    if simulator_in_production():
        return Check(
            True,
            f"WARNING ({SIMULATOR_IN_PRODUCTION}): DEBUG is off and APIXO_API_KEY is not set: "
            "the provider simulator answers, no real video is made",
        )
    if settings.USE_SIMULATOR:
        return Check(True, "simulator (no APIXO_API_KEY)")
    providers = ["apixo"]
    if settings.AIVIDEOAPI_API_KEY and not settings.AIVIDEOAPI_USES_SIMULATOR:
        providers.append("aivideoapi")
    return Check(True, ", ".join(providers))


CHECKS: dict[str, Callable[[], Check]] = {
    "database": check_database,
    "migrations": check_migrations,
    "cache": check_cache,
    "broker": check_broker,
    "dispatcher": check_dispatcher,
    "workers": check_workers,
    "provider": check_provider,
}
# Checks that need the database: skipped (failed) when the database is down.
_NEEDS_DATABASE = ("migrations", "dispatcher", "workers")


def readiness() -> tuple[bool, dict[str, dict]]:
    """Run every check; return ``(all ok, {name: {"ok", "detail", "seconds"}})``."""
    results: dict[str, Check] = {}
    for name, check in CHECKS.items():
        if name in _NEEDS_DATABASE and not results["database"].ok:
            results[name] = Check(False, "skipped: the database is unreachable")
            continue
        started = time.monotonic()
        try:
            result = check()
        except Exception as exc:
            # The page is public: the error's text (addresses, names) goes to the log only.
            logger.warning("Readiness check %s failed: %r", name, exc)
            result = Check(False, f"{type(exc).__name__} (see the log)")
        results[name] = Check(result.ok, result.detail, round(time.monotonic() - started, 4))
    return all(r.ok for r in results.values()), {k: asdict(v) for k, v in results.items()}
