"""Benchmark: one machine tracks 1,000 jobs in flight against the simulator.

docs/architecture.md "Performance targets": all jobs finalized within the provider's request
limits; in polling mode at most 1.5 status requests per job on average with a p95 finalize delay
(provider finished -> portal finalized) under 10 s; exactly 1 status request per job in callback
mode (issue #14 item 2).

    .venv/bin/python benchmarks/inflight.py --workers 4          # 600 warm-up + 1,000 jobs
    .venv/bin/python benchmarks/inflight.py --workers 4 --mode callback   # no warm-up wave
    .venv/bin/python benchmarks/inflight.py --jobs 200           # in-process, sync mode

The README's figures come from the first line. In sync mode (no ``--workers``) one process
runs every submit, poll and download inline between dispatcher passes; with 1,000 jobs its
passes fall seconds behind, which shows as finalize delay (a p95 of 50 s on 2026-11-29) that a
cluster does not have.

The first poll of a polling-mode job is scheduled from the completion times the portal observed
for similar jobs (``services.poll_schedule``), and a fresh database has none: so polling mode
first runs a **warm-up wave** (``--warmup`` jobs, cycling through every duration and
resolution, so that each kind gets at least the 20 samples the schedule needs; it runs on the
documented-range fallback) and measures the **second wave** (``--jobs``), which runs on the
learned schedule. Both waves' figures are printed; only the measured wave is held to the
targets. The simulator draws each task's generation time within the documented range
(``simulator.lifecycle.completion_seconds``, seeded by ``--seed``).

What runs, all on this machine:
- a scratch database: a new SQLite file in a temporary directory, removed at the end unless
  ``--keep`` (or ``--database-url``, e.g. a scratch PostgreSQL database: it is migrated and
  written to);
- the APIXO simulator as its own process (``python -m generations.simulator``), its
  ``time_scale`` equal to the portal's ``POLL_TIME_SCALE`` so that the portal's poll schedule
  and the simulated generation times keep their documented proportion (``--time-scale 1``,
  the default, is real time: a 4 s clip takes 40-60 s, a 12 s clip 90-120 s);
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

It prints the figures the targets name, each with its target beside it (status requests per
job, p95 finalize delay, final states, the peak number of API requests in any 60 s window
against the 10,000/min limit, ``ledger_check``), and what explains them: status requests per job
by requested duration, the share of jobs the first poll found done, the first poll per kind of
job at the start of the measured wave, and the sync-mode pass timings. Finalize delays are
wall-clock seconds divided by the time scale (documented seconds); at a time scale below 1 that
also magnifies the dispatcher's own lag (a pass every ``DISPATCH_INTERVAL`` s), so the figures
for the README are taken at ``--time-scale 1``. Exits 1 when any figure misses its target.
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
sys.path.insert(0, str(ROOT))

from benchmarks.summary import figure, summary_line  # noqa: E402 (after the path is set)

PROVIDER_LIMIT_PER_MINUTE = 10_000  # docs/providers/apixo.md "Rate limits"
PROMPT = "{wave} job {n}: a lighthouse on a cliff in a winter storm, waves breaking below"
WARMUP, MEASURED = "warm-up", "benchmark"
# docs/architecture.md "Performance targets" (issue #14 item 2).
POLLING_REQUESTS_TARGET = 1.5
FINALIZE_P95_TARGET_S = 10.0
DURATIONS = range(4, 13)
RESOLUTIONS = ("480p", "720p")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--jobs", type=int, default=1000, help="Jobs of the measured wave (default 1000)."
    )
    parser.add_argument("--mode", choices=("polling", "callback"), default="polling")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="Simulator time_scale and portal POLL_TIME_SCALE (default 1: documented timing).",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=600,
        help="Polling mode: jobs of the warm-up wave the schedule learns from (default 600, "
        "over 30 per kind of job); 0 measures the documented-range fallback.",
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


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def simulator_get(base_url: str, path: str):
    import requests

    return requests.get(f"{base_url}{path}", timeout=30).json()["data"]


def in_flight_count() -> int:
    """Count jobs not final yet, or succeeded with their result still downloading."""
    from django.db.models import Q

    from generations.models import Generation

    return Generation.objects.filter(
        Q(state__in=Generation.State.in_flight())
        | Q(state=Generation.State.SUCCEEDED, result_state=Generation.ResultState.PENDING)
    ).count()


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


def start_cluster(workers: int, env: dict | None = None) -> subprocess.Popen:
    """Start ``manage.py qcluster`` with ``workers`` workers: it submits, runs its own
    dispatcher loop, polls and downloads, as in production. ``env`` adds to this process's
    environment. The cluster is its own process group (its pid is the group id)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env={**os.environ, "Q_WORKERS": str(workers), **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_cluster(cluster: subprocess.Popen) -> None:
    os.killpg(cluster.pid, signal.SIGTERM)
    try:
        cluster.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(cluster.pid, signal.SIGKILL)
        cluster.wait()


def create_jobs(specs, users) -> None:
    """Create a job per spec with ``generation_create`` (its submit is enqueued on commit),
    the members taking turns."""
    from generations.services.generations import generation_create

    for n, spec in enumerate(specs):
        generation_create(user=users[n % len(users)], spec=spec)


def wait_until_final(figures: dict, *, started: float, timeout: float) -> None:
    """Wait until no job is in flight (or ``timeout`` s after ``started``); note the peak
    in flight and the wall time in ``figures``."""
    while time.monotonic() - started < timeout:
        count = in_flight_count()
        figures["peak_in_flight"] = max(figures["peak_in_flight"], count)
        if count == 0:
            break
        time.sleep(0.5)
    figures["wall"] = time.monotonic() - started


def run_on_cluster(specs, users, *, timeout: float) -> dict:
    """Create the jobs here and wait until a running cluster has finished them all."""
    figures = {"created_by": None, "peak_in_flight": 0, "passes": []}
    started = time.monotonic()
    create_jobs(specs, users)
    figures["created_by"] = time.monotonic() - started
    wait_until_final(figures, started=started, timeout=timeout)
    return figures


def make_specs(wave: str, count: int, rng: random.Random) -> list:
    """Return ``count`` text-to-video specs: the warm-up wave cycles through every duration
    and resolution (so each kind of job gets its share of samples), the measured wave draws
    them at random."""
    from generations.services.generations import GenerationSpec

    kinds = [(duration, resolution) for duration in DURATIONS for resolution in RESOLUTIONS]
    specs = []
    for n in range(count):
        if wave == WARMUP:
            duration, resolution = kinds[n % len(kinds)]
        else:
            duration, resolution = rng.randint(4, 12), rng.choice(RESOLUTIONS)
        specs.append(
            GenerationSpec(
                mode="text-to-video",
                prompt=PROMPT.format(wave=wave, n=n),
                resolution=resolution,
                duration=duration,
                sound=rng.random() < 0.5,
            )
        )
    return specs


def wave_figures(wave: str, tasks: list[dict], finished: dict, scale: float) -> dict:
    """Return a wave's status requests per job (overall and by duration), the share of jobs
    whose first status request found them done, and finalize delays in documented seconds."""
    mine = [t for t in tasks if t["request"]["input"]["prompt"].startswith(f"{wave} job ")]
    by_duration: dict[int, list[int]] = defaultdict(list)
    for task in mine:
        by_duration[int(task["request"]["input"]["duration"])].append(task["statusRequests"])
    requests = [task["statusRequests"] for task in mine]
    delays = [
        (finished[task["taskId"]].timestamp() - task["status"]["completeTime"] / 1000) / scale
        for task in mine
        if task["taskId"] in finished and task["status"].get("completeTime")
    ]
    return {
        "jobs": len(mine),
        "per_job": sum(requests) / max(len(requests), 1),
        "requests": requests,
        "first_poll_hits": sum(r == 1 for r in requests) / max(len(requests), 1),
        "by_duration": by_duration,
        "delays": delays,
    }


def print_wave(title: str, figures: dict, run: dict) -> None:
    delays = figures["delays"]
    print(f"-- {title}: {figures['jobs']} jobs, wall {run['wall']:.1f} s (created by "
          f"{run['created_by']:.1f} s), peak {run['peak_in_flight']} in flight")  # fmt: skip
    print(
        f"   status requests    {figures['per_job']:.2f} per job; the first one found "
        f"{figures['first_poll_hits']:.0%} of jobs done; max {max(figures['requests'], default=0)}"
    )
    print(
        "   by duration        "
        + ", ".join(
            f"{d} s: {sum(v) / len(v):.2f}" for d, v in sorted(figures["by_duration"].items())
        )
    )
    if delays:
        print(
            f"   finalize delay     median {percentile(delays, 0.5):.1f} s, "
            f"p95 {percentile(delays, 0.95):.1f} s, max {max(delays):.1f} s "
            "(provider finished -> portal finalized, documented seconds)"
        )
    passes = run["passes"]
    if passes:
        from django.conf import settings

        late = sum(took > settings.DISPATCH_INTERVAL for took in passes)
        print(
            f"   dispatcher passes  {len(passes)}, {late} longer than "
            f"{settings.DISPATCH_INTERVAL:g} s, longest {max(passes):.2f} s, "
            f"mean {sum(passes) / len(passes):.3f} s"
        )


def print_schedule(scale: float) -> int:
    """Print the first poll each kind of job gets now (observed or documented); return how
    many kinds have enough observed jobs."""
    from generations.services.poll_schedule import (
        OBSERVED_MIN,
        OBSERVED_SHARE,
        documented_first_poll_seconds,
        observed_first_poll_seconds,
    )

    learned, cells = 0, []
    for duration in DURATIONS:
        parts = []
        for resolution in RESOLUTIONS:
            observed = observed_first_poll_seconds(
                provider="apixo", mode="text-to-video", resolution=resolution, duration=duration
            )
            learned += observed is not None
            parts.append("-" if observed is None else f"{observed / scale:.0f}")
        documented = documented_first_poll_seconds(mode="text-to-video", duration=duration)
        cells.append(f"{duration} s {'/'.join(parts)} ({documented:g})")
    kinds = len(DURATIONS) * len(RESOLUTIONS)
    print(
        f"first poll now, s (480p/720p from the {OBSERVED_SHARE:.0%} percentile of observed "
        f"times, documented fallback in brackets; {learned}/{kinds} kinds have "
        f">= {OBSERVED_MIN} samples):"
    )
    print("   " + ", ".join(cells))
    return learned


def verdict(rows: list[tuple[str, str, str, bool]]) -> bool:
    """Print each figure with its target; return True when all pass."""
    print(f"{'figure':<34} {'measured':>14}  {'target':<14} result")
    for name, value, target, ok in rows:
        print(f"{name:<34} {value:>14}  {target:<14} {'ok' if ok else 'MISSED'}")
    return all(ok for *_, ok in rows)


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="seedance-inflight-"))
    sim_port, portal_port = free_port(), free_port()
    configure_environment(args, workdir, sim_port, portal_port)

    import django

    warnings.filterwarnings("ignore", message="No directory at", module="whitenoise")
    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django_q.conf import Conf

    from generations.models import Generation, User
    from generations.services.ledger import credits_grant

    if not args.workers:
        Conf.SYNC = True  # every enqueued task runs inline, in this process
        settings.DISPATCHER_AUTOSTART = False  # this script is the dispatcher loop

    polling = args.mode == "polling"
    warmup = args.warmup if polling else 0
    call_command("migrate", verbosity=0)
    simulator = start_simulator(args, sim_port, workdir)
    sim_url = f"http://127.0.0.1:{sim_port}"
    server = serve_portal(portal_port) if args.mode == "callback" else None
    cluster = start_cluster(args.workers) if args.workers else None
    try:
        rng = random.Random(args.seed)
        users = []
        for n in range(args.users):
            name = f"bench-{n}-{secrets.token_hex(3)}"
            user = User.objects.create_user(name, email=f"{name}@example.com", password=None)
            credits_grant(user=user, amount=10_000_000, actor=None, memo="benchmark")
            users.append(user)
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        runner = (
            f"a qcluster of {args.workers} workers (its own dispatcher loop)"
            if args.workers
            else "django-q2 sync mode in this process (it runs the dispatcher passes)"
        )
        print(
            f"{warmup} warm-up + {args.jobs} measured jobs, {args.mode} mode, time scale "
            f"{args.time_scale}, {engine}, {runner}, a dispatcher pass every "
            f"{settings.DISPATCH_INTERVAL:g} s",
            flush=True,
        )

        def run(specs):
            if cluster is not None:
                return run_on_cluster(specs, users, timeout=args.timeout)
            return run_in_process(specs, users, timeout=args.timeout)

        runs = {}
        if warmup:
            runs[WARMUP] = run(make_specs(WARMUP, warmup, rng))
            # The schedule caches each kind's answer for OBSERVED_CACHE_S seconds, and the
            # last warm-up submits cached "not enough samples yet": start the measured wave
            # from what the warm-up taught (a cluster's workers each have their own cache).
            from django.core.cache import cache

            from generations.services.poll_schedule import OBSERVED_CACHE_S

            cache.clear()
            if cluster is not None:
                time.sleep(OBSERVED_CACHE_S)
        if polling:
            learned = print_schedule(args.time_scale)
            if warmup and learned < len(DURATIONS) * len(RESOLUTIONS):
                print("   (some kinds still use the documented fallback: raise --warmup)")
        runs[MEASURED] = run(make_specs(MEASURED, args.jobs, rng))

        stats = simulator_get(sim_url, "/_sim/stats")
        tasks = simulator_get(sim_url, "/_sim/tasks")
        states = Counter(Generation.objects.values_list("state", flat=True))
        stored = Generation.objects.filter(result_state=Generation.ResultState.STORED).count()
        try:
            call_command("ledger_check", stdout=open(os.devnull, "w"))  # noqa: SIM115
            ledger = "OK"
        except CommandError as error:
            ledger = f"FAILED: {error}"
        finished = dict(
            Generation.objects.filter(finished_at__isnull=False).values_list(
                "provider_task_id", "finished_at"
            )
        )
        figures = {wave: wave_figures(wave, tasks, finished, args.time_scale) for wave in runs}
        if warmup:
            print_wave("warm-up wave (first poll from the documented range)", figures[WARMUP],
                       runs[WARMUP])  # fmt: skip
        print_wave(
            "measured wave" + (" (first poll from observed times)" if polling else ""),
            figures[MEASURED],
            runs[MEASURED],
        )
        total = warmup + args.jobs
        finals = sum(states[s] for s in Generation.State.final())
        print(f"final states         {dict(states)} ({stored} results stored)")
        print(f"submit requests      {stats['requests'].get('generateTask', 0)}")
        print(f"responses            {stats['responses']}")
        if args.mode == "callback":
            print(f"callbacks            {stats['callbacks']}")

        measured = figures[MEASURED]
        delays = measured["delays"]
        p95 = percentile(delays, 0.95) if delays else float("inf")
        peak = stats["max_requests_per_60s"]
        rows = []
        if polling:
            rows += [
                (
                    "status requests per job",
                    f"{measured['per_job']:.2f}",
                    f"<= {POLLING_REQUESTS_TARGET}",
                    measured["per_job"] <= POLLING_REQUESTS_TARGET,
                ),
                (
                    "p95 finalize delay",
                    f"{p95:.1f} s",
                    f"< {FINALIZE_P95_TARGET_S:g} s",
                    p95 < FINALIZE_P95_TARGET_S,
                ),
            ]
        else:
            exact = all(r == 1 for r in measured["requests"])
            rows.append(
                (
                    "status requests per job",
                    f"{measured['per_job']:.2f}",
                    "exactly 1 each",
                    exact and measured["jobs"] == args.jobs,
                )
            )
        rows += [
            ("jobs final", f"{finals}/{total}", "all", finals == total),
            (
                "peak API requests in 60 s",
                f"{peak:,}",
                f"< {PROVIDER_LIMIT_PER_MINUTE:,}",
                peak < PROVIDER_LIMIT_PER_MINUTE,
            ),
            ("ledger_check", ledger, "OK", ledger == "OK"),
        ]
        ok = verdict(rows)
        print(summary_line(f"inflight-{args.mode}", [figure(*row) for row in rows]), flush=True)
        return 0 if ok else 1
    finally:
        if cluster is not None:
            stop_cluster(cluster)
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
