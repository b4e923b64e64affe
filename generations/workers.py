"""Worker-node heartbeats (issue #13 items 5 and 7).

A worker node is one ``manage.py qcluster`` process with its workers. Each worker process
runs a small daemon thread that renews the node's ``WorkerHeartbeat`` row every
``WORKER_HEARTBEAT_SECONDS`` and adds the tasks it ran since the last beat; it also writes
the process's buffered metric counts. ``/readyz`` wants at least one node seen within
``HEARTBEAT_STALE_FACTOR`` beats; ``/metrics`` reports each node's age and tasks.

The node's name is ``WORKER_NODE_NAME`` or ``<host>:<qcluster pid>`` (the workers' parent).
Rows of nodes gone for ``FORGET_AFTER`` are deleted when a node starts.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connections, transaction
from django.db.models import F
from django.utils import timezone

from .metrics import metrics_flush

logger = logging.getLogger(__name__)

HEARTBEAT_STALE_FACTOR = 3
FORGET_AFTER = timedelta(days=1)

_tasks_done = 0
_tasks_lock = threading.Lock()
_thread: threading.Thread | None = None
_thread_pid: int | None = None


def node_name() -> str:
    """Return this worker node's name: ``WORKER_NODE_NAME`` or ``<host>:<qcluster pid>``."""
    return settings.WORKER_NODE_NAME or f"{socket.gethostname()}:{os.getppid()}"


def heartbeat_stale_after() -> timedelta:
    """Return how old the newest heartbeat may be before ``/readyz`` says no worker is alive."""
    return timedelta(seconds=settings.WORKER_HEARTBEAT_SECONDS * HEARTBEAT_STALE_FACTOR)


def heartbeat_beat(*, node: str, tasks_done: int = 0) -> None:
    """Renew ``node``'s heartbeat now and add ``tasks_done`` to its count of tasks.

    The beat also records which providers this node has a key for, so a node missing one
    can tell that another node still serves it (``selectors.nodes.provider_served_elsewhere``).

    Args:
        node: the node's name (:func:`node_name`).
        tasks_done: tasks this process finished since its previous beat.
    """
    from .models import WorkerHeartbeat
    from .providers import configured_providers

    now = timezone.now()
    host, pid = socket.gethostname(), os.getppid()
    providers = ",".join(configured_providers())
    rows = WorkerHeartbeat.objects.filter(node=node)
    if rows.filter(pid=pid).update(
        last_seen_at=now, tasks_done=F("tasks_done") + tasks_done, providers=providers
    ):
        return
    # A new node, or the same name run again: a new start.
    changes = {
        "host": host,
        "pid": pid,
        "started_at": now,
        "last_seen_at": now,
        "providers": providers,
    }
    if rows.update(**changes, tasks_done=F("tasks_done") + tasks_done):
        return
    try:
        with transaction.atomic():
            WorkerHeartbeat.objects.create(node=node, tasks_done=tasks_done, **changes)
    except IntegrityError:  # another worker of the node created it first
        rows.update(last_seen_at=now, tasks_done=F("tasks_done") + tasks_done)
    WorkerHeartbeat.objects.filter(last_seen_at__lt=now - FORGET_AFTER).delete()


def _take_tasks_done() -> int:
    global _tasks_done
    with _tasks_lock:
        done, _tasks_done = _tasks_done, 0
    return done


def _beat_forever(node: str, stop: threading.Event) -> None:
    """The heartbeat thread's loop: beat, flush metrics, sleep; never dies of an error."""
    while True:
        close_old_connections()
        done = _take_tasks_done()
        try:
            heartbeat_beat(node=node, tasks_done=done)
            metrics_flush()
        except Exception:
            logger.exception("Worker heartbeat of %s failed; retrying", node)
            with _tasks_lock:
                globals()["_tasks_done"] += done
        if stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
            connections.close_all()  # this thread's own connections
            return


def heartbeat_start() -> None:
    """Start this worker process's heartbeat thread (once per process)."""
    global _thread, _thread_pid
    if _thread_pid == os.getpid() and _thread is not None and _thread.is_alive():
        return
    _thread = threading.Thread(
        target=_beat_forever,
        args=(node_name(), threading.Event()),
        name="worker-heartbeat",
        daemon=True,
    )
    _thread_pid = os.getpid()
    _thread.start()


def on_worker_spawned(**kwargs) -> None:
    """django-q2 ``post_spawn`` receiver: a worker process started; start its heartbeat.

    django-q2 also runs its worker function inline for ``sync`` tasks (tests, or a caller
    asking for it), in a process that is no qcluster node: only a process that a cluster
    started with ``multiprocessing`` beats.
    """
    if multiprocessing.parent_process() is None:
        return
    heartbeat_start()


def on_task_executed(**kwargs) -> None:
    """django-q2 ``post_execute_in_worker`` receiver: count the task for the node."""
    global _tasks_done
    with _tasks_lock:
        _tasks_done += 1
