"""Operations metrics for ``/metrics`` (issue #13 item 8), correct across many nodes.

Every figure comes from state that all nodes share, never from one process's memory:

* gauges are read from the database when Prometheus scrapes (jobs by state, the oldest job
  in flight, due work, result downloads, finalize latency, worker heartbeats, the last
  ``ledger_check``) and from the broker (queue depth);
* counters (provider requests, webhook deliveries) are kept in ``OpsMetric`` rows. A process
  adds to a small in-memory buffer and writes it with one ``UPDATE ... SET value = value + n``
  per (name, labels) at most every ``FLUSH_SECONDS``, at the end of a web request or task,
  on the worker's heartbeat and before a scrape, so a busy poller costs one write per flush,
  not one per request. A process killed with SIGKILL loses at most its unflushed counts.

The text format is ``prometheus_client``'s, from a custom collector on a private registry
(no per-process default metrics that would differ between nodes).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

PREFIX = "seedance"
FLUSH_SECONDS = 2.0
PROVIDER_REQUESTS = "provider_requests"
WEBHOOK_DELIVERIES = "webhook_deliveries"
LEDGER_CHECK_MISMATCHES = "ledger_check_mismatches"
# Finalize latency buckets, seconds (docs/architecture.md "Performance targets": p95 under 10 s).
LATENCY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

_lock = threading.Lock()
_pending: Counter[tuple[str, str]] = Counter()
_pending_pid = os.getpid()
_last_flush = time.monotonic()


def labels_text(**labels: str) -> str:
    """Return the canonical text of ``labels``: JSON with sorted keys, e.g.
    ``{"endpoint":"status","provider":"apixo"}``; one (name, labels) pair is one row."""
    return json.dumps(
        {key: str(value) for key, value in labels.items()}, sort_keys=True, separators=(",", ":")
    )


def metric_add(name: str, amount: int = 1, **labels: str) -> None:
    """Add ``amount`` to the shared counter ``name`` with ``labels`` (buffered, see module doc).

    Never raises for a database problem: a counter must not break the request it counts.
    """
    global _pending_pid
    with _lock:
        if _pending_pid != os.getpid():  # a forked worker must not flush its parent's counts
            _pending.clear()
            _pending_pid = os.getpid()
        _pending[(name, labels_text(**labels))] += amount
    metrics_flush(force=False)


def metrics_flush(*, force: bool = True) -> None:
    """Write this process's buffered counts to ``OpsMetric`` rows.

    ``force=False`` (the automatic flushes) writes only when ``FLUSH_SECONDS`` have passed
    and no transaction is open, so a count never shares the fate or the locks of the
    caller's transaction; those counts wait for the next flush.
    """
    global _last_flush
    if not force and connection.in_atomic_block:
        return
    with _lock:
        if not _pending or (not force and time.monotonic() - _last_flush < FLUSH_SECONDS):
            return
        if _pending_pid != os.getpid():
            _pending.clear()
            return
        batch = dict(_pending)
        _pending.clear()
        _last_flush = time.monotonic()
    from .models import OpsMetric

    for (name, labels), amount in batch.items():
        try:
            _increment(OpsMetric, name, labels, amount)
        except Exception:
            logger.exception("Could not store metric %s{%s}; kept for the next flush", name, labels)
            with _lock:
                _pending[(name, labels)] += amount


def _increment(model, name: str, labels: str, amount: int) -> None:
    """``UPDATE value = value + amount``; the first time, create the row (race-safe)."""
    rows = model.objects.filter(name=name, labels=labels)
    if rows.update(value=F("value") + amount):
        return
    try:
        with transaction.atomic():
            model.objects.create(name=name, labels=labels, value=amount)
    except IntegrityError:  # another process created it first
        rows.update(value=F("value") + amount)


def metric_set(name: str, value: int, **labels: str) -> None:
    """Set the shared value ``name`` with ``labels`` now (e.g. the last ``ledger_check``)."""
    from .models import OpsMetric

    OpsMetric.objects.update_or_create(
        name=name, labels=labels_text(**labels), defaults={"value": value}
    )


# --- Provider requests (the hook in providers/http.py) ---------------------------------------

# Path prefixes of each provider's API (docs/providers/apixo.md and docs/providers/aivideoapi.md)
# and what they are for.
_ENDPOINTS = (
    ("/generateTask/", "submit"),
    ("/statusTask/", "status"),
    ("/apikeys/current-balance", "balance"),
    ("/videos/generations", "submit"),
    ("/tasks/", "status"),
    ("/credits", "balance"),
)


def provider_request_observed(method: str, url: str, outcome: str) -> None:
    """Count one provider API request (``providers.http.REQUEST_OBSERVERS``).

    Args:
        method: ``GET`` or ``POST``.
        url: the absolute URL requested.
        outcome: ``2xx``, ``4xx``, ``429``, ``5xx``, ``3xx``, ``connection_error``,
            ``outcome_unknown``, ``bad_response`` or ``error``.
    """
    provider, path = "other", urlsplit(url).path
    for name, base in (
        ("apixo", settings.APIXO_BASE_URL),
        ("aivideoapi", settings.AIVIDEOAPI_BASE_URL),
    ):
        if base and url.startswith(base):
            provider, path = name, url[len(base) :].split("?", 1)[0]
            break
    endpoint = next((label for prefix, label in _ENDPOINTS if path.startswith(prefix)), "other")
    metric_add(PROVIDER_REQUESTS, provider=provider, endpoint=endpoint, outcome=outcome)


def webhook_delivery_observed(result: str) -> None:
    """Count one webhook delivery: ``accepted``, ``not_found``, ``too_large``, ``bad_request``,
    ``retry_later``."""
    metric_add(WEBHOOK_DELIVERIES, result=result)


def flush_after_request(**kwargs) -> None:
    """``request_finished`` / django-q2 ``post_execute`` receiver: flush when due."""
    if _pending:
        metrics_flush(force=False)


# --- The collector ---------------------------------------------------------------------------


class PortalCollector(Collector):
    """Read every figure from the database and the broker when Prometheus scrapes."""

    def collect(self) -> Iterator:
        """Yield the metric families (names in the module's README text)."""
        from .models import Generation, OpsMetric, WorkerHeartbeat

        now = timezone.now()
        State = Generation.State
        counts = dict(Generation.objects.order_by().values_list("state").annotate(n=Count("pk")))
        jobs = GaugeMetricFamily(f"{PREFIX}_jobs", "Generations by state.", labels=["state"])
        for state in State.values:
            jobs.add_metric([state], counts.get(state, 0))
        yield jobs

        oldest = Generation.objects.filter(state__in=State.in_flight()).aggregate(
            oldest=Min("created_at")
        )["oldest"]
        yield GaugeMetricFamily(
            f"{PREFIX}_jobs_in_flight_oldest_age_seconds",
            "Age of the oldest generation in flight (0 when none).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
        due = GaugeMetricFamily(
            f"{PREFIX}_jobs_due",
            "Generations whose next action (submit, poll, download) is due now.",
            labels=["state"],
        )
        due_counts = dict(
            Generation.objects.filter(next_action_at__lte=now)
            .order_by()
            .values_list("state")
            .annotate(n=Count("pk"))
        )
        for state in (State.QUEUED, State.SUBMITTED, State.SUCCEEDED):
            due.add_metric([state], due_counts.get(state, 0))
        yield due

        downloads = GaugeMetricFamily(
            f"{PREFIX}_result_downloads",
            "Succeeded generations by the state of their video in storage.",
            labels=["state"],
        )
        results = dict(
            Generation.objects.filter(state=State.SUCCEEDED)
            .order_by()
            .values_list("result_state")
            .annotate(n=Count("pk"))
        )
        for value in (Generation.ResultState.PENDING, "stored", "failed"):
            downloads.add_metric([value], results.get(value, 0))
        yield downloads

        stored = list(OpsMetric.objects.values_list("name", "labels", "value", "updated_at"))
        requests_total = CounterMetricFamily(
            f"{PREFIX}_provider_requests",
            "Provider API requests by provider, endpoint and outcome.",
            labels=["provider", "endpoint", "outcome"],
        )
        webhooks = CounterMetricFamily(
            f"{PREFIX}_webhook_deliveries",
            "Provider callbacks received, by result.",
            labels=["result"],
        )
        status_requests = 0
        ledger = None
        for name, labels_raw, value, updated_at in stored:
            labels = json.loads(labels_raw) if labels_raw else {}
            if name == PROVIDER_REQUESTS:
                requests_total.add_metric(
                    [
                        labels.get("provider", ""),
                        labels.get("endpoint", ""),
                        labels.get("outcome", ""),
                    ],
                    value,
                )
                if labels.get("endpoint") == "status":
                    status_requests += value
            elif name == WEBHOOK_DELIVERIES:
                webhooks.add_metric([labels.get("result", "")], value)
            elif name == LEDGER_CHECK_MISMATCHES:
                ledger = (value, updated_at)
        yield requests_total
        yield webhooks

        finished = sum(counts.get(state, 0) for state in State.final())
        yield GaugeMetricFamily(
            f"{PREFIX}_status_requests_per_finished_job",
            "Provider status requests counted so far divided by the finished generations.",
            value=status_requests / finished if finished else 0.0,
        )
        yield _finalize_latency(Generation)

        try:
            from django_q.brokers import get_broker

            depth = get_broker().queue_size()
        except Exception:
            logger.exception("Queue depth unavailable")
            depth = float("nan")
        yield GaugeMetricFamily(
            f"{PREFIX}_queue_depth",
            "Tasks waiting in the django-q2 broker.",
            value=depth if depth is not None else float("nan"),
        )

        if ledger is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_ledger_check_mismatches",
                "Mismatches found by the last manage.py ledger_check.",
                value=ledger[0],
            )
            yield GaugeMetricFamily(
                f"{PREFIX}_ledger_check_last_run_timestamp_seconds",
                "When the last manage.py ledger_check ran (Unix time).",
                value=ledger[1].timestamp(),
            )

        age = GaugeMetricFamily(
            f"{PREFIX}_worker_heartbeat_age_seconds",
            "Seconds since each qcluster node's last heartbeat.",
            labels=["node"],
        )
        tasks = CounterMetricFamily(
            f"{PREFIX}_worker_tasks", "Tasks run by each qcluster node.", labels=["node"]
        )
        for node, seen, done in WorkerHeartbeat.objects.values_list(
            "node", "last_seen_at", "tasks_done"
        ):
            age.add_metric([node], (now - seen).total_seconds())
            tasks.add_metric([node], done)
        yield age
        yield tasks


def _finalize_latency(Generation) -> HistogramMetricFamily:
    """The delay from the provider's completion to the portal's final state, as a histogram.

    Over every generation with both times (``provider_completed_at``, ``finished_at``);
    the counts are cumulative per bucket, as Prometheus expects.
    """
    latency = ExpressionWrapper(
        F("finished_at") - F("provider_completed_at"), output_field=DurationField()
    )
    timed = Generation.objects.filter(
        finished_at__isnull=False, provider_completed_at__isnull=False
    )
    aggregates = {
        f"le_{index}": Count(
            "pk",
            filter=Q(finished_at__lte=F("provider_completed_at") + timedelta(seconds=bound)),
        )
        for index, bound in enumerate(LATENCY_BUCKETS)
    }
    row = timed.aggregate(total=Count("pk"), seconds=Sum(latency), **aggregates)
    buckets = [(str(bound), row[f"le_{index}"]) for index, bound in enumerate(LATENCY_BUCKETS)] + [
        ("+Inf", row["total"])
    ]
    total_seconds = row["seconds"].total_seconds() if row["seconds"] is not None else 0.0
    return HistogramMetricFamily(
        f"{PREFIX}_finalize_latency_seconds",
        "Seconds from the provider's completion (completeTime) to the job's final state.",
        buckets=buckets,
        sum_value=total_seconds,
    )


_registry = CollectorRegistry(auto_describe=False)
_registry.register(PortalCollector())


def metrics_text() -> bytes:
    """Flush this process's counts and return every metric in the Prometheus text format."""
    metrics_flush()
    return generate_latest(_registry)
