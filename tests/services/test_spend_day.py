"""The team's spend per local day (``SpendDay``) and the rollups' jobs by outcome.

docs/architecture.md "Stored figures": both are written with each settlement, in its
transaction, and ``ledger_check`` compares them with the ledger.
"""

import importlib
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.core.management import CommandError, call_command

from generations.models import CreditEntry, Generation, SpendDay, SpendRollup
from generations.selectors.ledger import rollup_mismatches, settlement_groups
from generations.selectors.reports import Period
from generations.selectors.team_spend import team_spend
from generations.services.ledger import (
    credits_capture,
    credits_grant,
    credits_hold,
    credits_release,
    spend_days_rebuild,
)
from tests.concurrency import run_in_threads
from tests.conftest import requires_postgres
from tests.factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("generations.migrations.0030_spend_day")
# Jobs from 22:50 on 1 March to 00:10 on 2 March UTC: two days in UTC, 2 March only in
# Tokyo (UTC+9), 1 March only in New York (UTC-5).
LATE = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
DAYS = {
    "UTC": {date(2026, 3, 1), date(2026, 3, 2)},
    "Asia/Tokyo": {date(2026, 3, 2)},
    "America/New_York": {date(2026, 3, 1)},
}


def held(user, price, *, provider="apixo", mode="text-to-video"):
    generation = GenerationFactory(
        user=user, price_credits=price, provider=provider, mode=mode, hold=False
    )
    return credits_hold(user=user, amount=price, generation=generation)


def end(hold, outcome):
    """Settle ``hold`` as the lifecycle ends a job with ``outcome``."""
    if outcome == "succeeded":
        entry = credits_capture(hold=hold)
    else:
        entry = credits_release(hold=hold, outcome=outcome)
    Generation.objects.filter(pk=hold.generation_id).update(state=outcome)
    return entry


def history(members):
    """Each member: jobs that succeed, fail, expire and are canceled, 22:50 to 00:10 UTC."""
    for n, member in enumerate(members):
        credits_grant(user=member, amount=100_000, actor=None)
        for step, outcome in enumerate(["succeeded", "failed", "expired", "canceled", "succeeded"]):
            moment = LATE + timedelta(minutes=20 * step - 40 + n)
            with time_machine.travel(moment, tick=False):
                end(held(member, 100 + 10 * step + n), outcome)


def day_rows() -> dict[tuple, tuple]:
    fields = ("captures", "captured", "releases", "released", "failures", "cancels")
    return {
        (row[0], *row[1:5]): row[5:]
        for row in SpendDay.objects.values_list(
            "day", "provider", "mode", "resolution", "sound", *fields
        )
    }


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/New_York"])
def test_spend_days_are_the_local_days_of_the_settlements(settings, zone):
    settings.TIME_ZONE = zone
    history([UserFactory(), UserFactory()])
    _, expected = settlement_groups()
    assert day_rows() == {key: tuple(figures) for key, figures in expected.items()}
    assert {key[0] for key in day_rows()} == DAYS[zone]
    assert rollup_mismatches() == []


def test_a_job_counts_once_by_its_outcome_and_a_failover_release_not_at_all(member):
    credits_grant(user=member, amount=10_000, actor=None)
    first = held(member, 200)
    credits_release(hold=first)  # a failover: the job goes on with a new hold
    second = credits_hold(
        user=member,
        amount=150,
        generation=first.generation,
        idempotency_key=f"hold:generation:{first.generation_id}:failover:aivideoapi",
    )
    end(second, "failed")
    end(held(member, 100), "canceled")
    end(held(member, 50), "succeeded")
    (row,) = SpendDay.objects.all()
    assert (row.captures, row.releases, row.failures, row.cancels) == (1, 3, 1, 1)
    assert SpendRollup.objects.get().failures == 1
    today = datetime.now(UTC).date()
    report = team_spend(
        first=today - timedelta(days=1), last=today + timedelta(days=1), period="day"
    )
    assert (report.jobs, report.succeeded, report.failed) == (3, 1, 1)
    assert rollup_mismatches() == []


def test_team_figures_from_spend_days_equal_those_from_each_member(settings):
    """The team path (SpendDay, AccountTotals) and the member filter path (SpendRollup)
    give the same figures: the members' sum to the team's."""
    settings.TIME_ZONE = "Asia/Tokyo"
    members = [UserFactory(), UserFactory(), UserFactory()]
    history(members)
    first, last = date(2026, 3, 1), date(2026, 3, 3)
    team = team_spend(first=first, last=last, period=Period.DAY)
    each = [team_spend(first=first, last=last, period=Period.DAY, user_id=m.pk) for m in members]
    for name in ("credits", "captures", "jobs", "succeeded", "failed"):
        assert getattr(team, name) == sum(getattr(r, name) for r in each) > 0, name
    assert [b.credits for b in team.buckets] == [
        sum(r.buckets[n].credits for r in each) for n in range(len(team.buckets))
    ]
    rows = {m.user_id: m for m in team.members}
    for member, report in zip(members, each, strict=True):
        (mine,) = report.members
        assert (rows[member.pk].credits, rows[member.pk].jobs) == (mine.credits, mine.jobs)


def test_ledger_check_reports_a_spend_day_that_disagrees_and_the_rebuild_mends_it(settings):
    history([UserFactory()])
    SpendDay.objects.filter(captures__gt=0).update(captured=1)
    with pytest.raises(CommandError):
        call_command("ledger_check")
    assert any("team spend day" in str(p) for p in rollup_mismatches())
    call_command("ledger_check", "--rebuild-spend-days")
    assert rollup_mismatches() == []


def test_a_time_zone_change_needs_the_rebuild(settings):
    history([UserFactory()])
    settings.TIME_ZONE = "Asia/Tokyo"
    assert any("team spend day" in str(p) for p in rollup_mismatches())
    assert spend_days_rebuild() == len(day_rows())
    assert rollup_mismatches() == []


def test_the_migration_backfills_outcomes_and_days_from_the_ledger(settings):
    settings.TIME_ZONE = "America/New_York"
    history([UserFactory(), UserFactory()])
    expected = day_rows()
    expected_rollup = sorted(SpendRollup.objects.values_list("pk", "failures", "cancels"))
    SpendDay.objects.all().delete()
    SpendRollup.objects.update(failures=0, cancels=0)
    migration.backfill(apps, None)
    assert day_rows() == expected
    assert sorted(SpendRollup.objects.values_list("pk", "failures", "cancels")) == expected_rollup
    assert sum(failures for _, failures, _ in expected_rollup) == 4  # 2 failed, 2 expired


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_settlements_of_many_members_keep_the_day_row_exact():
    """Every member's settlement adds to the same team row: the row lock serialises them."""
    members = [UserFactory() for _ in range(8)]
    holds = []
    for member in members:
        credits_grant(user=member, amount=10_000, actor=None)
        holds += [held(member, 40 + n) for n in range(3)]

    def settle(i: int) -> CreditEntry | None:
        return end(holds[i], "succeeded" if i % 3 else "failed")

    with time_machine.travel(LATE, tick=False):
        results = run_in_threads(settle, len(holds))
    assert all(isinstance(r, CreditEntry) for r in results), results
    (row,) = SpendDay.objects.filter(captures__gt=0)
    assert row.captures == sum(1 for i in range(len(holds)) if i % 3)
    assert rollup_mismatches() == []


def test_a_node_on_older_code_can_still_insert_rollup_rows(member):
    """The counters 0030 added have a database default: an INSERT that does not name them
    (a node still on older code during an upgrade) stores 0 instead of failing, which the
    old code's insert-or-update would have turned into a lost increment."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SpendRollup._meta.db_table} (slot, user_id, provider, mode, "
            "resolution, sound, captures, captured, releases, released) "
            "VALUES (%s, %s, 'apixo', 'text-to-video', '480p', %s, 1, 10, 0, 0)",
            [LATE, member.pk, False],
        )
        cursor.execute(
            f"INSERT INTO {SpendDay._meta.db_table} (day, provider, mode, resolution, sound, "
            "captures, captured, releases, released) "
            "VALUES (%s, 'apixo', 'text-to-video', '480p', %s, 1, 10, 0, 0)",
            [date(2026, 3, 1), False],
        )
    assert SpendRollup.objects.get().failures == SpendRollup.objects.get().cancels == 0
    assert SpendDay.objects.get().failures == 0
    SpendRollup.objects.all().delete()  # not the ledger's: leave the after-test check clean
    SpendDay.objects.all().delete()


@pytest.mark.parametrize("provider", [None, "apixo"])
def test_a_member_with_only_failed_jobs_is_in_the_table_with_or_without_a_provider_filter(
    provider,
):
    """The members' failed jobs add up to the team's, whichever path reads them."""
    gone = UserFactory(is_active=True)
    credits_grant(user=gone, amount=1_000, actor=None)
    end(held(gone, 100), "failed")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    today = datetime.now(UTC).date()
    report = team_spend(
        first=today - timedelta(days=1),
        last=today + timedelta(days=1),
        period="day",
        provider=provider,
    )
    (row,) = [m for m in report.members if m.user_id == gone.pk]
    assert (row.jobs, row.failed, row.credits) == (1, 1, 0)
    assert report.failed == sum(m.failed for m in report.members) == 1
    assert (gone.pk, gone.username) in report.users


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_ledger_check_reads_one_snapshot_on_postgresql(capsys, monkeypatch):
    """Outside a transaction the command runs in REPEATABLE READ: a capture committed after
    it streamed the ledger and before it read the rollups is in neither, not a mismatch."""
    from generations.selectors import ledger as ledger_selectors

    member = UserFactory()
    history([member])
    late = held(member, 77)
    real = ledger_selectors.settlement_groups

    def then_a_capture_commits():
        groups = real()
        run_in_threads(lambda _: end(late, "succeeded"), 1)  # another connection commits
        return groups

    monkeypatch.setattr(ledger_selectors, "settlement_groups", then_a_capture_commits)
    call_command("ledger_check")
    assert "Ledger OK" in capsys.readouterr().out
    assert CreditEntry.objects.filter(hold=late, kind="capture").exists()
