"""Run every benchmark of issue #14 and print one table with the target beside each figure.

docs/architecture.md "Performance targets". Each part is its own script, run here as a
subprocess; each prints its own table, exits non-zero on a miss and ends with a
``BENCH-SUMMARY`` line (``benchmarks.summary``) that this suite collects:

- ``reports``: every page's p95 and query count (``benchmarks/reports.py``; item 1);
- ``inflight-polling``: status requests per job and p95 finalize delay, after a warm-up wave
  (``benchmarks/inflight.py``; item 2); ``inflight-callback``: exactly one status request per
  job (item 3);
- ``ladder``: 100 to 10,000 jobs in flight with the database and the Redis broker, cost per
  job (``benchmarks/ladder.py``; item 5);
- ``webhook``: the webhook path against a bare JSON view under ``ab`` (``benchmarks/webhook.py``;
  item 4);
- ``browser``: webhook to the final state painted in a member's gallery tab in headless
  Chromium, p95 under 1 s, and the tabs' ``/updates/`` requests (``benchmarks/browser_latency.py``;
  item 3).

    .venv/bin/python benchmarks/suite.py                    # quick, SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/seedance_bench \\
        .venv/bin/python benchmarks/suite.py --size full    # the README's figures
    .venv/bin/python -m benchmarks --only webhook,reports

``--size full`` is the issue's scale (100,000 generations and 1,000,000 ledger entries, 600 +
1,000 polling jobs at documented timing, 1,000 callback jobs, the 10,000-job ladder step,
20,000 webhook requests per path, 200 jobs watched in the browser); ``quick`` is a smaller
run of the same code (minutes, not an hour). With ``DATABASE_URL`` on PostgreSQL every part
gets its own scratch database named after it (``<name>_inflight_polling``, ...; dropped and
created again; ``reports.py`` makes ``<name>_bench`` itself); without it every part uses a
scratch SQLite file. The ladder's Redis broker uses ``REDIS_URL`` (its database is flushed;
without it that half of the ladder fails). The browser part needs Debian's Chromium
(``apt-get install chromium``). Exits 1 when any figure misses or a part fails without a verdict.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.summary import (  # noqa: E402 (after the path is set)
    figure,
    parse_summaries,
    summary_line,
)

PARTS = ("reports", "inflight-polling", "inflight-callback", "ladder", "webhook", "browser")
# Each part's arguments per size; "{db}" becomes its scratch database URL.
ARGS = {
    "quick": {
        "reports": [],
        "inflight-polling": ["--workers", "4", "--warmup", "400", "--jobs", "300"],
        "inflight-callback": ["--workers", "4", "--mode", "callback", "--jobs", "300"],
        "ladder": ["--steps", "100,1000"],
        "webhook": ["--requests", "5000", "--rounds", "2"],
        "browser": ["--jobs", "50", "--wave", "10", "--idle", "45"],
    },
    "full": {
        "reports": ["--generations", "100000", "--entries", "1000000"],
        "inflight-polling": ["--workers", "4"],
        "inflight-callback": ["--workers", "4", "--mode", "callback"],
        "ladder": [],
        "webhook": [],
        "browser": ["--jobs", "200", "--wave", "10", "--idle", "90"],
    },
}
SCRIPT = {
    "reports": "reports.py",
    "inflight-polling": "inflight.py",
    "inflight-callback": "inflight.py",
    "ladder": "ladder.py",
    "webhook": "webhook.py",
    "browser": "browser_latency.py",
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=tuple(ARGS), default="quick")
    parser.add_argument("--only", default=",".join(PARTS), help="Parts to run, comma-separated.")
    parser.add_argument("--dry-run", action="store_true", help="Print the commands only.")
    args = parser.parse_args(argv)
    args.parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    return args


def scratch_url(database_url: str, part: str) -> str:
    """Return the scratch PostgreSQL URL of ``part`` (empty for SQLite: each script makes its
    own file), after dropping and creating that database."""
    if not database_url.startswith(("postgres://", "postgresql://")):
        return ""
    parts = urlsplit(database_url)
    name = f"{parts.path.lstrip('/')}_{part.replace('-', '_')}"
    if part == "ladder":  # the ladder drops and creates it once per broker itself
        return urlunsplit(parts._replace(path=f"/{name}"))
    from benchmarks.cluster import database_create, database_drop

    admin = urlunsplit(parts._replace(path="/postgres"))
    database_drop(admin, name)
    return database_create(admin, name)


def command(part: str, size: str, database_url: str) -> tuple[list[str], dict]:
    """Return the command line and environment of ``part``."""
    argv = [sys.executable, str(ROOT / "benchmarks" / SCRIPT[part]), *ARGS[size][part]]
    env = dict(os.environ)
    if part == "reports":  # it makes <name>_bench from DATABASE_URL itself
        return argv, env
    url = scratch_url(database_url, part) if database_url else ""
    if part == "ladder":
        env["DATABASE_URL"] = url
    elif url:
        argv += ["--database-url", url]
    return argv, env


def verdicts(part: str, output: str, returncode: int) -> dict:
    """Return the part's summary: its last ``BENCH-SUMMARY`` line, else one failing figure
    with the exit status. A non-zero exit
    without a missed figure counts as a miss of its own, and so does a clean exit that
    printed no figure at all."""
    found = parse_summaries(output)
    body = found[-1] if found else None
    if body is None:
        body = {"benchmark": part, "figures": []}
    figures = list(body["figures"])
    if not figures and not returncode:  # a part that judged nothing has not passed
        figures.append(figure("figures with targets", "none printed", "some", False))
    if returncode and all(f["ok"] for f in figures):
        figures.append(figure("exit status", str(returncode), "0", False))
    return {"benchmark": part, "ok": all(f["ok"] for f in figures), "figures": figures}


def run_part(part: str, argv: list[str], env: dict) -> tuple[dict, float]:
    """Run ``part``, echoing its output; return its summary and wall seconds."""
    print(f"\n=== {part}: {' '.join(argv[1:])}", flush=True)
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 (our own scripts)
        argv, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    process.wait()
    return verdicts(part, "".join(lines), process.returncode), time.monotonic() - started


def print_table(results: list[tuple[dict, float]]) -> None:
    """Print every part's figures with their targets."""
    rows = [
        (body["benchmark"], f["name"], f["value"], f["target"], "ok" if f["ok"] else "MISSED")
        for body, _ in results
        for f in body["figures"]
    ]
    header = ("part", "figure", "measured", "target", "result")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(5)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    for body, wall in results:
        print(f"{body['benchmark']}: {'ok' if body['ok'] else 'MISSED'} in {wall / 60:.1f} min")


def main(argv=None) -> int:
    args = parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    print(
        f"benchmark suite, size {args.size}, "
        f"{'PostgreSQL' if database_url.startswith('postgres') else 'SQLite'}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f} at the start",
        flush=True,
    )
    results = []
    for part in args.parts:
        if args.dry_run:
            print(f"{part}: {' '.join(ARGS[args.size][part])} ({SCRIPT[part]})")
            continue
        argv_part, env = command(part, args.size, database_url)
        results.append(run_part(part, argv_part, env))
    if args.dry_run:
        return 0
    print(f"\n=== every figure (load {os.getloadavg()[0]:.1f} at the end)")
    print_table(results)
    figures = [
        figure(f"{body['benchmark']}: {f['name']}", f["value"], f["target"], f["ok"])
        for body, _ in results
        for f in body["figures"]
    ]
    print(summary_line("suite", figures, size=args.size), flush=True)
    return 0 if all(body["ok"] for body, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
