"""Benchmark: one machine tracks 1,000 jobs in flight against the simulator.

docs/architecture.md "Performance targets": "One machine tracks 1,000 jobs in flight against the
simulator, all finalized, with the provider request rate under its documented limit and at most 3
status requests per job on average in polling mode (1 in callback mode)."

    .venv/bin/python benchmarks/inflight.py --workers 4          # 1,000 jobs, polling mode
    .venv/bin/python benchmarks/inflight.py --workers 4 --mode callback
    .venv/bin/python benchmarks/inflight.py --jobs 200           # in-process, sync mode

What runs, all on this machine:
- a scratch database: a new SQLite file in a temporary directory, removed at the end unless
  ``--keep`` (or ``--database-url``, e.g. a scratch PostgreSQL database: it is migrated and
  written to);
- the APIXO simulator as its own process (``python -m generations.simulator``), its
  ``time_scale`` equal to the portal's ``POLL_TIME_SCALE`` so that the portal's poll schedule
  and the simulated generation times keep their documented proportion (``--time-scale 1``,
  the default, is real time: a 4 s clip takes ~50 s, a 12 s clip ~105 s);
- the portal: jobs created with ``generation_create`` for a few members (durations 4-12 s,
  480p/720p, sound on or off; their submit task is enqueued on commit), then either
  - ``--workers N``: a real ``manage.py qcluster`` of N workers (ORM broker) runs everything
    as in production: submits, its own dispatcher loop (``tasks.dispatch_loop``, started after
    the first submit and every minute), poll batches, downloads, notifications; or
  - ``--workers 0`` (default): django-q2 in **sync mode** in this process, which runs
    ``dispatch_pass`` every ``DISPATCH_INTERVAL`` seconds itself; every task a pass enqueues
    runs inline, so a pass longer than the interval means this one process fell behind;
- in callback mode, the portal's WSGI app served on a local port by a threaded server in this
  process (``CALLBACK_ALLOW_HTTP``, the simulator's ``--allow-http-callbacks``), so the
  simulator's webhooks reach the webhook view as in production.

It prints the figures the target names (jobs, wall time, final states, status requests per
job, the peak number of API requests in any 60 s window against the 10,000/min limit,
``ledger_check``), and what explains them: status requests per job by requested duration, the
average the portal's schedule gives when every poll runs on time, how long after the provider
finished each job was finalized (the portal's lag), and the sync-mode pass timings.
Exits 1 unless every job is final and the ledger checks out.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROVIDER_LIMIT_PER_MINUTE = 10_000  # docs/providers/apixo.md "Rate limits"
PROMPT = "benchmark job {n}: a lighthouse on a cliff in a winter storm, waves breaking below"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="Jobs to run (default 1000).")
    parser.add_argument("--mode", choices=("polling", "callback"), default="polling")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="Simulator time_scale and portal POLL_TIME_SCALE (default 1: documented timing).",
    )
    parser.add_argument("--users", type=int, default=5, help="Members sharing the jobs.")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the job mix.")
    parser.add_argument(
        "--database-url", default="", help="Scratch database (default: a new SQLite file)."
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="Run a qcluster with this many workers (default 0: django-q2 sync mode here).",
    )
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="Give up after this many seconds."
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the scratch directory (database, media)."
    )
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def configure_environment(args, workdir: Path, sim_port: int, portal_port: int) -> None:
    """Set the portal's environment (read once, when the settings module is imported)."""
    # An operator may point DJANGO_SETTINGS_MODULE at a variant (e.g. other Q_CLUSTER knobs).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seedance_site.settings")
    os.environ.update(
        {
            "DEBUG": "false",  # DEBUG keeps every SQL query in memory
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "ALLOW_PLAIN_HTTP": "true",
            "EMAIL_URL": "memorymail://",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}",
            "MEDIA_ROOT": str(workdir / "media"),
            "SIMULATOR_PORT": str(sim_port),
            "POLL_TIME_SCALE": str(args.time_scale),
            "GENERATION_DEADLINE_SECONDS": str(3 * 3600),
            "PORTAL_ADDRESS": f"127.0.0.1:{portal_port}",
            "CALLBACK_ALLOW_HTTP": "true" if args.mode == "callback" else "false",
            "PUBLIC_BASE_URL": "",
        }
    )
    for name in ("APIXO_API_KEY", "APIXO_BASE_URL"):
        os.environ.pop(name, None)


def start_simulator(args, port: int, workdir: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "generations.simulator", "--port", str(port),
        "--time-scale", str(args.time_scale), "--balance-usd", "1000000",
        "--seed", str(args.seed), "--media-dir", str(workdir / "sim-media"),
    ]  # fmt: skip
    if args.mode == "callback":
        command.append("--allow-http-callbacks")
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and flags)
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port)
    return process


def serve_portal(port: int):
    """Serve the portal's WSGI app on 127.0.0.1:``port`` from threads of this process."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format, *args):
            """Drop access logs."""

    server = ThreadedWSGIServer(("127.0.0.1", port), QuietHandler)
    server.request_queue_size = 1024
    server.set_app(WSGIHandler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def polls_if_on_time(duration: int, *, callback: bool) -> int:
    """Return the status reads one job needs if every poll runs exactly when scheduled.

    The portal's schedule (``lifecycle.first_poll_delay`` / ``next_poll_delay``) against the
    simulator's completion time (``simulator.lifecycle.typical_seconds``), both at the same
    time scale, which cancels out. Callback mode: the one confirming read of the webhook.
    """
    from types import SimpleNamespace

    from generations.models import Generation
    from generations.services.lifecycle import first_poll_delay, next_poll_delay
    from generations.simulator.lifecycle import typical_seconds

    if callback:
        return 1
    job = Generation(mode="text-to-video", duration=duration, callback_token_hash="")
    done = typical_seconds(SimpleNamespace(duration=duration, model="seedance-1-5-pro"))
    scale = 1.0 / settings_poll_scale()
    at = first_poll_delay(job).total_seconds() * scale
    reads = 1
    while at < done:
        at += next_poll_delay(job).total_seconds() * scale
        job.poll_count += 1
        reads += 1
    return reads


def settings_poll_scale() -> float:
    from django.conf import settings

    return settings.POLL_TIME_SCALE


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def simulator_get(base_url: str, path: str):
    import requests

    return requests.get(f"{base_url}{path}", timeout=30).json()["data"]


def run_in_process(specs, users, *, timeout: float) -> dict:
    """Create the jobs and run dispatcher passes here, django-q2 in sync mode."""
    from django.conf import settings

    from generations.services.dispatch import dispatch_pass
    from generations.services.generations import generation_create

    interval = settings.DISPATCH_INTERVAL
    started = time.monotonic()
    figures = {"created_by": None, "peak_in_flight": 0, "passes": []}
    next_pass = started
    created = 0
    while time.monotonic() - started < timeout:
        now = time.monotonic()
        if created < len(specs) and now < next_pass:
            generation_create(user=users[created % len(users)], spec=specs[created])
            created += 1
            if created == len(specs):
                figures["created_by"] = time.monotonic() - started
            continue
        report = dispatch_pass(interval_seconds=interval)
        figures["passes"].append(time.monotonic() - now)
        figures["peak_in_flight"] = max(figures["peak_in_flight"], report.in_flight)
        if created == len(specs) and report.in_flight == 0:
            break
        next_pass = now + interval
        if created == len(specs):
            time.sleep(max(0.0, next_pass - time.monotonic()))
    figures["wall"] = time.monotonic() - started
    return figures


def run_with_cluster(specs, users, *, workers: int, timeout: float) -> dict:
    """Create the jobs here; a ``qcluster`` of ``workers`` processes does everything else
    (submits, its own dispatcher loop, polls, downloads), as in production."""
    from django.db.models import Q

    from generations.models import Generation
    from generations.services.generations import generation_create

    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env={**os.environ, "Q_WORKERS": str(workers)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    in_flight = Generation.objects.filter(
        Q(state__in=Generation.State.in_flight())
        | Q(state=Generation.State.SUCCEEDED, result_state=Generation.ResultState.PENDING)
    )
    figures = {"created_by": None, "peak_in_flight": 0, "passes": []}
    try:
        started = time.monotonic()
        for n, spec in enumerate(specs):
            generation_create(user=users[n % len(users)], spec=spec)
        figures["created_by"] = time.monotonic() - started
        while time.monotonic() - started < timeout:
            count = in_flight.count()
            figures["peak_in_flight"] = max(figures["peak_in_flight"], count)
            if count == 0:
                break
            time.sleep(0.5)
        figures["wall"] = time.monotonic() - started
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()
    return figures


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="seedance-inflight-"))
    sim_port, portal_port = free_port(), free_port()
    configure_environment(args, workdir, sim_port, portal_port)
    sys.path.insert(0, str(ROOT))

    import django

    warnings.filterwarnings("ignore", message="No directory at", module="whitenoise")
    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django_q.conf import Conf

    from generations.models import Generation, User
    from generations.services.generations import GenerationSpec
    from generations.services.ledger import credits_grant

    if not args.workers:
        Conf.SYNC = True  # every enqueued task runs inline, in this process
        settings.DISPATCHER_AUTOSTART = False  # this script is the dispatcher loop

    call_command("migrate", verbosity=0)
    simulator = start_simulator(args, sim_port, workdir)
    sim_url = f"http://127.0.0.1:{sim_port}"
    server = serve_portal(portal_port) if args.mode == "callback" else None
    try:
        rng = random.Random(args.seed)
        users = []
        for n in range(args.users):
            name = f"bench-{n}-{secrets.token_hex(3)}"
            user = User.objects.create_user(name, email=f"{name}@example.com", password=None)
            credits_grant(user=user, amount=10_000_000, actor=None, memo="benchmark")
            users.append(user)
        specs = [
            GenerationSpec(
                mode="text-to-video",
                prompt=PROMPT.format(n=n),
                resolution=rng.choice(("480p", "720p")),
                duration=rng.randint(4, 12),
                sound=rng.random() < 0.5,
            )
            for n in range(args.jobs)
        ]
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        runner = (
            f"a qcluster of {args.workers} workers (its own dispatcher loop)"
            if args.workers
            else "django-q2 sync mode in this process (it runs the dispatcher passes)"
        )
        print(
            f"{args.jobs} jobs, {args.mode} mode, time scale {args.time_scale}, {engine}, "
            f"{runner}, a dispatcher pass every {settings.DISPATCH_INTERVAL:g} s",
            flush=True,
        )
        if args.workers:
            figures = run_with_cluster(specs, users, workers=args.workers, timeout=args.timeout)
        else:
            figures = run_in_process(specs, users, timeout=args.timeout)

        stats = simulator_get(sim_url, "/_sim/stats")
        tasks = simulator_get(sim_url, "/_sim/tasks")
        states = Counter(Generation.objects.values_list("state", flat=True))
        stored = Generation.objects.filter(result_state=Generation.ResultState.STORED).count()
        try:
            call_command("ledger_check", stdout=open(os.devnull, "w"))  # noqa: SIM115
            ledger = "OK (exit 0)"
        except CommandError as error:
            ledger = f"FAILED: {error}"
        by_duration: dict[int, list[int]] = defaultdict(list)
        on_time: list[int] = []
        for task in tasks:
            duration = int(task["request"]["input"]["duration"])
            by_duration[duration].append(task["statusRequests"])
            on_time.append(polls_if_on_time(duration, callback=args.mode == "callback"))
        # How long after the provider finished the portal finalized (poll or webhook lag).
        finished = dict(
            Generation.objects.filter(finished_at__isnull=False).values_list(
                "provider_task_id", "finished_at"
            )
        )
        lags = [
            finished[task["taskId"]].timestamp() - task["status"]["completeTime"] / 1000
            for task in tasks
            if task["taskId"] in finished and task["status"].get("completeTime")
        ]
        status_total = stats["requests"].get("statusTask", 0)
        finals = sum(states[s] for s in Generation.State.final())
        target = 3 if args.mode == "polling" else 1
        passes = figures["passes"]

        print(f"wall time            {figures['wall']:.1f} s (jobs created by "
              f"{figures['created_by']:.1f} s)")  # fmt: skip
        print(f"peak jobs in flight  {figures['peak_in_flight']}")
        print(f"final states         {dict(states)} ({finals}/{args.jobs} final, {stored} stored)")
        print(f"submit requests      {stats['requests'].get('generateTask', 0)}")
        print(
            f"status requests      {status_total} total, "
            f"{status_total / max(len(tasks), 1):.2f} per job (target <= {target}); "
            f"{sum(on_time) / max(len(on_time), 1):.2f} per job if every poll ran on time"
        )
        print(
            "  by duration        "
            + ", ".join(
                f"{d} s: {sum(v) / len(v):.2f} (n={len(v)})" for d, v in sorted(by_duration.items())
            )
        )
        print(
            f"peak request rate    {stats['max_requests_per_60s']} API requests in a 60 s window "
            f"(limit {PROVIDER_LIMIT_PER_MINUTE:,}/min; portal budget "
            f"{settings.PROVIDER_REQUESTS_PER_MINUTE:,}/min)"
        )
        print(f"responses            {stats['responses']}")
        if lags:
            print(
                f"finalized after the provider finished: median {percentile(lags, 0.5):.1f} s, "
                f"p95 {percentile(lags, 0.95):.1f} s, max {max(lags):.1f} s"
            )
        if args.mode == "callback":
            print(f"callbacks            {stats['callbacks']}")
        if passes:
            late = sum(took > settings.DISPATCH_INTERVAL for took in passes)
            print(
                f"dispatcher passes    {len(passes)}, {late} longer than "
                f"{settings.DISPATCH_INTERVAL:g} s, longest {max(passes):.2f} s, "
                f"mean {sum(passes) / len(passes):.3f} s"
            )
        print(f"ledger_check         {ledger}")
        return 0 if finals == args.jobs and ledger.startswith("OK") else 1
    finally:
        if server is not None:
            server.shutdown()
        os.killpg(simulator.pid, signal.SIGTERM)
        simulator.wait(timeout=10)
        if args.keep:
            print(f"scratch directory    {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
