"""Benchmark: the production topology on loopback, one worker node and one web node killed mid-run.

Issue #13 item 11 and docs/architecture.md "Performance targets": "Several web and worker nodes
share one PostgreSQL and Redis; a node killed mid-run loses nothing."

    .venv/bin/python benchmarks/cluster.py                        # 2,000 jobs, both delivery modes
    .venv/bin/python benchmarks/cluster.py --mode polling --jobs 300
    .venv/bin/python benchmarks/cluster.py --mode callback --no-kill

What runs, all on this machine (docs/deploy.md "Roles" describes the same topology):
- a fresh PostgreSQL database per delivery mode (``CREATE DATABASE`` on ``--postgres-url``,
  migrated, dropped at the end unless ``--keep``) and a Redis database (``--redis-url``,
  flushed first) as the django-q2 broker (``Q_BROKER=redis``) and cache;
- the provider simulator (``python -m generations.simulator``, ``benchmarks/inflight.py``'s
  ``start_simulator``), at ``--time-scale`` (the portal's ``POLL_TIME_SCALE`` is the same);
- ``--web-nodes`` gunicorn servers (``WEB_CONCURRENCY`` x ``WEB_THREADS`` each) behind a
  round-robin TCP balancer in this process that, like nginx's ``proxy_next_upstream error``,
  tries the next node when a node refuses the connection;
- ``--worker-nodes`` ``manage.py qcluster`` nodes of ``--q-workers`` processes each (django-q2's
  scheduler runs in every one; the dispatcher loop runs in one at a time under its lease);
- ``--submitters`` members, each logged in through the balancer, posting the **New video** form
  (the three modes in turn: text-to-video, image-to-video from the simulator's sample frame,
  video-extend of its sample clip). A request that fails on a dying node is posted again with
  the same ``client_token``, so a job the dead node had already created is not created twice.

Mid-run (after 35 % and 60 % of the submissions, unless ``--no-kill``) one qcluster node's
process group and one gunicorn master's process group get SIGKILL; submissions go on through
the surviving web node. ``--mode both`` runs the polling and then the callback topology, each
with half of ``--jobs``, in child processes.

It prints, per delivery mode: jobs per minute (final jobs over the time from the first submit to
the last finalization), provider requests per minute (and the peak in any 60 s window against the
documented 10,000/min), status requests per job, finalize latency p50/p95 (from the provider's
completion to the portal's ``finished_at``) and submit-to-final p50/p95, errors (form posts that
never succeeded, retried posts, jobs not final, failed jobs and why, unsaved results, error lines
in the nodes' logs) and ``ledger_check``. Exits 1 unless every job is final (or parked as
``unknown`` after its node died mid-submit) and the ledger checks out.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.inflight import (  # noqa: E402 (after the path is set)
    PROMPT,
    PROVIDER_LIMIT_PER_MINUTE,
    configure_environment,
    percentile,
    simulator_get,
    start_simulator,
)
from tests.net import free_port, wait_for_port  # noqa: E402

MODES = ("text-to-video", "image-to-video", "video-extend")
PASSWORD = "cluster-benchmark-password"  # scratch users of a scratch database
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="Jobs in all (default 2000).")
    parser.add_argument(
        "--mode",
        choices=("polling", "callback", "both"),
        default="both",
        help="Delivery mode; both: half of --jobs in each, one after the other (default).",
    )
    parser.add_argument("--web-nodes", type=int, default=2)
    parser.add_argument("--worker-nodes", type=int, default=3)
    parser.add_argument("--web-concurrency", type=int, default=2, help="gunicorn processes.")
    parser.add_argument("--web-threads", type=int, default=4, help="Threads per process.")
    parser.add_argument("--q-workers", type=int, default=2, help="Workers per qcluster node.")
    parser.add_argument("--submitters", type=int, default=8, help="Members posting at once.")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.05,
        help="Simulator time_scale and portal POLL_TIME_SCALE (default 0.05, the dev default).",
    )
    parser.add_argument(
        "--postgres-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="A PostgreSQL database to connect to for CREATE/DROP DATABASE.",
    )
    parser.add_argument(
        "--database-prefix", default="seedance_deploy_bench", help="Scratch database name prefix."
    )
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/9", help="Redis database (flushed)."
    )
    parser.add_argument("--no-kill", action="store_true", help="Kill no node mid-run.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=900.0, help="Seconds per delivery mode.")
    parser.add_argument("--keep", action="store_true", help="Keep the database and scratch dir.")
    return parser.parse_args(argv)


# --- processes -------------------------------------------------------------------------------


@dataclass
class Node:
    """One started process group: a gunicorn server or a qcluster."""

    name: str
    process: subprocess.Popen
    log: Path
    port: int | None = None
    killed_at: float | None = None

    def kill(self) -> None:
        """SIGKILL the whole process group, as a machine or container dying would."""
        self.killed_at = time.monotonic()
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM the group (a clean shutdown), SIGKILL after 15 s."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_node(name: str, command: list[str], workdir: Path, env: dict, port=None) -> Node:
    log = workdir / f"{name}.log"
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and flags)
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Node(name, process, log, port)


def start_web(n: int, args, workdir: Path) -> Node:
    """Start gunicorn on a free port; ``gunicorn.conf.py`` is used when the project has one."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("gunicorn"))]
    if (ROOT / "gunicorn.conf.py").exists():
        command += ["--config", str(ROOT / "gunicorn.conf.py")]
    command += [
        "seedance_site.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.web_concurrency),
        "--threads", str(args.web_threads),
        "--worker-class", "gthread",
    ]  # fmt: skip
    env = {"WEB_CONCURRENCY": str(args.web_concurrency), "WEB_THREADS": str(args.web_threads)}
    return start_node(f"web-{n}", command, workdir, env, port)


def start_worker(n: int, args, workdir: Path) -> Node:
    command = [sys.executable, "manage.py", "qcluster"]
    return start_node(f"worker-{n}", command, workdir, {"Q_WORKERS": str(args.q_workers)})


class Balancer:
    """A round-robin TCP balancer on 127.0.0.1, run by an event loop in a daemon thread.

    Each connection goes to the next backend that accepts it, as nginx's ``upstream`` with
    ``proxy_next_upstream error`` does; a dead node's port refuses and is skipped.
    """

    def __init__(self, port: int, backends: list[int]):
        self.port = port
        self.backends = backends
        self._next = itertools.cycle(range(len(backends)))
        self.refused = 0
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(timeout=10)

    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024)

    async def _handle(self, reader, writer) -> None:
        for _ in range(len(self.backends)):
            port = self.backends[next(self._next)]
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                self.refused += 1
        else:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    @staticmethod
    async def _pipe(reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)


# --- the database ----------------------------------------------------------------------------


def database_create(admin_url: str, name: str) -> str:
    """Create the scratch database ``name``; return its URL (same server and user)."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_drop(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_connections() -> int:
    """Return how many connections the scratch database has now (this script's included)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


# --- submitting through the form ---------------------------------------------------------------


@dataclass
class Submissions:
    """What the submitters did; counters shared by their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    done: int = 0
    failed: int = 0
    retries: int = 0
    reasons: Counter = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    peak_connections: int = 0


def form_data(n: int, sim_url: str, rng_seed: int) -> dict:
    """Return the New video form's fields for job ``n`` (modes in turn, varied settings)."""
    mode = MODES[n % len(MODES)]
    data = {
        "mode": mode,
        "provider": "apixo",
        "prompt": PROMPT.format(n=n),
        "resolution": ("480p", "720p")[(n // 3 + rng_seed) % 2],
        "duration": str(4 + (n * 5 + rng_seed) % 9),
        "sound": ("off", "on")[(n // 2) % 2],
        "client_token": secrets.token_hex(16),
    }
    if mode == "image-to-video":
        data |= {"aspect_ratio": "16:9", "start_image_url": f"{sim_url}/samples/frame.png"}
    elif mode == "video-extend":
        data |= {"source_video_url": f"{sim_url}/samples/clip.mp4", "camera_fixed": "on"}
    else:
        data["aspect_ratio"] = "16:9"
    return data


def submitter(base_url: str, username: str, jobs: queue.Queue, out: Submissions) -> None:
    """Log in as ``username`` and post the form for each job of ``jobs`` until it is empty.

    A post that fails (connection reset by a killed node, 5xx) is repeated with the same
    ``client_token`` up to 8 times: the form's one-time key makes the repeat return the job the
    first post may already have created. A 302 to the job's page is success.
    """
    import requests

    session = requests.Session()

    def csrf() -> str:
        return session.cookies.get("csrftoken", "")

    for _ in range(10):
        try:
            session.get(f"{base_url}/accounts/login/", timeout=30)
            response = session.post(
                f"{base_url}/accounts/login/",
                data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf()},
                allow_redirects=False,
                timeout=30,
            )
            if response.status_code == 302:
                break
        except requests.RequestException:
            pass
        time.sleep(0.5)
    else:
        print(f"{username} could not log in through {base_url}", file=sys.stderr, flush=True)
        return

    while True:
        try:
            data = jobs.get_nowait()
        except queue.Empty:
            return
        data["csrfmiddlewaretoken"] = csrf()
        started = time.monotonic()
        reason = ""
        for attempt in range(8):
            try:
                response = session.post(
                    f"{base_url}/new/", data=data, allow_redirects=False, timeout=60
                )
            except requests.RequestException as error:
                reason = type(error).__name__
            else:
                if response.status_code == 302 and "/g/" in response.headers.get("Location", ""):
                    reason = ""
                    break
                reason = f"HTTP {response.status_code}"
                if response.status_code < 500:
                    break  # a form error: repeating it cannot help
            with out.lock:
                out.retries += 1
            time.sleep(0.2 * (attempt + 1))
        with out.lock:
            if reason:
                out.failed += 1
                out.reasons[reason] += 1
            else:
                out.done += 1
                out.seconds.append(time.monotonic() - started)


# --- one delivery mode -------------------------------------------------------------------------


def run_mode(args) -> int:
    """Start the topology for ``args.mode`` (polling or callback), run the jobs, print figures."""
    import redis

    workdir = Path(tempfile.mkdtemp(prefix=f"seedance-cluster-{args.mode}-"))
    name = f"{args.database_prefix}_{args.mode}_{secrets.token_hex(3)}"
    args.database_url = database_create(args.postgres_url, name)
    redis.Redis.from_url(args.redis_url).flushdb()
    sim_port, balancer_port = free_port(), free_port()
    configure_environment(args, workdir, sim_port, balancer_port)
    os.environ.update(
        {
            "Q_BROKER": "redis",
            "REDIS_URL": args.redis_url,
            "MEDIA_STORAGE": "local",
            "LOG_FORMAT": "text",
            "CONN_MAX_AGE": "60",
            "ENV_FILE": "",  # no developer's .env: this environment only
        }
    )
    import django

    warnings.filterwarnings("ignore", message="No directory at", module="whitenoise")
    django.setup()

    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db.models import Q

    from generations.models import Generation, User
    from generations.services.ledger import credits_grant

    nodes: list[Node] = []
    simulator = None
    balancer = None
    try:
        call_command("migrate", verbosity=0)
        # As on a first deploy: the manifest storage (DEBUG off) needs the collected files.
        call_command("collectstatic", interactive=False, verbosity=0)
        users = []
        for n in range(args.submitters):
            user = User.objects.create_user(f"bench-{n}", email=f"bench-{n}@example.com")
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
            credits_grant(user=user, amount=100_000_000, actor=None, memo="cluster benchmark")
            users.append(user.username)

        simulator = start_simulator(args, sim_port, workdir)
        sim_url = f"http://127.0.0.1:{sim_port}"
        webs = [start_web(n, args, workdir) for n in range(args.web_nodes)]
        workers = [start_worker(n, args, workdir) for n in range(args.worker_nodes)]
        nodes = webs + workers
        for web in webs:
            wait_for_port(web.port, timeout=60)
        balancer = Balancer(balancer_port, [web.port for web in webs])
        base_url = f"http://127.0.0.1:{balancer_port}"
        print(
            f"{args.jobs} jobs, {args.mode} mode, PostgreSQL {name}, Redis {args.redis_url}, "
            f"{args.web_nodes} gunicorn x {args.web_concurrency} processes x "
            f"{args.web_threads} threads, {args.worker_nodes} qcluster x {args.q_workers} "
            f"workers, {args.submitters} submitters, time scale {args.time_scale:g}",
            flush=True,
        )

        jobs: queue.Queue = queue.Queue()
        for n in range(args.jobs):
            jobs.put(form_data(n, sim_url, args.seed))
        out = Submissions()
        started = time.monotonic()
        threads = [
            threading.Thread(target=submitter, args=(base_url, user, jobs, out), daemon=True)
            for user in users
        ]
        for thread in threads:
            thread.start()

        # A submit sent by a node that died before it recorded the task id is parked as
        # "unknown" (never re-sent; settled by a late callback or released after a grace
        # period, services.lifecycle.UNKNOWN_OUTCOME_GRACE): legitimately in flight, not waited
        # for here but counted in the figures.
        in_flight = Generation.objects.filter(
            Q(state__in=Generation.State.in_flight())
            | Q(state=Generation.State.SUCCEEDED, result_state=Generation.ResultState.PENDING)
        ).exclude(state=Generation.State.UNKNOWN)
        kills = [] if args.no_kill else [(0.35, workers[0]), (0.60, webs[0])]
        peak_connections = 0
        last_report = 0.0
        wall = None
        while time.monotonic() - started < args.timeout:
            posted = out.done + out.failed
            for share, node in kills:
                if node.killed_at is None and posted >= share * args.jobs:
                    node.kill()
                    node.killed_at -= started
                    print(f"  {time.monotonic() - started:6.1f} s  SIGKILL {node.name} "
                          f"after {posted} posts", flush=True)  # fmt: skip
            submitting = any(thread.is_alive() for thread in threads)
            count = in_flight.count()
            peak_connections = max(peak_connections, database_connections())
            if time.monotonic() - last_report >= 15:
                last_report = time.monotonic()
                print(f"  {last_report - started:6.1f} s  posted {posted}, in flight {count}",
                      flush=True)  # fmt: skip
            if not submitting and count == 0:
                wall = time.monotonic() - started
                break
            time.sleep(0.5)
        if wall is None:
            wall = time.monotonic() - started
            print(f"  timed out after {args.timeout:g} s", flush=True)

        out.peak_connections = peak_connections
        return report(args, out, wall, sim_url, nodes, balancer, call_command, CommandError)
    finally:
        for node in nodes:
            node.stop()
        if balancer is not None:
            balancer.close()
        if simulator is not None:
            os.killpg(simulator.pid, signal.SIGTERM)
            simulator.wait(timeout=10)
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept: database {name}, scratch directory {workdir}")
        else:
            database_drop(args.postgres_url, name)
            shutil.rmtree(workdir, ignore_errors=True)


def report(args, out, wall, sim_url, nodes, balancer, call_command, command_error) -> int:
    """Print the figures of one delivery mode; return the exit status."""
    from generations.models import Generation

    stats = simulator_get(sim_url, "/_sim/stats")
    tasks = simulator_get(sim_url, "/_sim/tasks")
    jobs = Generation.objects.all()
    states = Counter(jobs.values_list("state", flat=True))
    final = sum(states[s] for s in Generation.State.final())
    unknown = states.get(Generation.State.UNKNOWN, 0)
    by_mode = Counter(jobs.values_list("mode", flat=True))
    unsaved = jobs.filter(state=Generation.State.SUCCEEDED).exclude(
        result_state=Generation.ResultState.STORED
    )
    fail_reasons = Counter(
        f"{code or '-'}: {message[:60]}"
        for code, message in jobs.filter(state=Generation.State.FAILED).values_list(
            "fail_code", "fail_message"
        )
    )
    try:
        call_command("ledger_check", stdout=open(os.devnull, "w"))  # noqa: SIM115
        ledger = "OK (exit 0)"
    except command_error as error:
        ledger = f"FAILED: {error}"

    finished = dict(
        jobs.filter(finished_at__isnull=False).values_list("provider_task_id", "finished_at")
    )
    lags = [
        finished[task["taskId"]].timestamp() - task["status"]["completeTime"] / 1000
        for task in tasks
        if task["taskId"] in finished and task["status"].get("completeTime")
    ]
    turnaround = [
        (done - created).total_seconds()
        for created, done in jobs.filter(finished_at__isnull=False).values_list(
            "created_at", "finished_at"
        )
    ]
    requests_total = sum(stats["requests"].values())
    status_total = stats["requests"].get("statusTask", 0)
    log_errors = {}
    for node in nodes:
        text = node.log.read_text(errors="replace") if node.log.exists() else ""
        log_errors[node.name] = sum(1 for line in text.splitlines() if ERROR_LINE.search(line))
    minutes = wall / 60

    def p(values, share):
        return f"{percentile(values, share):.2f} s" if values else "-"

    rows = [
        ("jobs", f"{args.jobs} posted, {out.done} accepted, {final} final "
                 f"({dict(states)}); by mode {dict(by_mode)}"),
        ("wall time", f"{wall:.1f} s, first post to last finalization"),
        ("jobs per minute", f"{final / minutes:.0f}"),
        ("provider requests/min", f"{requests_total / minutes:.0f} on average "
                                  f"({requests_total} requests: {stats['requests']}); peak "
                                  f"{stats['max_requests_per_60s']} in a 60 s window "
                                  f"(limit {PROVIDER_LIMIT_PER_MINUTE:,})"),
        ("status requests/job", f"{status_total / max(len(tasks), 1):.2f} "
                                f"({status_total} for {len(tasks)} provider tasks)"),
        ("finalize latency", f"p50 {p(lags, 0.5)}, p95 {p(lags, 0.95)} after the provider "
                             f"finished (n={len(lags)})"),
        ("submit to final", f"p50 {p(turnaround, 0.5)}, p95 {p(turnaround, 0.95)}, "
                            f"max {p(turnaround, 1.0)}"),
        ("form posts", f"p50 {p(out.seconds, 0.5)}, p95 {p(out.seconds, 0.95)} "
                       f"(repeats included)"),
        ("errors", f"{out.failed} posts never accepted {dict(out.reasons)}; {out.retries} "
                   f"posts repeated; {args.jobs - final} jobs not final ({unknown} parked "
                   f"as unknown: submit sent by a killed node); "
                   f"{states.get('failed', 0)} failed {dict(fail_reasons)}; "
                   f"{unsaved.count()} results not stored; balancer skipped a dead node "
                   f"{balancer.refused} times; provider responses {stats['responses']}"),
        ("database connections", f"peak {out.peak_connections}; the sizing rule "
                                 f"(docs/deploy.md) allows {connections_allowed(args)} + this "
                                 f"script's 1"),
        ("load average", " ".join(f"{load:.1f}" for load in os.getloadavg())
                         + f" at the end ({os.cpu_count()} cores)"),
        ("error lines in logs", ", ".join(f"{k} {v}" for k, v in log_errors.items())),
        ("killed", ", ".join(f"{n.name} at {n.killed_at:.0f} s" for n in nodes if n.killed_at)
         or "none"),
        ("ledger_check", ledger),
    ]  # fmt: skip
    if args.mode == "callback":
        rows.insert(5, ("callbacks", str(stats.get("callbacks"))))
    width = max(len(label) for label, _ in rows)
    print(f"--- {args.mode} mode ---")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    sys.stdout.flush()
    settled = final + unknown == args.jobs
    return 0 if settled and out.failed == 0 and ledger.startswith("OK") else 1


def connections_allowed(args) -> int:
    """Return the connections docs/deploy.md's rule gives the topology (without margin):
    processes x threads per web node, Q_WORKERS + 2 per worker node."""
    web = args.web_nodes * args.web_concurrency * args.web_threads
    return web + args.worker_nodes * (args.q_workers + 2)


def main() -> int:
    args = parse_args()
    if args.mode != "both":
        return run_mode(args)
    # Each delivery mode is its own topology (settings are read once per process).
    status = 0
    argv = sys.argv[1:]
    for mode in ("polling", "callback"):
        child = [sys.executable, __file__, *_without(argv, "--mode", "--jobs")]
        child += ["--mode", mode, "--jobs", str(args.jobs // 2)]
        status |= subprocess.call(child, cwd=ROOT)  # noqa: S603 (this script)
    return status


def _without(argv: list[str], *options: str) -> list[str]:
    """Return ``argv`` without ``options`` and their values (``--x V`` or ``--x=V``)."""
    kept, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item in options:
            skip = True
        elif not any(item.startswith(f"{option}=") for option in options):
            kept.append(item)
    return kept


if __name__ == "__main__":
    sys.exit(main())
