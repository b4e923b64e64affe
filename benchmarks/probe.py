"""Count the database statements and CPU time of every portal process, for benchmarks.

``benchmarks/ladder.py`` runs the worker nodes with ``DJANGO_SETTINGS_MODULE`` set to
``benchmarks.probe_settings``, which imports the portal's settings and calls :func:`install`
when ``BENCH_PROBE_DIR`` is set. Each process then adds a counting ``execute_wrapper`` to every
database connection it opens (Django's "Database instrumentation") and a daemon thread writes
``{"statements": n, "cpu": s}`` to ``$BENCH_PROBE_DIR/<pid>.json`` every 0.2 s while the count
changes. Files outlive their processes (a worker recycled by django-q2 keeps its total), so
:func:`read_totals` before and after a step gives the step's statements.

CPU time is read from ``/proc`` instead (:func:`process_group_cpu`): it also covers processes
that never touch the database (the Redis broker's pusher) and recycled workers (their parent's
``cutime`` after it reaped them).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

FLUSH_S = 0.2
_state = {"statements": 0, "pid": None, "written": -1}
_lock = threading.Lock()


def _count(execute, sql, params, many, context):
    """Count one statement (``executemany`` counts once) and run it."""
    with _lock:
        if _state["pid"] != os.getpid():  # first statement in this (possibly forked) process
            _state.update(statements=0, pid=os.getpid(), written=-1)
            threading.Thread(target=_flusher, daemon=True).start()
        _state["statements"] += 1
    return execute(sql, params, many, context)


def _flusher() -> None:
    directory = Path(os.environ["BENCH_PROBE_DIR"])
    path = directory / f"{os.getpid()}.json"
    while True:
        with _lock:
            count = _state["statements"]
        if count != _state["written"]:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"statements": count, "cpu": time.process_time()}))
            tmp.replace(path)
            _state["written"] = count
        time.sleep(FLUSH_S)


def _on_connection(sender, connection, **kwargs) -> None:
    if _count not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count)


def install() -> None:
    """Count the statements of every connection this process (and its forks) opens."""
    from django.db.backends.signals import connection_created

    connection_created.connect(_on_connection, dispatch_uid="benchmarks.probe")


def record_final_commits() -> None:
    """Append ``<generation id> <state> <unix time>`` to the file ``$BENCH_COMMIT_LOG`` right
    after each transaction that saved a generation in a final state commits: the first line of
    a job is its ``generation_finalize``. One ``write`` per line in append mode, so the
    processes of a run share the file. ``benchmarks/browser_latency.py`` times what the
    browser shows from these moments (a poll sees a change from its commit on). The sender is
    lazy: this runs while the settings are imported, before the models are."""
    from django.db import transaction
    from django.db.models.signals import post_save

    final = {"succeeded", "failed", "canceled", "expired"}
    path = os.environ["BENCH_COMMIT_LOG"]

    def note(pk: int, state: str) -> None:
        with open(path, "a") as log:
            log.write(f"{pk} {state} {time.time():.6f}\n")

    def saved(sender, instance, **kwargs) -> None:
        if instance.state in final:
            pk, state = instance.pk, instance.state
            transaction.on_commit(lambda: note(pk, state))

    post_save.connect(saved, sender="generations.Generation", weak=False)


def read_final_commits(path: Path) -> dict[int, float]:
    """Return each generation's first final commit (unix s) from ``record_final_commits``'s
    file (empty when there is none)."""
    first: dict[int, float] = {}
    if not path.exists():
        return first
    for line in path.read_text().splitlines():
        pk, _, at = line.split()
        first[int(pk)] = min(first.get(int(pk), float("inf")), float(at))
    return first


def read_totals(directory: Path) -> int:
    """Return the statements counted so far by every process writing to ``directory``."""
    total = 0
    for path in directory.glob("*.json"):
        try:
            total += json.loads(path.read_text())["statements"]
        except (OSError, ValueError):
            continue  # being replaced right now: the next read sees it
    return total


def process_group_cpu(pgid: int) -> float:
    """Return the CPU seconds (user + system) used so far by process group ``pgid``: its live
    processes plus the children they have reaped."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp; then utime, stime, cutime, cstime at 11-14
            total += sum(int(value) for value in fields[11:15])
    return total / tick
