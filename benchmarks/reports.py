"""Time the spend reports on a large ledger and print query counts and milliseconds.

docs/architecture.md "Performance targets": pages issue a constant number of queries whatever the
data size and stay fast with 100,000 generations and 1,000,000 ledger entries.

    python benchmarks/reports.py                                    # quick: 10k / 100k
    python benchmarks/reports.py --generations 100000 --entries 1000000

The data goes into a scratch database that is dropped at the end (``--keep`` keeps it):
a SQLite file in a temporary directory, or, when ``DATABASE_URL`` points to PostgreSQL, a
database named after it with ``_bench`` appended. Rows are bulk-inserted with explicit ids
(bypassing the ledger services, which is fine for a benchmark: the append-only triggers
refuse only UPDATE and DELETE). Every generation gets a hold and, once final, its capture
or release; the remaining entries are grants, adjustments and revocations. Entries are
written in time order with the stored figures the services would write: each entry's
``balance_after``, the ``SpendRollup`` rows of the captures and releases (with the jobs they
ended by outcome), the team's ``SpendDay`` rows and the accounts' cumulative
``AccountTotals`` (``AccountTotalsRows``); accounts get
the balances their entries explain, so the statement's running balance can be checked.
``--slow-queries N`` prints each page's N slowest statements (the profile).

The provider balance is stubbed (the benchmark measures the portal, not the provider).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (mode, model, resolution, sound, credits per second) from docs/prices.md "Default price table".
COMBOS = [
    ("text-to-video", "seedance-1-5-pro", "480p", False, 10),
    ("text-to-video", "seedance-1-5-pro", "480p", True, 20),
    ("text-to-video", "seedance-1-5-pro", "720p", False, 20),
    ("text-to-video", "seedance-1-5-pro", "720p", True, 40),
    ("image-to-video", "seedance-1-5-pro", "720p", True, 40),
    ("video-extend", "seedance-1-5-pro-extend", "720p", False, 24),
    ("video-extend", "seedance-1-5-pro-extend", "1080p", True, 104),
]
# State of a generation -> share of all generations (the rest succeed).
STATES = [("failed", 0.08), ("expired", 0.02), ("canceled", 0.03), ("submitted", 0.02)]
BATCH = 5000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=0, help="default: generations / 100")
    parser.add_argument("--days", type=int, default=365, help="history length in days")
    parser.add_argument(
        "--team-members",
        type=int,
        default=1_000,
        help="members the team pages and the user admin see (added when --members is fewer)",
    )
    parser.add_argument("--audit", type=int, default=100_000, help="audit log entries")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per page")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--reuse",
        default="",
        metavar="DATABASE",
        help="measure a database kept by an earlier --keep run (its SQLite path or PostgreSQL "
        "name) instead of building one; it is kept",
    )
    parser.add_argument(
        "--only",
        default="",
        help="measure only the pages whose label contains one of these comma-separated words",
    )
    parser.add_argument(
        "--chain", type=int, default=100, help="extends in the long chain the detail page shows"
    )
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--nice",
        type=int,
        default=None,
        metavar="N",
        help="run this process and its PostgreSQL backend at niceness N while measuring (e.g. "
        "-10, as root): on a machine shared with other work, the pages get the CPU a web "
        "node would give them; the figures then say so",
    )
    parser.add_argument(
        "--slow-queries",
        type=int,
        default=0,
        metavar="N",
        help="also print each page's N slowest statements (ms, SQL head): the profile",
    )
    return parser.parse_args()


def setup_django(scratch_dir: str) -> None:
    """Configure Django on a scratch database (created by ``create_test_db``)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "seedance_site.test_settings")
    import django

    django.setup()
    from django.db import connection

    database = connection.settings_dict
    if connection.vendor == "sqlite":
        database["TEST"]["NAME"] = str(Path(scratch_dir) / "reports-bench.sqlite3")
    else:
        database["TEST"]["NAME"] = f"{database['NAME']}_bench"


class AccountTotalsRows:
    """``AccountTotals`` rows for entries fed in time order, as the ledger services keep
    them: per account and quarter hour with entries, the cumulative count and credits of
    each kind (docs/architecture.md "Stored figures"). Rows are inserted in batches."""

    def __init__(self) -> None:
        from generations.models import AccountTotals

        self.model = AccountTotals
        self.names = AccountTotals.field_names()
        self.position = {kind: 2 * n for n, (kind, _, _) in enumerate(AccountTotals.FIGURES)}
        self.running: dict[int, list[int]] = {}
        self.slot: dict[int, object] = {}
        self.rows: list = []

    def add(self, account_id: int, created_at, kind: str, amount: int) -> None:
        from generations.models.ledger import spend_slot

        slot = spend_slot(created_at)
        running = self.running.setdefault(account_id, [0] * len(self.names))
        if self.slot.get(account_id, slot) != slot:
            self._row(account_id)
        self.slot[account_id] = slot
        running[self.position[kind]] += 1
        running[self.position[kind] + 1] += amount

    def _row(self, account_id: int) -> None:
        figures = dict(zip(self.names, self.running[account_id], strict=True))
        self.rows.append(self.model(account_id=account_id, slot=self.slot[account_id], **figures))
        if len(self.rows) >= BATCH:
            self.model.objects.bulk_create(self.rows)
            self.rows.clear()

    def finish(self) -> None:
        for account_id in self.slot:
            self._row(account_id)
        self.model.objects.bulk_create(self.rows)
        self.rows.clear()


def build(args: argparse.Namespace) -> dict:
    """Bulk-insert members, generations, entries and accounts; return what to time."""
    from django.contrib.auth.hashers import make_password
    from django.core.management.color import no_style
    from django.db import connection
    from django.utils import timezone

    from generations.models import (
        CreditAccount,
        CreditEntry,
        Generation,
        PriceTable,
        SpendDay,
        SpendRollup,
        User,
    )
    from generations.models.ledger import (
        CANCEL_OUTCOME,
        FAILURE_OUTCOMES,
        spend_slot,
    )
    from generations.selectors.ledger import GROUP_FIGURES
    from generations.services.ledger import spend_days_rebuild

    rng = random.Random(args.seed)
    now = timezone.now()
    horizon = timedelta(days=args.days)
    n_members = args.members or max(10, args.generations // 100)
    password = make_password(None)

    users = [
        User(id=i, username=f"member{i:05d}", email=f"member{i}@example.com", password=password)
        for i in range(1, n_members + 1)
    ]
    manager = User(
        id=n_members + 1,
        username="bench-manager",
        email="manager@example.com",
        password=password,
        is_superuser=True,
        is_staff=True,
    )
    User.objects.bulk_create([*users, manager], batch_size=BATCH)
    # One member does a tenth of all the work: the heaviest statement.
    heavy = 1

    def member() -> int:
        return heavy if rng.random() < 0.1 else rng.randint(1, n_members)

    table = PriceTable.objects.current()
    balance = dict.fromkeys(range(1, n_members + 2), 0)
    held = dict.fromkeys(range(1, n_members + 2), 0)
    # Entries are collected, then written in time order with ids in that order, as the
    # ledger services write them: each one's balance_after is the running balance.
    pending: list[dict] = []
    written = 0

    def add(**fields) -> int:
        pending.append(fields)
        return len(pending) - 1  # a reference for the settlement's ``hold``

    # Accounts first (entries point to them); balances are set once all entries exist.
    CreditAccount.objects.bulk_create(
        [CreditAccount(id=u, user_id=u) for u in range(1, n_members + 2)], batch_size=BATCH
    )
    budget = args.entries
    start = now - horizon
    for u in range(1, n_members + 1):  # an opening grant covering everything that follows
        add(user_id=u, kind="grant", amount=10**12, created_at=start, memo="opening grant")
    budget -= n_members

    generations: list[Generation] = []
    thresholds, acc = [], 0.0
    for state, share in STATES:
        acc += share
        thresholds.append((acc, state))
    t0 = time.perf_counter()
    for g in range(1, args.generations + 1):
        user_id = member()
        mode, model, resolution, sound, per_second = rng.choice(COMBOS)
        duration = rng.randint(4, 12)
        price = per_second * duration
        created = start + timedelta(seconds=rng.uniform(60, horizon.total_seconds() - 60))
        roll = rng.random()
        state = next((s for limit, s in thresholds if roll < limit), "succeeded")
        generations.append(
            Generation(
                id=g,
                user_id=user_id,
                mode=mode,
                model_id=model,
                state=state,
                prompt=f"benchmark scene {g}",
                resolution=resolution,
                duration=duration,
                sound=sound,
                price_credits=price,
                price_table=table,
                created_at=created,
                finished_at=created + timedelta(minutes=2) if state != "submitted" else None,
                # The gallery's favourites chip and the team library (docs/gallery.md):
                # one job in 20 a favourite, one finished video in 50 shared.
                favourite=g % 20 == 0,
                result_state="stored" if state == "succeeded" and g % 50 == 0 else "",
                shared_at=created if state == "succeeded" and g % 50 == 0 else None,
            )
        )
        if len(generations) >= BATCH:
            Generation.objects.bulk_create(generations)
            generations.clear()
    Generation.objects.bulk_create(generations)
    generations.clear()
    for g, user_id, state, price, created in Generation.objects.order_by("id").values_list(
        "id", "user_id", "state", "price_credits", "created_at"
    ):
        hold = add(user_id=user_id, kind="hold", amount=-price, generation_id=g, created_at=created)
        budget -= 1
        if state == "submitted":
            continue
        kind = "capture" if state == "succeeded" else "release"
        add(
            user_id=user_id,
            kind=kind,
            amount=-price if kind == "capture" else price,
            generation_id=g,
            hold_id=hold,
            created_at=created + timedelta(seconds=rng.randint(30, 600)),
        )
        budget -= 1
    for _ in range(max(0, budget)):
        user_id = member()
        when = start + timedelta(seconds=rng.uniform(120, horizon.total_seconds()))
        roll = rng.random()
        if roll < 0.6:
            add(user_id=user_id, kind="grant", amount=rng.randint(1, 50) * 100, created_at=when)
        elif roll < 0.8:
            amount = rng.choice([-1, 1]) * rng.randint(1, 500)
            add(user_id=user_id, kind="adjust", amount=amount, created_at=when, memo="bench")
        else:
            add(user_id=user_id, kind="revoke", amount=-rng.randint(1, 500), created_at=when)
    order = sorted(range(len(pending)), key=lambda i: pending[i]["created_at"])
    new_id = {old: position + 1 for position, old in enumerate(order)}
    dimensions = {
        g: (provider, mode, resolution, sound)
        for g, provider, mode, resolution, sound in Generation.objects.values_list(
            "id", "provider", "mode", "resolution", "sound"
        )
    }
    states = dict(Generation.objects.values_list("id", "state"))
    rollup: dict[tuple, list[int]] = {}
    totals = AccountTotalsRows()
    entries: list[CreditEntry] = []
    for old in order:
        fields = pending[old]
        entry_id = new_id[old]
        kind, amount, user_id = fields["kind"], fields["amount"], fields.pop("user_id")
        b, h = CreditEntry.EFFECTS[kind]
        balance[user_id] += b * amount
        held[user_id] += h * amount
        totals.add(user_id, fields["created_at"], kind, amount)
        if "hold_id" in fields:
            fields["hold_id"] = new_id[fields["hold_id"]]
            key = (spend_slot(fields["created_at"]), user_id, *dimensions[fields["generation_id"]])
            counts = rollup.setdefault(key, [0, 0, 0, 0, 0, 0])
            if kind == "capture":
                counts[0] += 1
                counts[1] -= amount
            else:  # each job releases once, as it ends (no failovers here)
                counts[2] += 1
                counts[3] += amount
                outcome = states[fields["generation_id"]]
                counts[4] += outcome in FAILURE_OUTCOMES
                counts[5] += outcome == CANCEL_OUTCOME
        entries.append(
            CreditEntry(
                id=entry_id,
                account_id=user_id,
                idempotency_key=f"b:{entry_id}",
                balance_after=balance[user_id],
                **fields,
            )
        )
        if len(entries) >= BATCH:
            CreditEntry.objects.bulk_create(entries)
            written += len(entries)
            entries.clear()
    CreditEntry.objects.bulk_create(entries)
    written += len(entries)
    pending.clear()
    totals.finish()
    SpendRollup.objects.bulk_create(
        (
            SpendRollup(
                slot=slot,
                user_id=user_id,
                provider=provider,
                mode=mode,
                resolution=resolution,
                sound=sound,
                **dict(zip(GROUP_FIGURES, figures, strict=True)),
            )
            for (slot, user_id, provider, mode, resolution, sound), figures in rollup.items()
        ),
        batch_size=BATCH,
    )
    spend_days_rebuild()  # the team's days from the rollup, as the service keeps them
    for u in range(1, n_members + 2):
        CreditAccount.objects.filter(id=u).update(balance=balance[u], held=held[u])
    with connection.cursor() as cursor:
        models = [User, Generation, CreditEntry, CreditAccount, SpendRollup, SpendDay, totals.model]
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)
        cursor.execute("ANALYZE")  # fresh planner statistics, as a live database has
    print(
        f"built {n_members:,} members, {args.generations:,} generations, {written:,} entries "
        f"in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    return {"heavy": User.objects.get(id=heavy), "manager": manager, "now": now}


SLOW_QUERIES = 0
ONLY: list[str] = []
# Every page's target (docs/architecture.md "Performance targets": p95 under 100 ms).
PAGE_TARGET_MS = 100.0
# (label, p95 ms, queries, target ms or None, p95 CPU ms of this process, p95 SQL ms) of
# every figure measured, for the summary. The CPU and SQL columns tell a loaded machine's
# waiting from the page's own work; the verdict is on the wall-clock p95.
FIGURES: list[tuple[str, float, int, float | None, float, float, float]] = []


def _p95(times: list[float]) -> float:
    """Return the 95th percentile of ``times`` (the largest of fewer than 20 runs)."""
    return statistics.quantiles(times, n=20)[-1] if len(times) >= 20 else max(times)


def measure(
    label: str, fetch: Callable, runs: int, *, target_ms: float | None = PAGE_TARGET_MS
) -> None:
    """Run ``fetch`` ``runs`` times; print queries, milliseconds and response size.

    The p95 is recorded in ``FIGURES`` with ``target_ms`` (milliseconds; ``None``: a figure
    without a target, e.g. a whole-history CSV download) for :func:`summary`.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if ONLY and not any(word in label for word in ONLY):
        return
    # One untimed request first: a served process has compiled its templates and warmed its
    # caches long before; the first request of this one would time that instead.
    warm = fetch()
    if warm.streaming:
        b"".join(warm.streaming_content)
    # Garbage of the page measured before (a 100,000-row CSV, say) is collected first, so a
    # full collection of it does not land in this page's runs; this page's own does count.
    gc.collect()
    times, cpu, sql, queries, size = [], [], [], 0, 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            t0, c0 = time.perf_counter(), time.process_time()
            response = fetch()
            body = (
                b"".join(response.streaming_content)
                if response.streaming
                else bytes(response.content)
            )
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        assert response.status_code == 200, (label, response.status_code)
        queries, size = len(captured), len(body)
        sql.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
    FIGURES.append(
        (label, _p95(times), queries, target_ms, _p95(cpu), _p95(sql), statistics.median(times))
    )
    print(
        f"{label:<52} {queries:>3} queries  median {statistics.median(times):>8.1f} ms  "
        f"p95 {_p95(times):>8.1f} ms  "
        f"(min {min(times):.1f}, max {max(times):.1f})  {size / 1024:>8.1f} KiB",
        flush=True,
    )
    slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))
    for query in slowest[:SLOW_QUERIES]:
        sql = " ".join(query["sql"].split())
        print(f"    {float(query['time']) * 1000:8.1f} ms  {sql[:220]}", flush=True)


def summary() -> int:
    """Print every figure beside its target; return how many missed (the exit status)."""
    width = max((len(label) for label, *_ in FIGURES), default=4)
    print(
        f"\n{'page':<{width}} | {'p95 ms':>8} | queries | {'target':>8} | ok/MISS"
        f" | {'cpu p95':>8} | {'sql p95':>8} | {'median':>8}"
    )
    rule = f"{'-' * 8}-+-"
    print(f"{'-' * width}-+-{rule}--------+-{rule}--------+-{rule * 2}{'-' * 8}")
    misses = 0
    for label, p95, queries, target, cpu, sql, median in FIGURES:
        if target is None:
            verdict, shown = "-", "-"
        else:
            verdict, shown = ("ok" if p95 < target else "MISS"), f"< {target:.0f}"
            misses += verdict == "MISS"
        print(
            f"{label:<{width}} | {p95:>8.1f} | {queries:>7} | {shown:>8} | {verdict:<7}"
            f" | {cpu:>8.1f} | {sql:>8.1f} | {median:>8.1f}"
        )
    print(f"{misses} of {len(FIGURES)} figures miss their target", flush=True)
    from benchmarks.summary import figure, summary_line

    print(
        summary_line(
            "reports",
            [
                figure(
                    label,
                    f"{p95:.1f} ms p95 ({median:.1f} median), {queries} queries",
                    f"< {target:.0f} ms",
                    p95 < target,
                )
                for label, p95, queries, target, _, _, median in FIGURES
                if target is not None
            ],
            load=round(os.getloadavg()[0], 1),
        ),
        flush=True,
    )
    return misses


def csv_memory(label: str, fetch: Callable) -> None:
    """Print the peak Python memory while streaming a CSV, and its row count."""
    tracemalloc.start()
    response = fetch()
    rows = 0
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{label:<52} {rows:>9,} rows  peak Python memory {peak / 2**20:.1f} MiB", flush=True)


def prioritise(args: argparse.Namespace) -> None:
    """Apply ``--nice`` to this process and, on PostgreSQL, to its server backend."""
    from django.db import connection

    if args.nice is None:
        return
    os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    targets = ["this process"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            os.setpriority(os.PRIO_PROCESS, cursor.fetchone()[0], args.nice)
        targets.append("its PostgreSQL backend")
    print(f"niceness {args.nice} for {' and '.join(targets)}", flush=True)


def run(args: argparse.Namespace, data: dict) -> None:
    from django.test import Client
    from django.urls import reverse

    prioritise(args)
    # As gunicorn.conf.py's post_worker_init does in each web worker: what the loaded app
    # made is frozen out of the collector's sight (after one request has loaded the URLs
    # and templates), so full collections walk only what requests allocate.
    warm = Client()
    warm.force_login(data["heavy"])
    warm.get(reverse("generations:list"))
    gc.collect()
    gc.freeze()

    from generations import providers
    from generations.models import CreditEntry
    from generations.selectors.reports import local_today, statement_rows

    class StubProvider:
        """Either provider's client: APIXO answers in US$, aivideoapi.ai in its credits."""

        def account_balance(self) -> Decimal:
            return Decimal("123.45")

        def account_credits(self) -> int:
            return 24_690

    providers.get_provider = lambda name="apixo": StubProvider()
    heavy, manager = data["heavy"], data["manager"]
    member_client, manager_client = Client(), Client()
    member_client.force_login(heavy)
    manager_client.force_login(manager)
    today = local_today()
    year = {"from": (today - timedelta(days=args.days)).isoformat(), "to": today.isoformat()}
    entries = CreditEntry.objects.filter(account__user=heavy).count()
    pages = (entries + 24) // 25
    print(f"heaviest member: {entries:,} entries ({pages:,} statement pages)", flush=True)

    gallery = reverse("generations:list")
    # The cards' refunds (a subquery per row) and the running count (issue #15 item 2).
    measure("gallery page 1", lambda: member_client.get(gallery), args.runs)
    measure(
        "gallery, failed jobs (Refunded on every card)",
        lambda: member_client.get(gallery, {"state": "failed"}),
        args.runs,
    )
    # The toolbar (docs/gallery.md "Filters and sort") and the team library.
    measure(
        "gallery, favourites by price (high)",
        lambda: member_client.get(gallery, {"favourite": "1", "sort": "price-high"}),
        args.runs,
    )
    measure(
        "gallery, 1080p extends, oldest first",
        lambda: member_client.get(
            gallery, {"mode": "video-extend", "resolution": "1080p", "sort": "oldest"}
        ),
        args.runs,
    )
    library = reverse("generations:library")
    measure("team library page 1", lambda: member_client.get(library), args.runs)
    measure(
        "team library, 720p, last 30 days",
        lambda: member_client.get(
            library, {"resolution": "720p", "from": (today - timedelta(days=29)).isoformat()}
        ),
        args.runs,
    )
    usage = reverse("generations:usage")
    measure("usage page, statement page 1", lambda: member_client.get(usage), args.runs)
    measure(
        f"usage page, statement page {pages:,} (oldest)",
        lambda: member_client.get(usage, {"page": pages}),
        args.runs,
    )
    measure(
        "usage page, captures of the last 30 days",
        lambda: member_client.get(
            usage, {"kind": "capture", "from": (today - timedelta(days=29)).isoformat()}
        ),
        args.runs,
    )
    team = reverse("generations:team_spend")
    measure("team spend, last 30 days by day", lambda: manager_client.get(team), args.runs)
    measure(
        f"team spend, {args.days} days by week",
        lambda: manager_client.get(team, {**year, "period": "week"}),
        args.runs,
    )
    measure(
        f"team spend, {args.days} days by month",
        lambda: manager_client.get(team, {**year, "period": "month"}),
        args.runs,
    )
    statement_csv = reverse("generations:statement_csv")
    team_csv = reverse("generations:team_spend_csv")
    measure(
        "statement CSV, heaviest member, all time",
        lambda: member_client.get(statement_csv),
        args.runs,
        target_ms=None,  # a download of the whole history, not a page
    )
    measure(
        f"team CSV, {args.days} days by day",
        lambda: manager_client.get(team_csv, {**year, "period": "day"}),
        args.runs,
        target_ms=None,  # a download of the whole period, not a page
    )
    csv_memory("statement CSV, heaviest member", lambda: member_client.get(statement_csv))
    csv_memory(
        f"team CSV, {args.days} days by day",
        lambda: manager_client.get(team_csv, {**year, "period": "day"}),
    )
    newest = statement_rows(user=heavy).first()
    heavy.credit_account.refresh_from_db()
    check = "ok" if newest.running_balance == heavy.credit_account.balance else "MISMATCH"
    print(f"running balance of the newest entry equals the account balance: {check}")


def build_chain(args: argparse.Namespace, data: dict) -> list[int]:
    """Give the heaviest member a chain of ``--chain`` extends, each continuing the one
    before, and return its ids (oldest first); an existing chain is reused.

    The generation detail page shows the job's source and its own extensions
    (docs/gallery.md); the chain's middle job has both, its root has one extension.
    """
    from generations.models import Generation, PriceTable

    existing = list(
        Generation.objects.filter(prompt__startswith="benchmark chain ")
        .order_by("id")
        .values_list("id", flat=True)
    )
    if existing:
        return existing
    heavy, now = data["heavy"], data["now"]
    table = PriceTable.objects.current()
    source = Generation.objects.filter(user=heavy, state="succeeded").order_by("id").first()
    ids = []
    for n in range(args.chain):
        created = now - timedelta(hours=args.chain - n)
        source = Generation.objects.create(
            user=heavy,
            mode="video-extend",
            model_id="seedance-1-5-pro-extend",
            state="succeeded",
            prompt=f"benchmark chain {n}",
            resolution="720p",
            duration=5,
            sound=False,
            price_credits=120,
            price_table=table,
            source_generation=source,
            created_at=created,
            finished_at=created + timedelta(minutes=2),
            result_state="stored",
        )
        ids.append(source.pk)
    print(f"built an extend chain of {len(ids)} jobs", flush=True)
    return ids


def run_detail(args: argparse.Namespace, data: dict) -> None:
    """Time the generation detail page along the long extend chain."""
    from django.test import Client

    from generations.models import Generation

    chain = build_chain(args, data)
    client = Client()
    client.force_login(data["heavy"])
    middle = Generation.objects.get(pk=chain[len(chain) // 2])
    measure(
        f"generation detail, middle of a {len(chain)}-extend chain",
        lambda: client.get(middle.get_absolute_url()),
        args.runs,
    )
    failed = Generation.objects.filter(user=data["heavy"], state="failed").order_by("-id").first()
    measure(
        "generation detail, a failed job", lambda: client.get(failed.get_absolute_url()), args.runs
    )


# --- Team pages and admin lists (issue #14 item 1) -------------------------------------------


def build_team_members(args: argparse.Namespace, data: dict) -> None:
    """Add members (with empty accounts) until the team has ``--team-members`` of them.

    ``build()`` makes ``--members`` members (default: generations / 100); the team page and
    the user admin are measured with at least ``--team-members`` (1,000 by default).
    """
    from django.contrib.auth.hashers import make_password
    from django.core.management.color import no_style
    from django.db import connection

    from generations.models import CreditAccount, User

    have = User.objects.count()
    first = User.objects.order_by("-id").values_list("id", flat=True).first() + 1
    missing = max(0, args.team_members + 1 - have)  # + 1: the manager
    password = make_password(None)
    ids = range(first, first + missing)
    User.objects.bulk_create(
        [
            User(id=i, username=f"extra{i:05d}", email=f"extra{i}@example.com", password=password)
            for i in ids
        ],
        batch_size=BATCH,
    )
    CreditAccount.objects.bulk_create(
        [CreditAccount(id=i, user_id=i) for i in ids], batch_size=BATCH
    )
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [User, CreditAccount]):
            cursor.execute(sql)
    print(f"team: {User.objects.count():,} users ({missing:,} added)", flush=True)


def build_audit(args: argparse.Namespace, data: dict) -> None:
    """Bulk-insert ``--audit`` audit entries by the manager over ``--days`` days."""
    from django.core.management.color import no_style
    from django.db import connection

    from generations.models import AuditEntry, User

    rng = random.Random(args.seed + 1)
    t0 = time.perf_counter()
    members = list(User.objects.filter(is_superuser=False).values_list("id", flat=True))
    actions = [AuditEntry.Action.GRANT, AuditEntry.Action.REVOKE, AuditEntry.Action.CAP]
    horizon = timedelta(days=args.days).total_seconds()
    rows: list[AuditEntry] = []
    for i in range(1, args.audit + 1):
        action = rng.choice(actions)
        before = rng.randint(0, 10**6)
        rows.append(
            AuditEntry(
                id=i,
                actor_id=data["manager"].pk,
                action=action,
                target_user_id=rng.choice(members),
                before={"balance": before},
                after={"balance": before + rng.randint(1, 5000)},
                memo=f"benchmark audit {i}",
                created_at=data["now"] - timedelta(seconds=rng.uniform(0, horizon)),
            )
        )
        if len(rows) >= BATCH:
            AuditEntry.objects.bulk_create(rows)
            rows.clear()
    AuditEntry.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [AuditEntry]):
            cursor.execute(sql)
        cursor.execute("ANALYZE")
    print(f"built {args.audit:,} audit entries in {time.perf_counter() - t0:.1f} s", flush=True)


def run_team_and_admin(args: argparse.Namespace, data: dict) -> None:
    """Time the team members page, the audit log and the admin lists (as a superuser)."""
    from django.test import Client
    from django.urls import reverse

    from generations.models import AuditEntry, User

    manager = data["manager"]
    client = Client()
    client.force_login(manager)
    members = User.objects.count()
    measure(
        f"team members page ({members:,} users)",
        lambda: client.get(reverse("team:members")),
        args.runs,
    )
    audit = reverse("team:audit")
    audit_pages = (AuditEntry.objects.count() + 49) // 50
    measure("audit log page 1", lambda: client.get(audit), args.runs)
    measure(
        f"audit log page {audit_pages:,} (oldest)",
        lambda: client.get(audit, {"page": audit_pages}),
        args.runs,
    )
    generations = reverse("admin:generations_generation_changelist")
    measure("admin generations", lambda: client.get(generations), args.runs)
    target = max(1, args.generations // 2)
    measure(
        "admin generations, search a prompt",
        lambda: client.get(generations, {"q": f"benchmark scene {target}"}),
        args.runs,
    )
    measure(
        "admin generations, search a username",
        lambda: client.get(generations, {"q": "member00002"}),
        args.runs,
    )
    for name, value in [
        ("stuck", "yes"),
        ("late", "yes"),
        ("state__exact", "failed"),
        ("mode__exact", "video-extend"),
        ("provider__exact", "aivideoapi"),
        ("failover_from__exact", "apixo"),
        ("result_state__exact", "failed"),
        ("fail_code", "TASK_NOT_FOUND"),
        ("created_at__gte", (data["now"] - timedelta(days=7)).isoformat()),
    ]:
        measure(
            f"admin generations, filter {name.split('__')[0]}",
            lambda name=name, value=value: client.get(generations, {name: value}),
            args.runs,
        )
    entries = reverse("admin:generations_creditentry_changelist")
    measure("admin ledger entries", lambda: client.get(entries), args.runs)
    measure(
        "admin ledger entries, filter kind",
        lambda: client.get(entries, {"kind__exact": "release"}),
        args.runs,
    )
    users = reverse("admin:generations_user_changelist")
    measure("admin users", lambda: client.get(users), args.runs)
    measure("admin users, search", lambda: client.get(users, {"q": "member0001"}), args.runs)
    audit_admin = reverse("admin:generations_auditentry_changelist")
    measure("admin audit entries", lambda: client.get(audit_admin), args.runs)


def reused(args: argparse.Namespace) -> dict:
    """Point the connection at the kept database ``--reuse`` names; return what to time."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from generations.models import User

    connection.close()
    connection.settings_dict["NAME"] = args.reuse
    # Only a database this script built: --reuse migrates it, and must never touch a real one.
    if not User.objects.filter(username="bench-manager").exists():  # SELECT 1: no new columns
        sys.exit(f"{args.reuse} was not built by this benchmark (no bench-manager): refused")
    started = time.perf_counter()
    call_command("migrate", verbosity=0)  # the migrations added since it was built
    print(f"migrated {args.reuse} in {time.perf_counter() - started:.1f} s", flush=True)
    heavy = User.objects.get(username="member00001")  # build()'s heaviest member
    manager = User.objects.get(username="bench-manager")
    print(f"reusing {args.reuse}", flush=True)
    return {"heavy": heavy, "manager": manager, "now": timezone.now()}


def main() -> None:
    global SLOW_QUERIES, ONLY
    args = parse_args()
    SLOW_QUERIES = args.slow_queries
    ONLY = [word.strip() for word in args.only.split(",") if word.strip()]
    scratch = tempfile.mkdtemp(prefix="seedance-bench-")
    setup_django(scratch)
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    # No query log while a million rows go in; CaptureQueriesContext still counts queries.
    settings.DEBUG = False
    original_name = connection.settings_dict["NAME"]
    print(f"database: {connection.vendor}", flush=True)
    if args.reuse:
        data = reused(args)
    else:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        if not args.reuse:
            data = build(args)
            build_team_members(args, data)
            build_audit(args, data)
        run(args, data)
        run_detail(args, data)
        run_team_and_admin(args, data)
        misses = summary()
    finally:
        if args.keep or args.reuse:
            print(f"kept {connection.settings_dict['NAME']}")
        else:
            connection.creation.destroy_test_db(original_name, verbosity=0)
            shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(1 if misses else 0)


if __name__ == "__main__":
    main()
