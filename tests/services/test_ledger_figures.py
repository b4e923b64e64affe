"""The ledger's stored figures: ``balance_after`` on each entry and the ``SpendRollup``.

docs/architecture.md "Stored figures": both are written in the transaction of the entry, under
the account lock, and ``ledger_check`` compares them with the entries.
"""

import importlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from generations import db
from generations.models import CreditAccount, CreditEntry, Generation, SpendRollup
from generations.models.ledger import spend_slot
from generations.selectors.ledger import (
    balance_after_mismatches,
    ledger_mismatches,
    rollup_mismatches,
)
from generations.services.ledger import (
    credits_adjust,
    credits_capture,
    credits_grant,
    credits_hold,
    credits_release,
    credits_revoke,
)
from tests.concurrency import run_in_threads
from tests.conftest import requires_postgres
from tests.factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("generations.migrations.0020_ledger_figures")
outcomes_migration = importlib.import_module("generations.migrations.0030_spend_day")
START = datetime(2026, 3, 2, 9, 7, tzinfo=UTC)


def job(user, price, **fields):
    generation = GenerationFactory(user=user, price_credits=price, hold=False, **fields)
    return credits_hold(user=user, amount=price, generation=generation)


def capture(hold):
    """Capture ``hold`` and mark its job succeeded, as the lifecycle does."""
    entry = credits_capture(hold=hold)
    Generation.objects.filter(pk=hold.generation_id).update(state="succeeded")
    return entry


def release(hold):
    """Release ``hold`` and mark its job failed, as the lifecycle does."""
    entry = credits_release(hold=hold, outcome="failed")
    Generation.objects.filter(pk=hold.generation_id).update(state="failed")
    return entry


def mixed_history():
    """Two members: grants, a revoke, an adjustment, holds captured, released and open,
    on both providers and several modes, across quarter hours."""
    members = [UserFactory(), UserFactory()]
    for n, member in enumerate(members):
        for step in range(12):
            with time_machine.travel(START + timedelta(minutes=7 * step + n), tick=False):
                if step == 0:
                    credits_grant(user=member, amount=100_000, actor=None)
                elif step == 5:
                    credits_revoke(user=member, amount=300, actor=None)
                elif step == 8:
                    credits_adjust(user=member, amount=-45, actor=None, memo="correction")
                else:
                    hold = job(
                        member,
                        40 + 10 * step,
                        mode="image-to-video" if step % 3 else "text-to-video",
                        resolution="720p" if step % 2 else "480p",
                        sound=bool(step % 4),
                        provider="aivideoapi" if step % 5 == 1 else "apixo",
                    )
                    if step % 4 == 1:
                        release(hold)
                    elif step % 4 != 3:
                        capture(hold)
    return members


def ledger_groups() -> dict[tuple, list[int]]:
    """The captures and releases grouped per quarter hour, member, provider, mode,
    resolution and sound, replayed in Python from model instances."""
    groups: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for entry in CreditEntry.objects.filter(kind__in=["capture", "release"]):
        g = entry.generation
        key = (spend_slot(entry.created_at), entry.account.user_id, g.provider, g.mode)
        counts = groups[(*key, g.resolution, g.sound)]
        if entry.kind == "capture":
            counts[0] += 1
            counts[1] += -entry.amount
        else:
            counts[2] += 1
            counts[3] += entry.amount
    return dict(groups)


def rollup_groups() -> dict[tuple, list[int]]:
    return {
        (r.slot, r.user_id, r.provider, r.mode, r.resolution, r.sound): [
            r.captures,
            r.captured,
            r.releases,
            r.released,
        ]
        for r in SpendRollup.objects.all()
    }


def replayed_balances() -> dict[int, int]:
    running, result = defaultdict(int), {}
    for entry in CreditEntry.objects.order_by("id"):
        running[entry.account_id] += entry.balance_delta
        result[entry.pk] = running[entry.account_id]
    return result


def test_each_entry_stores_the_balance_after_it(member):
    credits_grant(user=member, amount=500, actor=None)
    hold = job(member, 120)
    assert hold.balance_after == 380
    captured = capture(hold)
    assert captured.balance_after == 380
    released = release(job(member, 80))
    assert released.balance_after == 380
    assert CreditAccount.objects.get(user=member).balance == 380
    stored = dict(CreditEntry.objects.values_list("pk", "balance_after"))
    assert stored == replayed_balances()


def test_the_rollup_equals_the_ledger_after_a_mixed_history():
    mixed_history()
    groups = ledger_groups()
    assert len(groups) > 6
    assert rollup_groups() == groups
    assert sum(c[0] for c in groups.values()) > 0 and sum(c[2] for c in groups.values()) > 0
    assert balance_after_mismatches() == [] and rollup_mismatches() == []


def test_a_settlement_that_rolls_back_leaves_the_rollup_alone(member):
    credits_grant(user=member, amount=500, actor=None)
    hold = job(member, 100)
    with pytest.raises(RuntimeError), transaction.atomic():
        capture(hold)
        raise RuntimeError("the caller's transaction fails")
    assert not SpendRollup.objects.exists()
    assert capture(hold) is not None
    assert capture(hold) is None  # settled once: counted once
    assert rollup_groups() == ledger_groups()
    assert SpendRollup.objects.get().captures == 1


@pytest.mark.broken_ledger(reason="writes a wrong rollup row on purpose")
def test_ledger_check_reports_a_rollup_that_disagrees_with_the_ledger(member, capsys):
    credits_grant(user=member, amount=500, actor=None)
    capture(job(member, 100))
    SpendRollup.objects.update(captured=99)
    problems = [str(p) for p in ledger_mismatches()]
    assert len(problems) == 1 and problems[0].startswith("spend rollup ")
    assert "stored captures=1, captured=99" in problems[0]
    assert "ledger gives captures=1, captured=100" in problems[0]
    with pytest.raises(CommandError):
        call_command("ledger_check")
    assert "MISMATCH spend rollup" in capsys.readouterr().err


@pytest.mark.broken_ledger(reason="a rollup row with no settlement behind it")
def test_ledger_check_reports_a_rollup_row_the_ledger_lacks(member):
    SpendRollup.objects.create(
        slot=spend_slot(START),
        user=member,
        provider="apixo",
        mode="text-to-video",
        resolution="480p",
        sound=False,
        captures=1,
        captured=40,
    )
    assert [p.subject for p in rollup_mismatches()] == [
        f"spend rollup 2026-03-02 09:00 UTC, user {member.pk}, apixo/text-to-video/480p/sound off"
    ]


@pytest.mark.broken_ledger(reason="writes an entry with a wrong balance_after on purpose")
def test_ledger_check_reports_a_wrong_balance_after(member, capsys):
    credits_grant(user=member, amount=500, actor=None)
    account = CreditAccount.objects.get(user=member)
    wrong = CreditEntry.objects.create(
        account=account, kind="grant", amount=100, idempotency_key="raw", balance_after=650
    )
    CreditAccount.objects.filter(pk=account.pk).update(balance=600)
    problems = [str(p) for p in ledger_mismatches()]
    # The raw entry also bypassed the account totals, which ledger_check reports too.
    assert problems[0] == f"entry {wrong.pk}: stored balance_after=650, entries give 600"
    assert len(problems) == 2 and problems[1].startswith(f"account totals of account {account.pk}")
    with pytest.raises(CommandError):
        call_command("ledger_check")
    assert f"MISMATCH entry {wrong.pk}: stored balance_after=650" in capsys.readouterr().err


class CursorEditor:
    """The part of a schema editor the backfill uses, on the test's own connection."""

    connection = connection

    def execute(self, sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)


def test_the_migration_backfill_recomputes_both_figures_from_the_ledger():
    mixed_history()
    expected_rollup = rollup_groups()
    SpendRollup.objects.all().delete()
    vendor = connection.vendor
    with connection.cursor() as cursor:  # forget every balance_after, past the guard
        for sql in {"sqlite": db.SQLITE_REMOVE, "postgresql": db.POSTGRES_REMOVE}[vendor]:
            cursor.execute(sql)
        cursor.execute(f"UPDATE {db.TABLE} SET balance_after = NULL")
        for sql in {"sqlite": db.SQLITE_INSTALL, "postgresql": db.POSTGRES_INSTALL}[vendor]:
            cursor.execute(sql)
    assert len(balance_after_mismatches()) == CreditEntry.objects.count()
    editor = CursorEditor()
    migration.backfill_balance_after(apps, editor)
    migration.backfill_spend_rollup(apps, editor)
    outcomes_migration.backfill_outcomes(apps, editor)  # 0030 adds the jobs by outcome
    assert dict(CreditEntry.objects.values_list("pk", "balance_after")) == replayed_balances()
    assert rollup_groups() == expected_rollup == ledger_groups()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        CreditEntry.objects.update(balance_after=0)  # the guard is back


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_captures_of_one_member_in_one_quarter_hour_keep_the_rollup_exact():
    members = [UserFactory(), UserFactory()]
    holds = []
    for member in members:
        credits_grant(user=member, amount=100_000, actor=None)
        holds += [job(member, 40 + n) for n in range(8)]

    def settle(i: int):
        hold = holds[i]
        if i % 3:
            return capture(hold)
        return release(hold)

    with time_machine.travel(START, tick=False):
        results = run_in_threads(settle, len(holds))
    assert all(isinstance(r, CreditEntry) for r in results), results
    assert SpendRollup.objects.count() == len(members)  # one group per member
    assert rollup_groups() == ledger_groups()
    assert ledger_mismatches() == []
