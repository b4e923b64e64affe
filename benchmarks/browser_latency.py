"""Benchmark: from a job's final state to what the member's browser shows.

Issue #14 item 3 and docs/architecture.md "Performance targets": in callback mode exactly one
status request per job, and webhook to **visible** final state under 1 s p95: the gallery
card in an open tab shows the final state within a second, without every open tab asking
every second (``static/js/live.js``: the visible tab asks ``/updates/?since=`` about once a
second while jobs run, every 15 s otherwise, a hidden tab not at all; only the cards of jobs
that changed are fetched again).

    .venv/bin/python benchmarks/browser_latency.py                 # 50 jobs in waves of 10
    .venv/bin/python benchmarks/browser_latency.py --jobs 200 --idle 90
    .venv/bin/python benchmarks/browser_latency.py --database-url postgres://postgres@127.0.0.1:5432/scratch

What runs, all on this machine:
- a scratch database (a new SQLite file in a temporary directory, or ``--database-url``, which
  is migrated and written to), the static files collected into the same directory;
- the APIXO simulator in callback mode (``benchmarks/inflight.py``'s ``start_simulator``, its
  ``time_scale`` equal to the portal's ``POLL_TIME_SCALE``; the default 0.1 makes a 4-12 s clip
  take 4-12 s);
- the portal served by gunicorn (``benchmarks/cluster.py``'s ``start_web``: the project's
  ``gunicorn.conf.py``, 2 processes x 4 threads) and a ``manage.py qcluster`` of ``--workers``
  workers (ORM broker), as ``benchmarks/inflight.py --mode callback`` runs them: the simulator's
  webhooks reach gunicorn, the workers submit, confirm and download;
- headless Debian Chromium driven by Playwright, signed in through the login form as one
  member. Two tabs of that member show the gallery: the **visible** one, and a **hidden** one
  (``document.visibilityState`` overridden to ``hidden`` and ``visibilitychange`` dispatched,
  as a browser does for a background tab).

The jobs (``--jobs``, text-to-video, 4-12 s, 480p/720p, sound on or off) are created with
``generation_create`` in **waves** of ``--wave``: each wave's jobs are created, the visible tab
loads the gallery (so their cards are on the page, in flight), and the wave runs until every
card shows its final state. A script injected before the page's own
(``page.add_init_script``) watches the cards with a ``MutationObserver`` and, when a card's
``data-state`` becomes final (succeeded, failed, canceled, expired), notes ``Date.now()`` in
the next animation frame (the frame that paints it). The moment the final state was
**committed** comes from every portal process: they run with ``benchmarks.probe_settings``,
whose ``record_final_commits`` notes ``time.time()`` in an ``on_commit`` hook of the
transaction that saved the job in its final state (``generation_finalize``'s). A poll sees the
change from that moment on; ``Generation.finished_at`` is set earlier in the same transaction
(the gap, printed, grows with the machine's load). A job missing from the log falls back to
``finished_at``. Both clocks are this machine's wall clock. A job whose
card was already final when the page loaded is left out (counted and printed).

The same script wraps ``window.fetch`` and notes each ``/updates/`` request with the time and
the tab's visibility, so the benchmark prints ``/updates/`` requests per minute of the visible
tab while jobs ran and while idle (``--idle`` seconds after the last job settled) and the
hidden tab's requests while hidden. Figures with targets: p95 of (visible - committed) under
1,000 ms; exactly one status request per job (the simulator's count); every job seen final in
the page; the hidden tab made no request. Also printed: p50 and max, the slowest jobs, card
fetches per job, where the time goes (waiting for the next ask, the ask's and the card's round
trips, the paint), and when the video itself showed (after its download). Exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cluster import start_web  # noqa: E402 (after the path is set)
from benchmarks.inflight import (  # noqa: E402
    MEASURED,
    configure_environment,
    make_specs,
    percentile,
    simulator_get,
    start_cluster,
    start_simulator,
    stop_cluster,
)
from benchmarks.probe import read_final_commits  # noqa: E402
from benchmarks.summary import figure, summary_line  # noqa: E402
from tests.net import free_port, wait_for_port  # noqa: E402

VISIBLE_P95_TARGET_MS = 1000.0  # docs/architecture.md "Performance targets" (issue #14 item 3)
PASSWORD = "browser-latency-benchmark"  # a scratch member of a scratch database
FINAL_STATES = ("succeeded", "failed", "canceled", "expired")

# Injected into every page before its own scripts: notes, through the exposed benchNote
# binding, (1) the first animation frame after a card's data-state became final, (2) the first
# frame after a succeeded card shows its video, (3) every fetch of /updates/ or of a card,
# with the tab's visibility at that moment. Times are Date.now() (ms, wall clock).
OBSERVER_JS = """
(() => {
  const FINAL = new Set(%(final)s);
  const tag = () => window.__benchTag || "?";
  const noted = new Set();
  const note = (kind, data) => { try { window.benchNote(tag(), kind, data); } catch (e) {} };
  function look(card) {
    const id = card.dataset.generation, state = card.dataset.state;
    if (!id || !FINAL.has(state)) return;
    const when = document.readyState === "loading" ? "load" : "live";
    const keys = [["final", true], ["video", !!card.querySelector("video")]];
    for (const [kind, yes] of keys) {
      const key = `${kind}:${id}`;
      if (!yes || noted.has(key)) continue;
      noted.add(key);
      const seen = Date.now();
      requestAnimationFrame(() => note(kind, {id: Number(id), state, seen,
                                              painted: Date.now(), when}));
    }
  }
  function scan(node) {
    if (!node || node.nodeType !== 1) return;
    if (node.matches("[data-generation][data-state]")) look(node);
    node.querySelectorAll("[data-generation][data-state]").forEach(look);
  }
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === "attributes") scan(record.target);
      else record.addedNodes.forEach(scan);
    }
  }).observe(document, {subtree: true, childList: true, attributes: true,
                        attributeFilter: ["data-state"]});
  const fetch0 = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = typeof input === "string" ? input : input.url;
    const at = Date.now();
    note("fetch", {url, at, visibility: document.visibilityState});
    const answer = fetch0(input, init);
    answer.then(() => note("answer", {url, at, took: Date.now() - at}), () => {});
    return answer;
  };
})();
"""
HIDE_JS = """
() => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
  Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
  document.dispatchEvent(new Event("visibilitychange"));
  return Date.now();
}
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=50, help="Jobs in all (default 50).")
    parser.add_argument(
        "--wave", type=int, default=10, help="Jobs in flight at once (default 10; <= 24)."
    )
    parser.add_argument(
        "--idle", type=float, default=45.0, help="Seconds idle after the last job (default 45)."
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.1,
        help="Simulator time_scale and portal POLL_TIME_SCALE (default 0.1: 4-12 s per job).",
    )
    parser.add_argument("--workers", type=int, default=4, help="qcluster workers (default 4).")
    parser.add_argument("--web-concurrency", type=int, default=2, help="gunicorn processes.")
    parser.add_argument("--web-threads", type=int, default=4, help="Threads per process.")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the job mix.")
    parser.add_argument(
        "--database-url", default="", help="Scratch database (default: a new SQLite file)."
    )
    parser.add_argument(
        "--chromium", default="/usr/bin/chromium", help="Chromium binary (Debian's package)."
    )
    parser.add_argument(
        "--wave-timeout", type=float, default=120.0, help="Give a wave up after this many s."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the scratch directory.")
    args = parser.parse_args(argv)
    if not 1 <= args.wave <= 24:  # one gallery page (GenerationListView.paginate_by)
        parser.error("--wave must be 1-24: the wave's cards must all be on the first page")
    args.mode = "callback"  # for configure_environment / start_simulator
    return args


class Notes:
    """What the pages told ``benchNote``: final and video moments, fetches."""

    def __init__(self):
        self.final: dict[int, dict] = {}  # job id -> the visible tab's first final frame
        self.video: dict[int, dict] = {}
        self.fetches: list[dict] = []  # {"tab", "url", "at", "visibility"}
        self.answers: list[dict] = []  # {"tab", "url", "at", "took"}: the response headers came

    def __call__(self, tag, kind, data):
        if kind == "fetch":
            self.fetches.append({"tab": tag, **data})
        elif kind == "answer":
            self.answers.append({"tab": tag, **data})
        elif tag == "visible":
            getattr(self, kind).setdefault(data["id"], data)


def log_in(page, base_url: str, username: str) -> None:
    """Sign in through the login form, as a member does."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def run_wave(page, base_url: str, user, specs, notes: Notes, timeout: float) -> dict:
    """Create the wave's jobs, load the gallery, wait until each card shows a final state
    (or ``timeout``); return the wave's ids, its start and end (wall clock, s) and how many
    of its jobs the database has final."""
    from generations.models import Generation
    from generations.services.generations import generation_create

    ids = [generation_create(user=user, spec=spec).pk for spec in specs]
    page.goto(f"{base_url}/")
    started = time.time()
    missing = [i for i in ids if page.locator(f"#generation-{i}").count() == 0]
    if missing:
        raise SystemExit(f"cards not on the gallery's first page: {missing}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.wait_for_timeout(200)  # lets Playwright deliver the page's notes
        if all(i in notes.final for i in ids):
            break
    # Jobs final in the database the page never showed final are reported, not waited for.
    page.wait_for_timeout(300)
    ended = time.time()
    final_in_db = Generation.objects.filter(pk__in=ids, state__in=FINAL_STATES).count()
    return {"ids": ids, "start": started, "end": ended, "db": final_in_db}


def wait_idle(page, timeout: float = 120.0) -> None:
    """Wait until no job of the member runs (results stored) and the page has no live card."""
    from generations.models import Generation

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = Generation.objects.filter(Generation.active_q()).count()
        if not running and page.locator("[data-live]").count() == 0:
            return
        page.wait_for_timeout(500)


def per_minute(fetches: list[dict], windows: list[tuple[float, float]]) -> tuple[float, int]:
    """Return the rate (per minute) and count of ``fetches`` inside ``windows`` (wall s)."""
    count = sum(any(a <= f["at"] / 1000 < b for a, b in windows) for f in fetches)
    seconds = sum(b - a for a, b in windows)
    return (60 * count / seconds if seconds else 0.0), count


def main(argv=None) -> int:
    args = parse_args(argv)
    if not Path(args.chromium).exists():
        print(f"no Chromium at {args.chromium} (apt-get install -y chromium)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="seedance-browser-"))
    sim_port, web_port = free_port(), free_port()
    # Every process (gunicorn, qcluster, this one) notes when a final state commits.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.probe_settings")
    os.environ["BENCH_COMMIT_LOG"] = str(workdir / "final-commits.log")
    configure_environment(args, workdir, sim_port, web_port)
    os.environ.update(
        {
            "STATIC_ROOT": str(workdir / "static"),
            "LOG_FORMAT": "text",
            "ENV_FILE": "",  # no developer's .env: this environment only
            "DJANGO_ALLOW_ASYNC_UNSAFE": "true",  # ORM calls between Playwright's steps
        }
    )
    import django

    warnings.filterwarnings("ignore", message="No directory at", module="whitenoise")
    django.setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from playwright.sync_api import sync_playwright

    from generations.models import Generation, User
    from generations.services.ledger import credits_grant

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    member = User.objects.create_user(f"bench-{secrets.token_hex(3)}", email="b@example.com")
    member.set_password(PASSWORD)
    member.save(update_fields=["password"])
    credits_grant(user=member, amount=100_000_000, actor=None, memo="browser benchmark")

    simulator = start_simulator(args, sim_port, workdir)
    sim_url = f"http://127.0.0.1:{sim_port}"
    web = _web_on(web_port, args, workdir)  # the port the webhooks are sent to
    cluster = None
    try:
        wait_for_port(web_port, timeout=60)
        cluster = start_cluster(args.workers)
        base_url = f"http://127.0.0.1:{web_port}"
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        print(
            f"{args.jobs} jobs in waves of {args.wave}, callback mode, time scale "
            f"{args.time_scale:g}, {engine}, gunicorn {args.web_concurrency} x "
            f"{args.web_threads} threads, qcluster of {args.workers} workers, Chromium "
            f"{args.chromium}; load average {_load()} at the start",
            flush=True,
        )
        rng = random.Random(args.seed)
        specs = make_specs(MEASURED, args.jobs, rng)
        notes = Notes()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update"],
            )  # fmt: skip
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            context.set_default_timeout(30_000)
            context.expose_function("benchNote", notes)
            context.add_init_script(OBSERVER_JS % {"final": list(FINAL_STATES)})
            page = context.new_page()
            page.add_init_script("window.__benchTag = 'visible';")
            log_in(page, base_url, member.get_username())
            hidden = context.new_page()
            hidden.add_init_script("window.__benchTag = 'hidden';")
            hidden.goto(f"{base_url}/")
            hidden_since = hidden.evaluate(HIDE_JS) / 1000
            # The member looks at the first tab. Headless Chromium reports every tab visible
            # but paints a background one only about once a second: the tab in front is the
            # one whose frames are timed.
            page.bring_to_front()

            waves = []
            for start in range(0, args.jobs, args.wave):
                wave = run_wave(
                    page, base_url, member, specs[start : start + args.wave], notes,
                    args.wave_timeout,
                )  # fmt: skip
                waves.append(wave)
                seen = sum(i in notes.final for i in wave["ids"])
                print(
                    f"  wave {len(waves)}: {len(wave['ids'])} jobs, {seen} seen final in "
                    f"{wave['end'] - wave['start']:.1f} s; load {_load()}",
                    flush=True,
                )
            wait_idle(page)
            page.goto(f"{base_url}/")  # every card final and stored: the idle gallery
            idle_start = time.time()
            page.wait_for_timeout(args.idle * 1000)
            idle_end = time.time()
            # Catch-up: shown again, the hidden tab asks at once.
            shown_at = hidden.evaluate(
                "() => { Object.defineProperty(document, 'visibilityState', "
                "{configurable: true, get: () => 'visible'}); "
                "Object.defineProperty(document, 'hidden', {configurable: true, "
                "get: () => false}); document.dispatchEvent(new Event('visibilitychange')); "
                "return Date.now(); }"
            )
            hidden.wait_for_timeout(1500)
            context.close()
            browser.close()
            connections.close_all()  # made inside Playwright's event loop context

        return report(
            args, waves, notes, sim_url,
            running_windows=[(w["start"], w["end"]) for w in waves],
            idle_window=(idle_start, idle_end), hidden_window=(hidden_since, shown_at / 1000),
            shown_at=shown_at / 1000, Generation=Generation,
            commits=read_final_commits(Path(os.environ["BENCH_COMMIT_LOG"])),
        )  # fmt: skip
    finally:
        if cluster is not None:
            stop_cluster(cluster)
        web.stop()
        os.killpg(simulator.pid, signal.SIGTERM)
        simulator.wait(timeout=10)
        connections.close_all()
        if args.keep:
            print(f"scratch directory    {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _web_on(port: int, args, workdir: Path):
    """Start gunicorn as ``cluster.start_web`` does, on ``port`` (the simulator's webhooks go
    to ``PORTAL_ADDRESS``, fixed before the settings were read)."""
    from benchmarks import cluster

    original = cluster.free_port
    cluster.free_port = lambda: port
    try:
        return start_web(0, args, workdir)
    finally:
        cluster.free_port = original


def _load() -> str:
    return " ".join(f"{load:.1f}" for load in os.getloadavg())


def report(args, waves, notes, sim_url, *, running_windows, idle_window, hidden_window,
           shown_at, Generation, commits) -> int:  # fmt: skip
    """Print the figures and the BENCH-SUMMARY line; return the exit status."""
    ids = [i for wave in waves for i in wave["ids"]]
    # The first note of a wave's card comes from its own wave's page load.
    at_load = {i for i in ids if i in notes.final and notes.final[i]["when"] == "load"}
    rows = Generation.objects.filter(pk__in=ids).values_list("pk", "state", "finished_at")
    stamped = {pk: at.timestamp() for pk, _, at in rows if at is not None}
    # From the commit (benchmarks.probe.record_final_commits), else from finished_at.
    finished = {pk: commits.get(pk, at) for pk, at in stamped.items()}
    to_commit = [commits[pk] - at for pk, at in stamped.items() if pk in commits]
    states = Counter(state for _, state, _ in rows)
    measured = [i for i in ids if i not in at_load]
    latency = {
        i: notes.final[i]["painted"] - finished[i] * 1000
        for i in measured
        if i in notes.final and i in finished
    }
    observed = {i: notes.final[i]["seen"] - finished[i] * 1000 for i in latency}
    video = {
        i: notes.video[i]["painted"] - finished[i] * 1000
        for i in measured
        if i in notes.video and i in finished
    }
    values = list(latency.values())
    p50 = percentile(values, 0.5) if values else float("inf")
    p95 = percentile(values, 0.95) if values else float("inf")

    visible = [f for f in notes.fetches if f["tab"] == "visible"]
    updates = [f for f in visible if "/updates/" in f["url"]]
    cards = [f for f in visible if "/card/" in f["url"]]
    run_rate, run_count = per_minute(updates, running_windows)
    idle_rate, idle_count = per_minute(updates, [idle_window])
    card_rate, card_count = per_minute(cards, running_windows)
    hidden_fetches = [
        f for f in notes.fetches
        if f["tab"] == "hidden" and hidden_window[0] < f["at"] / 1000 < hidden_window[1]
    ]  # fmt: skip
    caught_up = [
        f["at"] / 1000 - shown_at
        for f in notes.fetches
        if f["tab"] == "hidden" and "/updates/" in f["url"] and f["at"] / 1000 >= shown_at
    ]
    tasks = simulator_get(sim_url, "/_sim/tasks")
    stats = simulator_get(sim_url, "/_sim/stats")
    status = [task["statusRequests"] for task in tasks]
    exactly_one = len(status) == len(ids) and all(n == 1 for n in status)

    def ms(value):
        return f"{value:.0f} ms"

    print(f"final states         {dict(states)}; {len(at_load)} cards already final at load "
          f"(left out); callbacks {stats.get('callbacks')}")  # fmt: skip
    print(
        f"final state from     its commit for {len(to_commit)} jobs, finished_at for "
        f"{len(stamped) - len(to_commit)}"
        + (
            f"; finished_at -> commit p50 {ms(1000 * percentile(to_commit, 0.5))}, p95 "
            f"{ms(1000 * percentile(to_commit, 0.95))}"
            if to_commit
            else ""
        )
    )
    if values:
        print(
            f"committed -> visible p50 {ms(p50)}, p95 {ms(p95)}, max {ms(max(values))} "
            f"(n={len(values)}; DOM change without the paint frame: p95 "
            f"{ms(percentile(list(observed.values()), 0.95))})"
        )
        slowest = sorted(latency.items(), key=lambda item: -item[1])[:5]
        print("   slowest            " + ", ".join(f"#{i} {ms(v)}" for i, v in slowest))
    if video:
        vids = list(video.values())
        print(
            f"committed -> video   p50 {ms(percentile(vids, 0.5))}, p95 "
            f"{ms(percentile(vids, 0.95))} (download and storage included; no target)"
        )
    # Where the time goes, per job: until the next /updates/ request leaves, until the
    # card's fetch leaves, until the frame that paints the fresh card.
    update_times = sorted(f["at"] for f in updates)
    card_times: dict[int, list[float]] = {}
    for f in cards:
        card_times.setdefault(int(f["url"].rstrip("/").split("/")[-2]), []).append(f["at"])
    legs = {"next poll": [], "poll -> card fetch": [], "card fetch -> painted": []}
    for i in latency:
        done = finished[i] * 1000
        poll = next((t for t in update_times if t >= done), None)
        card = next((t for t in sorted(card_times.get(i, [])) if t >= done), None)
        if poll is None or card is None:
            continue
        legs["next poll"].append(poll - done)
        legs["poll -> card fetch"].append(card - poll)
        legs["card fetch -> painted"].append(notes.final[i]["painted"] - card)
    if legs["next poll"]:
        print(
            "   where it goes      "
            + "; ".join(
                f"{name} p50 {ms(percentile(v, 0.5))}, p95 {ms(percentile(v, 0.95))}"
                for name, v in legs.items()
            )
        )
    for name, part in (("/updates/", "/updates/"), ("card", "/card/")):
        took = [
            a["took"]
            for a in notes.answers
            if a["tab"] == "visible"
            and part in a["url"]
            and any(x <= a["at"] / 1000 < y for x, y in running_windows)
        ]
        if took:
            print(
                f"   {name + ' answer':<18} p50 {ms(percentile(took, 0.5))}, p95 "
                f"{ms(percentile(took, 0.95))} (request to response headers, while jobs ran)"
            )
    gaps = [
        b - a
        for a, b in itertools.pairwise(update_times)
        if any(x <= a / 1000 and b / 1000 < y for x, y in running_windows)
    ]
    if gaps:
        print(
            f"   poll period        p50 {ms(percentile(gaps, 0.5))}, p95 "
            f"{ms(percentile(gaps, 0.95))} between the visible tab's /updates/ requests "
            "while jobs ran"
        )
    print(
        f"/updates/ requests   visible tab: {run_rate:.1f}/min while jobs ran ({run_count} in "
        f"{sum(b - a for a, b in running_windows):.0f} s), {idle_rate:.1f}/min idle "
        f"({idle_count} in {idle_window[1] - idle_window[0]:.0f} s); hidden tab: "
        f"{len(hidden_fetches)} requests in {hidden_window[1] - hidden_window[0]:.0f} s hidden"
        + (f"; shown again, it asked after {caught_up[0] * 1000:.0f} ms" if caught_up else "")
    )
    per_job = card_count / max(len(ids), 1)
    print(
        f"card fetches         {card_count} for {len(ids)} jobs ({per_job:.2f} per job, "
        f"{card_rate:.1f}/min while jobs ran)"
    )
    print(f"load average         {_load()} at the end ({os.cpu_count()} cores)")

    rows_out = [
        (
            "final commit -> visible p95",
            ms(p95),
            f"< {VISIBLE_P95_TARGET_MS:.0f} ms",
            p95 < VISIBLE_P95_TARGET_MS,
        ),
        (
            "status requests per job",
            f"{sum(status) / max(len(status), 1):.2f}",
            "exactly 1 each",
            exactly_one,
        ),
        ("jobs seen final in the page", f"{len(latency)}/{len(measured)}", "all",
         bool(measured) and len(latency) == len(measured)),
        ("hidden tab /updates/ requests", str(len(hidden_fetches)), "0",
         not hidden_fetches),
    ]  # fmt: skip
    print(f"{'figure':<32} {'measured':>10}  {'target':<15} result")
    for name, value, target, ok in rows_out:
        print(f"{name:<32} {value:>10}  {target:<15} {'ok' if ok else 'MISSED'}")
    print(
        summary_line(
            "browser",
            [figure(*row) for row in rows_out],
            updates_per_minute={"running": round(run_rate, 1), "idle": round(idle_rate, 1)},
            load=_load(),
        ),
        flush=True,
    )
    return 0 if all(ok for *_, ok in rows_out) else 1


if __name__ == "__main__":
    sys.exit(main())
