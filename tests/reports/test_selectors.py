"""Report selectors against ledger rows written by the services: every total is the
ledger's own sum, in the right local month, and statements carry the right balances."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.paginator import Paginator

from generations.models import CreditAccount, CreditEntry, Generation
from generations.selectors.reports import (
    Period,
    day_range,
    member_usage,
    statement_rows,
    statement_totals,
)
from generations.selectors.team_spend import team_spend, team_spend_rows
from tests.factories import UserFactory

from .conftest import balance_after_each, spent_between

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
MONTHS = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1)]
MODES = [
    ("text-to-video", "480p", False),
    ("text-to-video", "720p", True),
    ("image-to-video", "720p", False),
    ("video-extend", "1080p", True),
]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


def month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def provider_for(mode: str, n: int) -> str:
    """Alternate providers where both offer the mode (aivideoapi.ai has no extend)."""
    return "aivideoapi" if n % 2 and mode != "video-extend" else "apixo"


@pytest.fixture
def history(settings, ledger):
    """Six members over four months in New York time: grants, revokes, adjustments, jobs
    captured, released, expired and still held, some settling across month ends; jobs run
    by both providers."""
    settings.TIME_ZONE = "America/New_York"
    members = [UserFactory() for _ in range(6)]
    with ledger.chronological():
        for i, member in enumerate(members):
            ledger.grant(member, 50_000 + 1000 * i, local(MONTHS[0], 8))
            for m, first in enumerate(MONTHS):
                mode, resolution, sound = MODES[(i + m) % len(MODES)]
                price = 40 * (i + 1) + 10 * m
                ledger.job(
                    member,
                    price=price,
                    at=local(first.replace(day=3), 10),
                    mode=mode,
                    resolution=resolution,
                    sound=sound,
                    provider=provider_for(mode, i + m),
                )
                ledger.job(
                    member,
                    price=price + 5,
                    at=local(first.replace(day=9), 15),
                    outcome=Generation.State.FAILED,
                    mode=mode,
                    resolution=resolution,
                    provider=provider_for(mode, i),
                )
                last = month_end(first)
                # 23:30 in New York is already the next month in UTC: still this month's spend.
                ledger.job(
                    member,
                    price=price + 7,
                    at=local(last, 23, 0),
                    settled_at=local(last, 23, 30),
                    provider=provider_for("text-to-video", i + m + 1),
                )
                # Held this month, captured next month: next month's spend.
                ledger.job(
                    member,
                    price=price + 11,
                    at=local(last, 22),
                    settled_at=local(last, 23) + timedelta(hours=2),
                    mode="video-extend",
                    resolution="720p",
                    sound=True,
                )
                if i % 2:
                    ledger.revoke(member, 100 + m, local(first.replace(day=12), 9))
                if m == 2:
                    ledger.adjust(member, -(25 + i), local(first.replace(day=14), 9))
                    ledger.job(
                        member,
                        price=30,
                        at=local(first.replace(day=15), 9),
                        outcome=Generation.State.EXPIRED,
                    )
            ledger.job(
                member,
                price=55,
                at=local(MONTHS[-1].replace(day=20), 9),
                outcome=Generation.State.SUBMITTED,
            )
    return members


def test_team_totals_equal_the_ledger_over_the_whole_range(history):
    first, last = MONTHS[0], month_end(MONTHS[-1]) + timedelta(days=1)
    start, end = day_range(first, last)
    report = team_spend(first=first, last=last, period=Period.MONTH)
    expected = spent_between(start, end)
    assert expected > 0
    assert report.credits == expected
    assert report.captures == CreditEntry.objects.filter(kind="capture").count()
    assert sum(b.credits for b in report.buckets) == expected
    assert sum(m.credits for m in report.members) == expected
    assert sum(g.credits for g in report.by_mode_resolution) == expected
    assert sum(g.jobs for g in report.by_mode_resolution) == report.captures
    assert sum(g.credits for g in report.by_provider) == expected
    assert sum(g.jobs for g in report.by_provider) == report.captures
    for member in history:
        row = next(m for m in report.members if m.user_id == member.pk)
        assert row.credits == spent_between(start, end, user=member)
        account = CreditAccount.objects.get(user=member)
        assert (row.balance, row.held) == (account.balance, account.held)


@pytest.mark.parametrize("period", [Period.DAY, Period.WEEK, Period.MONTH])
def test_each_period_bucket_equals_the_ledger_for_its_local_days(history, period):
    first, last = date(2026, 1, 20), date(2026, 3, 10)
    report = team_spend(first=first, last=last, period=period)
    assert report.credits == spent_between(*day_range(first, last))
    for index, bucket in enumerate(report.buckets):
        bucket_first = max(bucket.start, first)
        following = report.buckets[index + 1].start if index + 1 < len(report.buckets) else None
        bucket_last = min(following - timedelta(days=1), last) if following else last
        assert bucket.credits == spent_between(*day_range(bucket_first, bucket_last)), bucket


def test_month_buckets_follow_the_local_calendar(history):
    report = team_spend(first=MONTHS[0], last=month_end(MONTHS[-1]), period=Period.MONTH)
    assert [b.start for b in report.buckets] == MONTHS
    for bucket in report.buckets:
        assert bucket.credits == spent_between(*day_range(bucket.start, month_end(bucket.start)))
    # The 23:30 capture on 31 January (04:30 UTC on 1 February) is January's spend.
    january_late = CreditEntry.objects.filter(
        kind="capture", created_at=local(date(2026, 1, 31), 23, 30)
    )
    assert january_late.count() == len(history)
    assert report.buckets[0].credits == spent_between(
        datetime(2026, 1, 1, tzinfo=NY), datetime(2026, 2, 1, tzinfo=NY)
    )
    assert report.buckets[0].credits != spent_between(
        datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")), datetime(2026, 2, 1, tzinfo=ZoneInfo("UTC"))
    )


def ended_jobs(start, end, **filters) -> dict[str, int]:
    """Count the jobs whose settlement ended them in ``[start, end)``, by final state, from
    the ledger and the jobs themselves (``filters`` on the generation): what the team report
    counts as jobs (docs/architecture.md "Stored figures")."""
    settlements = CreditEntry.objects.filter(
        kind__in=["capture", "release"], created_at__gte=start, created_at__lt=end
    )
    counts: dict[str, int] = {}
    for generation in Generation.objects.filter(
        pk__in=settlements.values("generation"), **filters
    ).exclude(state__in=["queued", "submitting", "submitted", "unknown"]):
        counts[generation.state] = counts.get(generation.state, 0) + 1
    return counts


def test_jobs_and_failure_rate_per_member(history):
    """Jobs are those that ended in the range, by outcome, counted when they settled: the
    job held in one range and settled in the next counts in the next, like its spend."""
    first, last = MONTHS[0], month_end(MONTHS[-1])
    report = team_spend(first=first, last=last, period=Period.MONTH)
    start, end = day_range(first, last)
    everyone = ended_jobs(start, end)
    assert report.jobs == sum(everyone.values())
    assert report.succeeded == everyone["succeeded"]
    assert report.failed == everyone["failed"] + everyone["expired"]
    in_flight = Generation.objects.filter(state="submitted", created_at__gte=start)
    assert in_flight.exists()  # held in the range, not ended: not counted
    member = history[0]
    row = next(m for m in report.members if m.user_id == member.pk)
    mine = ended_jobs(start, end, user=member)
    failed = mine.get("failed", 0) + mine.get("expired", 0)
    assert (row.jobs, row.succeeded, row.failed) == (sum(mine.values()), mine["succeeded"], failed)
    assert failed and row.succeeded
    assert row.failure_rate == (Decimal(100) * failed / (failed + row.succeeded)).quantize(
        Decimal("0.1")
    )


def test_jobs_ended_in_a_month_count_in_that_month(history):
    """A job held on the last evening of January and captured after midnight in February
    counts in February's jobs, with its spend."""
    january = team_spend(first=MONTHS[0], last=month_end(MONTHS[0]), period=Period.MONTH)
    start, end = day_range(MONTHS[0], month_end(MONTHS[0]))
    ended = ended_jobs(start, end)
    assert january.jobs == sum(ended.values())
    created = Generation.objects.filter(created_at__gte=start, created_at__lt=end).count()
    assert january.jobs != created  # the late captures moved to February


def test_member_filter_reports_one_member(history):
    member = history[3]
    first, last = MONTHS[1], MONTHS[2]
    report = team_spend(first=first, last=last, period=Period.DAY, user_id=member.pk)
    assert [m.user_id for m in report.members] == [member.pk]
    assert report.credits == spent_between(*day_range(first, last), user=member) > 0
    assert sum(b.credits for b in report.buckets) == report.credits


def test_spend_per_provider_equals_the_ledger_and_sums_to_the_total(history):
    first, last = MONTHS[0], month_end(MONTHS[-1])
    start, end = day_range(first, last)
    report = team_spend(first=first, last=last, period=Period.MONTH)
    groups = {g.key: g for g in report.by_provider}
    assert set(groups) == {"apixo", "aivideoapi"}
    assert (groups["apixo"].label, groups["aivideoapi"].label) == ("APIXO", "aivideoapi.ai")
    for name, group in groups.items():
        captures = CreditEntry.objects.filter(
            kind="capture", created_at__gte=start, created_at__lt=end, generation__provider=name
        )
        assert group.credits == spent_between(start, end, provider=name) > 0
        assert group.jobs == captures.count()
        assert group.usd == Decimal(group.credits) / 1000
    assert sum(g.credits for g in groups.values()) == report.credits
    assert [g.credits for g in report.by_provider] == sorted(
        (g.credits for g in report.by_provider), reverse=True
    )


@pytest.mark.parametrize("provider", ["apixo", "aivideoapi"])
def test_provider_filter_reports_one_providers_jobs(history, provider):
    first, last = MONTHS[0], month_end(MONTHS[-1])
    start, end = day_range(first, last)
    everything = team_spend(first=first, last=last, period=Period.MONTH)
    report = team_spend(first=first, last=last, period=Period.MONTH, provider=provider)
    assert report.provider == provider
    assert report.credits == spent_between(start, end, provider=provider) > 0
    assert [(g.key, g.credits, g.jobs) for g in report.by_provider] == [
        (g.key, g.credits, g.jobs) for g in everything.by_provider if g.key == provider
    ]
    assert sum(b.credits for b in report.buckets) == report.credits
    assert sum(m.credits for m in report.members) == report.credits
    assert sum(g.credits for g in report.by_mode_resolution) == report.credits
    assert report.jobs == sum(ended_jobs(start, end, provider=provider).values()) > 0
    member = history[1]
    row = next(m for m in report.members if m.user_id == member.pk)
    assert row.credits == spent_between(start, end, user=member, provider=provider)


def test_provider_and_member_filters_combine(history):
    member = history[2]
    first, last = MONTHS[0], month_end(MONTHS[-1])
    report = team_spend(
        first=first, last=last, period=Period.WEEK, user_id=member.pk, provider="aivideoapi"
    )
    expected = spent_between(*day_range(first, last), user=member, provider="aivideoapi")
    assert report.credits == expected > 0
    rows = list(
        team_spend_rows(
            first=first, last=last, period=Period.WEEK, user_id=member.pk, provider="aivideoapi"
        )
    )
    assert sum(r.credits for r in rows) == expected
    assert {(r.username, r.provider) for r in rows} == {(member.username, "aivideoapi")}


def test_csv_rows_sum_to_the_report(history):
    first, last = MONTHS[0], month_end(MONTHS[-1])
    report = team_spend(first=first, last=last, period=Period.WEEK)
    rows = list(team_spend_rows(first=first, last=last, period=Period.WEEK))
    assert sum(r.credits for r in rows) == report.credits
    assert sum(r.jobs for r in rows) == report.captures
    assert {r.username for r in rows} == {m.username for m in history}
    assert all(r.period_start.weekday() == 0 for r in rows)
    for group in report.by_provider:
        mine = [r for r in rows if r.provider == group.key]
        assert (sum(r.credits for r in mine), sum(r.jobs for r in mine)) == (
            group.credits,
            group.jobs,
        )
    keys = [(r.period_start, r.username, r.provider, r.mode, r.resolution, r.sound) for r in rows]
    assert len(keys) == len(set(keys))  # one row per group, periods in order
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)


def test_member_usage_this_month_and_last_30_days(history):
    member = history[2]
    month = MONTHS[2]
    today = date(2026, 3, 20)
    usage = member_usage(user=member, month_start=month, today=today)
    expected_month = spent_between(*day_range(month, month_end(month)), user=member)
    assert usage.spent_this_month == expected_month > 0
    for groups in (usage.by_mode, usage.by_resolution, usage.by_sound):
        assert sum(g.credits for g in groups) == expected_month
        assert sum(g.jobs for g in groups) == usage.jobs_this_month
    assert len(usage.daily) == 30 and usage.daily[-1].start == today
    assert usage.daily_credits == spent_between(
        *day_range(today - timedelta(days=29), today), user=member
    )
    account = CreditAccount.objects.get(user=member)
    assert (usage.balance, usage.held) == (account.balance, account.held)


def test_a_new_member_has_an_empty_usage(member):
    usage = member_usage(user=member, month_start=date(2026, 3, 1), today=date(2026, 3, 5))
    assert (usage.balance, usage.held, usage.spent_this_month) == (0, 0, 0)
    assert usage.by_mode == [] and usage.daily_credits == 0


def test_statement_running_balance_is_right_on_every_page(history):
    member = history[1]
    truth = balance_after_each(member)
    rows = statement_rows(user=member)
    paginator = Paginator(rows, 7)
    assert paginator.num_pages > 3
    seen = []
    for number in paginator.page_range:
        for entry in paginator.page(number).object_list:
            assert entry.running_balance == truth[entry.pk], (number, entry.pk)
            seen.append(entry.pk)
    assert seen == list(reversed(list(truth)))  # newest first, every entry once
    newest = paginator.page(1).object_list[0]
    assert newest.running_balance == CreditAccount.objects.get(user=member).balance


def test_statement_filters_keep_the_balance_of_hidden_entries(history):
    member = history[3]
    truth = balance_after_each(member)
    start, end = day_range(date(2026, 1, 1), date(2026, 3, 15))
    rows = list(statement_rows(user=member, start=start, end=end, kinds=["capture", "grant"]))
    expected = CreditEntry.objects.filter(
        account__user=member,
        created_at__gte=start,
        created_at__lt=end,
        kind__in=["capture", "grant"],
    )
    assert [r.pk for r in rows] == list(
        expected.order_by("-created_at", "-id").values_list("pk", flat=True)
    )
    assert {r.kind for r in rows} == {"capture", "grant"}
    for row in rows:
        assert row.running_balance == truth[row.pk]
    paged = Paginator(statement_rows(user=member, start=start, end=end, kinds=["capture"]), 3)
    captures = [r for r in rows if r.kind == "capture"]
    assert paged.count == len(captures)
    page_two = [e.running_balance for e in paged.page(2).object_list]
    assert page_two == [truth[r.pk] for r in captures[3:6]]


def test_statement_never_shows_another_members_entries(history):
    member, other = history[0], history[1]
    pks = set(statement_rows(user=member).values_list("pk", flat=True))
    assert pks == set(CreditEntry.objects.filter(account__user=member).values_list("pk", flat=True))
    assert pks.isdisjoint(
        CreditEntry.objects.filter(account__user=other).values_list("pk", flat=True)
    )


def test_statement_totals_equal_the_rows(history):
    member = history[4]
    start, end = day_range(date(2026, 1, 15), date(2026, 4, 10))
    for kinds in ([], ["hold", "release"], ["capture"]):
        rows = list(statement_rows(user=member, start=start, end=end, kinds=kinds))
        totals = statement_totals(user=member, start=start, end=end, kinds=kinds)
        assert totals.entries == len(rows) > 0
        assert totals.balance_change == sum(r.balance_delta for r in rows)
        assert totals.held_change == sum(r.held_delta for r in rows)
        assert totals.spent == -sum(r.amount for r in rows if r.kind == "capture")


def test_entries_written_at_the_same_instant_are_ordered_by_id(member, ledger):
    moment = datetime(2026, 5, 1, 12, tzinfo=NY)
    for amount in (100, 200, 300):
        ledger.grant(member, amount, moment)
    rows = list(statement_rows(user=member))
    assert [r.running_balance for r in rows] == [600, 300, 100]


@pytest.mark.parametrize(
    "zone", ["America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]
)
def test_day_buckets_are_exact_in_any_time_zone(settings, ledger, member, zone):
    """Captures minutes either side of local midnight land on their local day, whether the
    zone's offset is whole hours (grouped by UTC hour) or not (+05:30, +10:30/+11, +12:45)."""
    settings.TIME_ZONE = zone
    tz = ZoneInfo(zone)
    ledger.grant(member, 100_000, datetime(2026, 3, 1, tzinfo=tz))
    for day in range(2, 12):
        midnight = datetime(2026, 3, day, tzinfo=tz)
        ledger.job(member, price=40 + day, at=midnight - timedelta(minutes=10))
        ledger.job(member, price=100 + day, at=midnight + timedelta(minutes=10))
    first, last = date(2026, 3, 2), date(2026, 3, 11)
    report = team_spend(first=first, last=last, period=Period.DAY)
    assert [b.start for b in report.buckets] == [first + timedelta(days=n) for n in range(10)]
    for bucket in report.buckets:
        assert bucket.credits == spent_between(*day_range(bucket.start, bucket.start)) > 0
    assert report.credits == spent_between(*day_range(first, last))
    rows = list(team_spend_rows(first=first, last=last, period=Period.DAY))
    assert {(r.period_start, r.credits) for r in rows} == {
        (b.start, b.credits) for b in report.buckets
    }
