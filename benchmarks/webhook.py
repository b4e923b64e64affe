"""Benchmark: the webhook path's requests per second against a bare Django JSON view.

docs/architecture.md "Performance targets" (issue #14 item 4): on the same gunicorn server, the
webhook path reaches at least half of a bare Django JSON view's requests per second, measured
separately for a wrong token (404) and a duplicate delivery for a job already final (200), each
with one indexed query.

    .venv/bin/python benchmarks/webhook.py                      # SQLite, 20,000 requests each
    .venv/bin/python benchmarks/webhook.py --database-url postgres://postgres@127.0.0.1:5432/seedance_webhook_bench

What runs, all on this machine:
- a scratch database (a SQLite file in a temporary directory, or the PostgreSQL database named by
  ``--database-url``, migrated and written to), with one member and one succeeded job whose
  webhook token is known;
- gunicorn from the repository root (so ``gunicorn.conf.py`` applies) with production settings
  (``DEBUG`` off, JSON logs to a file, INFO level) and a settings module that adds one URL,
  ``/bench/bare/``: a view returning ``JsonResponse({"ok": True})`` through the same middleware;
- Apache's ``ab`` (Debian's ``apache2-utils``) sending POSTs with keep-alive from
  ``--concurrency`` clients, first a warm-up, then ``--requests`` to each path in turn, the
  whole round ``--rounds`` times; the best round of each path counts (the machine's noise only
  ever slows a round down).

It prints requests per second for each path, the ratio to the bare view with the 0.5 target
beside it, and the database statements one delivery of each kind runs (counted in-process with
Django's test client). Exits 1 when a ratio misses its target or a path answers anything but
its expected status.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.summary import figure, summary_line  # noqa: E402 (after the path is set)
from tests.net import free_port, wait_for_port  # noqa: E402

TARGET_RATIO = 0.5
AB = shutil.which("ab")
BENCH_SETTINGS = """\
from seedance_site.settings import *  # noqa: F403
ROOT_URLCONF = "bench_urls"
"""
BENCH_URLS = """\
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from seedance_site.urls import urlpatterns as site_patterns


@csrf_exempt
@login_not_required
def bare(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/bare/", bare), *site_patterns]
"""
SEED = """\
import django, json, sys
django.setup()
from django.utils import timezone
from generations.models import Generation
from generations.services.callback_tokens import callback_token_digest
from tests.factories import GenerationFactory, UserFactory
token = sys.argv[1]
job = GenerationFactory(user=UserFactory(username="bench-member"), state="succeeded",
                        provider_task_id="task_bench_1", finished_at=timezone.now())
Generation.objects.filter(pk=job.pk).update(callback_token_hash=callback_token_digest(token))
print(job.pk)
"""
COUNT_QUERIES = """\
import django, json, sys
django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
client = Client()
counts = {}
for name, url in json.loads(sys.argv[1]).items():
    client.post(url, data=b"{}", content_type="application/json")  # warm
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data=b"{}", content_type="application/json")
    counts[name] = [response.status_code, [q["sql"] for q in queries.captured_queries]]
print(json.dumps(counts))
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="per path and round")
    parser.add_argument("--concurrency", type=int, default=8, help="ab clients at once")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--web-concurrency", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--web-threads", type=int, default=4, help="threads per process")
    parser.add_argument("--database-url", default="", help="default: a scratch SQLite file")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    return parser.parse_args()


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run one of this benchmark's own commands (our interpreter, ``ab``)."""
    return subprocess.run(command, check=False, **kwargs)  # noqa: S603 (our own commands)


def run_ab(url: str, body: Path, *, requests: int, concurrency: int) -> tuple[float, dict]:
    """POST ``body`` to ``url`` ``requests`` times; return (requests per second, statuses)."""
    done = run(
        [
            AB,
            "-q",
            "-r",
            "-k",
            "-n",
            str(requests),
            "-c",
            str(concurrency),
            "-p",
            str(body),
            "-T",
            "application/json",
            "-H",
            "X-Forwarded-Proto: https",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout
    rps = re.search(r"Requests per second:\s+([\d.]+)", out)
    non_2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    if not rps:
        raise SystemExit(f"ab gave no figure for {url}:\n{out[-1000:]}\n{done.stderr[-1000:]}")
    return float(rps.group(1)), {
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "failed": int(failed.group(1)) if failed else 0,
    }


def main() -> int:
    args = parse_args()
    if AB is None:
        print("needs Apache's ab (Debian: apt-get install apache2-utils)", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    (scratch / "bench_settings.py").write_text(BENCH_SETTINGS)
    (scratch / "bench_urls.py").write_text(BENCH_URLS)
    (scratch / "empty.env").write_text("")
    port = free_port()
    database_url = args.database_url or f"sqlite:///{scratch / 'bench.sqlite3'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "APIXO_"))},
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "PYTHONPATH": os.pathsep.join([str(scratch), str(ROOT)]),
        "ENV_FILE": str(scratch / "empty.env"),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "EMAIL_URL": "consolemail://",  # the benchmark sends none; set, as production would be
        "TRUST_X_FORWARDED_PROTO": "true",
        "DATABASE_URL": database_url,
        "STATIC_ROOT": str(scratch / "static"),
        "MEDIA_ROOT": str(scratch / "media"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(args.web_concurrency),
        "WEB_THREADS": str(args.web_threads),
    }
    python = sys.executable
    run(
        [python, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env
    ).check_returncode()
    token = secrets.token_urlsafe(32)
    seeded = run([python, "-c", SEED, token], cwd=ROOT, env=env, capture_output=True, text=True)
    seeded.check_returncode()
    job_id = int(seeded.stdout.split()[-1])
    paths = {
        "bare JSON view": "/bench/bare/",
        "webhook, wrong token (404)": f"/webhooks/generations/{job_id}/{'x' * 43}/",
        "webhook, duplicate delivery (200)": f"/webhooks/generations/{job_id}/{token}/",
    }
    expected = {
        "bare JSON view": 200,
        "webhook, wrong token (404)": 404,
        "webhook, duplicate delivery (200)": 200,
    }
    counting = run(
        [python, "-c", COUNT_QUERIES, json.dumps(paths)],
        cwd=ROOT,
        env={**env, "ALLOWED_HOSTS": "testserver", "ALLOW_PLAIN_HTTP": "true"},
        capture_output=True,
        text=True,
    )
    counting.check_returncode()
    counted = json.loads(counting.stdout.splitlines()[-1])
    body = scratch / "body.json"
    body.write_text(
        json.dumps({"code": 200, "data": {"taskId": "task_bench_1", "state": "success"}})
    )
    log = (scratch / "gunicorn.log").open("wb")
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and flags)
        [python, "-m", "gunicorn", "seedance_site.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    best: dict[str, float] = {}
    problems = []
    try:
        wait_for_port(port)
        base = f"http://127.0.0.1:{port}"
        for url in paths.values():
            run_ab(
                base + url, body, requests=min(2000, args.requests), concurrency=args.concurrency
            )
        for _ in range(args.rounds):
            for name, url in paths.items():
                rps, statuses = run_ab(
                    base + url, body, requests=args.requests, concurrency=args.concurrency
                )
                best[name] = max(best.get(name, 0.0), rps)
                # ab counts a keep-alive connection gunicorn closed (max_requests) as failed.
                answered = args.requests - statuses["failed"]
                wanted = (0, 0) if expected[name] < 300 else (answered, args.requests)
                if not wanted[0] <= statuses["non_2xx"] <= wanted[1]:
                    problems.append(f"{name}: {statuses['non_2xx']} non-2xx answers")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    print(
        f"gunicorn {args.web_concurrency} processes x {args.web_threads} threads, ab -c "
        f"{args.concurrency} -k, {args.requests:,} requests per path, best of {args.rounds} "
        f"rounds, {'PostgreSQL' if args.database_url else 'SQLite'}, {os.cpu_count()} cores"
    )
    print(f"{'path':36} {'req/s':>8} {'ratio':>6} {'target':>7} {'queries':>8}  status")
    bare = best["bare JSON view"]
    figures = []
    for name in paths:
        status, queries = counted[name]
        ratio = best[name] / bare
        target = "" if name == "bare JSON view" else f">= {TARGET_RATIO}"
        ok = name == "bare JSON view" or ratio >= TARGET_RATIO
        print(
            f"{name:36} {best[name]:8.0f} {ratio:6.2f} {target:>7} {len(queries):8d}  "
            f"{status}{'' if ok else '  MISSED'}"
        )
        if name != "bare JSON view":
            figures.append(
                figure(f"{name} / bare view req/s", f"{ratio:.2f}", f">= {TARGET_RATIO}", ok)
            )
        figures.append(
            figure(f"{name} status", str(status), str(expected[name]), status == expected[name])
        )
        if status != expected[name]:
            problems.append(f"{name}: answered {status}, expected {expected[name]}")
        if not ok:
            problems.append(f"{name}: {ratio:.2f} of the bare view, target {TARGET_RATIO}")
    for name, (_, queries) in counted.items():
        for sql in queries:
            print(f"  {name}: {sql[:150]}")
    if args.keep:
        print(f"kept {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    for problem in problems:
        print(f"MISSED: {problem}")
    answers = [p for p in problems if "non-2xx" in p]
    figures.append(figure("unexpected answers under ab", "; ".join(answers) or "none", "none",
                          not answers))  # fmt: skip
    print(summary_line("webhook", figures), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
