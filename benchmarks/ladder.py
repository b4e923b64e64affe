"""Benchmark: 100, 1,000 and 10,000 jobs in flight, database broker and Redis broker.

Issue #14 item 5 and docs/architecture.md "Performance targets": on this machine every job
is finalized, provider requests stay under the documented 10,000 per minute
(docs/providers/apixo.md "Rate limits"), and the cost per job stays flat as the number of
jobs in flight grows.

    .venv/bin/python benchmarks/ladder.py                               # 100, 1k, 10k; orm, redis
    .venv/bin/python benchmarks/ladder.py --steps 100,1000 --brokers orm
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/seedance_bench \
        .venv/bin/python benchmarks/ladder.py

For each broker (a child process of this script, since the portal reads ``Q_BROKER`` once),
on a fresh database (``DATABASE_URL`` names a PostgreSQL database that is dropped and created
again; without it, a new SQLite file) and, for ``redis``, a flushed Redis database
(``--redis-url``, also the portal's cache): the simulator and one ``manage.py qcluster`` of
``--workers`` processes start as in ``benchmarks/inflight.py`` (whose helpers this reuses),
a warm-up wave teaches the poll schedule (``services.poll_schedule``) its observed times, then
each step creates its jobs here with ``generation_create`` and waits until all are final with
their results stored. Per step it measures, per job:

- **worker CPU**: user + system seconds of the qcluster's process group (``/proc``; reaped
  workers included), so the dispatcher loop, the broker, submits, polls, downloads and
  notifications;
- **worker statements**: SQL statements the worker processes sent (a counting
  ``execute_wrapper`` installed by ``benchmarks.probe_settings``), the ORM broker's included;
- **create statements**: statements this process sent in ``generation_create`` (the web
  request's share), and its CPU;
- **provider requests**: API requests the simulator received (submit, status, download
  links), and the peak in any 60 s window so far against 10,000;
- the p95 **finalize delay** in wall-clock seconds (provider finished -> portal finalized;
  no target here: at ``--time-scale`` 0.25 the schedule's gaps are a quarter of real ones,
  the workers' lag is not), which shows whether the workers keep up as the steps grow.

It prints one table (steps x brokers) and exits 1 when a job is not final, the peak reaches
10,000 per minute, or a per-job figure of the largest step exceeds ``--flat`` times (default
1.5) the smallest step's. CPU figures depend on the machine's other load: say so beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.inflight import (  # noqa: E402 (after the path is set)
    PROVIDER_LIMIT_PER_MINUTE,
    WARMUP,
    configure_environment,
    create_jobs,
    free_port,
    make_specs,
    percentile,
    run_on_cluster,
    simulator_get,
    start_cluster,
    start_simulator,
    stop_cluster,
    wait_until_final,
    wave_figures,
)
from benchmarks.probe import process_group_cpu, read_totals  # noqa: E402
from benchmarks.summary import figure, parse_summaries, summary_line  # noqa: E402

PER_JOB = (
    ("cpu_ms", "worker CPU ms/job"),
    ("statements", "worker statements/job"),
    ("requests", "provider requests/job"),
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="100,1000,10000", help="Jobs per step, in order.")
    parser.add_argument("--brokers", default="orm,redis", help="django-q2 brokers to run.")
    parser.add_argument("--broker", choices=("orm", "redis"), help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=4, help="qcluster workers (default 4).")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.25,
        help="Simulator time_scale and portal POLL_TIME_SCALE (default 0.25: a 12 s clip "
        "takes 22-30 s; the per-job figures do not depend on it).",
    )
    parser.add_argument("--warmup", type=int, default=400, help="Warm-up jobs (default 400).")
    parser.add_argument("--users", type=int, default=20, help="Members sharing the jobs.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="PostgreSQL database to drop, create and use (default DATABASE_URL; empty: SQLite).",
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--flat", type=float, default=1.5, help="Allowed growth per job.")
    parser.add_argument(
        "--timeout-per-job", type=float, default=0.3, help="Seconds per job, plus 600 a step."
    )
    args = parser.parse_args(argv)
    args.step_sizes = [int(n) for n in args.steps.split(",") if n.strip()]
    args.mode = "polling"
    return args


# --- one broker (child process) ---------------------------------------------------------------


def fresh_database(url: str, workdir: Path) -> str:
    """Drop and create the PostgreSQL database of ``url``; return the URL to use (a new
    SQLite file when ``url`` is empty)."""
    if not url:
        return f"sqlite:///{workdir / 'ladder.sqlite3'}"
    from benchmarks.cluster import database_create, database_drop

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    database_drop(admin, name)
    return database_create(admin, name)


def run_broker(args) -> int:
    """Run every step on one broker; print its table rows and a summary line."""
    workdir = Path(tempfile.mkdtemp(prefix=f"seedance-ladder-{args.broker}-"))
    probe_dir = workdir / "probe"
    probe_dir.mkdir()
    database_url = fresh_database(args.database_url, workdir)
    env_args = SimpleNamespace(
        database_url=database_url, time_scale=args.time_scale, mode="polling", seed=args.seed
    )
    configure_environment(env_args, workdir, free_port(), free_port())
    os.environ["Q_BROKER"] = args.broker
    if args.broker == "redis":
        if not args.redis_url:
            raise SystemExit("--broker redis needs --redis-url (or REDIS_URL)")
        os.environ["REDIS_URL"] = args.redis_url
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()
    else:
        os.environ.pop("REDIS_URL", None)

    import django

    warnings.filterwarnings("ignore", message="No directory at", module="whitenoise")
    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection

    from generations.models import Generation, User
    from generations.services.ledger import credits_grant
    from generations.services.poll_schedule import OBSERVED_CACHE_S

    call_command("migrate", verbosity=0)
    sim_port = int(os.environ["SIMULATOR_PORT"])
    simulator = start_simulator(env_args, sim_port, workdir)
    sim_url = f"http://127.0.0.1:{sim_port}"
    cluster = start_cluster(
        args.workers,
        {"DJANGO_SETTINGS_MODULE": "benchmarks.probe_settings", "BENCH_PROBE_DIR": str(probe_dir)},
    )
    rows = []
    try:
        rng = random.Random(args.seed)
        users = []
        for n in range(args.users):
            name = f"ladder-{n}-{secrets.token_hex(3)}"
            user = User.objects.create_user(name, email=f"{name}@example.com", password=None)
            credits_grant(user=user, amount=100_000_000, actor=None, memo="benchmark")
            users.append(user)
        engine = connection.vendor
        print(f"[{args.broker}] {engine}, {args.workers} workers, time scale {args.time_scale}",
              flush=True)  # fmt: skip
        if args.warmup:
            warm = run_on_cluster(make_specs(WARMUP, args.warmup, rng), users, timeout=900)
            print(f"[{args.broker}] warm-up {args.warmup} jobs in {warm['wall']:.0f} s", flush=True)
            cache.clear()
            if args.broker == "orm":  # each worker's local-memory cache forgets by itself
                time.sleep(OBSERVED_CACHE_S)
        for size in args.step_sizes:
            rows.append(run_step(args, size, users, rng, probe_dir, cluster.pid, sim_url))
            print(f"[{args.broker}] {json.dumps(rows[-1])}", flush=True)
        total = Generation.objects.count()
        print(f"[{args.broker}] {total} jobs in the database", flush=True)
    finally:
        stop_cluster(cluster)
        os.killpg(simulator.pid, signal.SIGTERM)
        simulator.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    print(summary_line(f"ladder-{args.broker}", [], broker=args.broker, steps=rows), flush=True)
    return 0


def run_step(args, size, users, rng, probe_dir, pgid, sim_url) -> dict:
    """Create ``size`` jobs, wait until all are final; return the per-job figures."""
    from django.db import connection

    from generations.models import Generation

    wave = f"step{size}"

    def sim_requests():
        stats = simulator_get(sim_url, "/_sim/stats")
        return sum(stats["requests"].values()), stats["max_requests_per_60s"]

    created = {"statements": 0}

    def count(execute, sql, params, many, context):
        created["statements"] += 1
        return execute(sql, params, many, context)

    specs = make_specs(wave, size, rng)
    cpu0, stmts0, (req0, _) = process_group_cpu(pgid), read_totals(probe_dir), sim_requests()
    started, own_cpu = time.monotonic(), time.process_time()
    with connection.execute_wrapper(count):
        create_jobs(specs, users)
    own_cpu = time.process_time() - own_cpu
    figures = {"created_by": time.monotonic() - started, "peak_in_flight": 0}
    wait_until_final(figures, started=started, timeout=600 + args.timeout_per_job * size)
    time.sleep(3 * 0.2 + 0.5)  # the probes' last flush
    cpu1, stmts1, (req1, peak) = process_group_cpu(pgid), read_totals(probe_dir), sim_requests()
    tasks = simulator_get(sim_url, "/_sim/tasks")
    finished = dict(
        Generation.objects.filter(
            prompt__startswith=f"{wave} job ", finished_at__isnull=False
        ).values_list("provider_task_id", "finished_at")
    )
    delays = wave_figures(wave, tasks, finished, 1.0)["delays"]  # wall-clock seconds
    final = Generation.objects.filter(
        prompt__startswith=f"{wave} job ", state__in=Generation.State.final()
    ).count()
    stored = Generation.objects.filter(
        prompt__startswith=f"{wave} job ", result_state=Generation.ResultState.STORED
    ).count()
    return {
        "jobs": size,
        "final": final,
        "stored": stored,
        "wall_s": round(figures["wall"], 1),
        "created_by_s": round(figures["created_by"], 1),
        "peak_in_flight": figures["peak_in_flight"],
        "cpu_ms": round((cpu1 - cpu0) * 1000 / size, 1),
        "statements": round((stmts1 - stmts0) / size, 1),
        "requests": round((req1 - req0) / size, 2),
        "create_statements": round(created["statements"] / size, 1),
        "create_cpu_ms": round(own_cpu * 1000 / size, 1),
        "peak_per_60s": peak,
        "finalize_p95_s": round(percentile(delays, 0.95), 1) if delays else None,
    }


# --- the ladder (parent process) ------------------------------------------------------------------


def verdict_figures(broker: str, steps: list[dict], flat: float) -> list[dict]:
    """Return the figures with their targets for one broker's steps."""
    out = []
    for step in steps:
        n = step["jobs"]
        out.append(
            figure(f"{broker} {n:,} jobs final", f"{step['final']}/{n}", "all", step["final"] == n)
        )
    if steps:
        peak = max(step["peak_per_60s"] for step in steps)
        out.append(
            figure(
                f"{broker} peak provider requests/60 s",
                f"{peak:,}",
                f"< {PROVIDER_LIMIT_PER_MINUTE:,}",
                peak < PROVIDER_LIMIT_PER_MINUTE,
            )
        )
    if len(steps) > 1:
        first, last = steps[0], steps[-1]
        for key, label in PER_JOB:
            ratio = last[key] / first[key] if first[key] else float("inf")
            out.append(
                figure(
                    f"{broker} {label} {last['jobs']:,} vs {first['jobs']:,}",
                    f"{last[key]:g} vs {first[key]:g} (x{ratio:.2f})",
                    f"<= x{flat:g}",
                    ratio <= flat,
                )
            )
    return out


def print_table(results: dict[str, list[dict]]) -> None:
    columns = (
        ("jobs", "jobs", "{:,}"), ("final", "final", "{:,}"), ("wall_s", "wall s", "{:g}"),
        ("peak_in_flight", "peak fl.", "{:,}"), ("cpu_ms", "CPU ms/job", "{:g}"),
        ("statements", "SQL/job", "{:g}"), ("requests", "API req/job", "{:g}"),
        ("create_statements", "create SQL/job", "{:g}"),
        ("create_cpu_ms", "create CPU ms/job", "{:g}"), ("peak_per_60s", "peak req/60s", "{:,}"),
        ("finalize_p95_s", "finalize p95 s", "{}"),
    )  # fmt: skip
    print(f"{'broker':<7}" + "".join(f"{title:>18}" for _, title, _ in columns))
    for broker, steps in results.items():
        for step in steps:
            cells = "".join(f"{fmt.format(step.get(key)):>18}" for key, _, fmt in columns)
            print(f"{broker:<7}{cells}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.broker:
        return run_broker(args)
    results, figures = {}, []
    for broker in args.brokers.split(","):
        argv_child = [a for a in (argv or sys.argv[1:])] + ["--broker", broker]
        process = subprocess.Popen(  # noqa: S603 (this script)
            [sys.executable, __file__, *argv_child], cwd=ROOT, text=True, stdout=subprocess.PIPE
        )
        lines = []
        for line in process.stdout:  # echoed as it comes: a 10,000-job step takes a while
            if not line.startswith("BENCH-SUMMARY"):
                sys.stdout.write(line)
                sys.stdout.flush()
            lines.append(line)
        process.wait()
        summaries = parse_summaries("".join(lines))
        if process.returncode or not summaries:
            figures.append(figure(f"{broker} ladder ran", f"exit {process.returncode}", "0", False))
            continue
        results[broker] = summaries[-1]["steps"]
        figures += verdict_figures(broker, results[broker], args.flat)
    print("\nper job as jobs in flight grow (CPU on a shared 2-core machine under other load):")
    print_table(results)
    print()
    print(f"{'figure':<44} {'measured':>26}  {'target':<10} result")
    for f in figures:
        print(f"{f['name']:<44} {f['value']:>26}  {f['target']:<10} "
              f"{'ok' if f['ok'] else 'MISSED'}")  # fmt: skip
    print(summary_line("ladder", figures, steps=results), flush=True)
    return 0 if all(f["ok"] for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
