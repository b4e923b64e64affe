"""The accounts' cumulative per-kind totals (``AccountTotals``) and the statement totals
read from them.

docs/architecture.md "Stored figures": every entry adds to its account's row of its quarter
hour and to any later row, in its transaction, under the account lock; the statement's
totals of a range are the difference of two rows; ``ledger_check`` recomputes every row.
"""

import importlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from generations.models import AccountTotals, CreditEntry
from generations.models.ledger import spend_slot
from generations.selectors.ledger import account_totals_mismatches, ledger_mismatches
from generations.selectors.reports import _summed_totals, statement_totals
from generations.services.ledger import credits_grant, credits_revoke

from .test_ledger_figures import START, mixed_history

pytestmark = pytest.mark.django_db

migration = importlib.import_module("generations.migrations.0028_perf_figures_account_totals")
KINDS = [kind for kind, _, _ in AccountTotals.FIGURES]


def recomputed() -> dict[tuple, dict[str, int]]:
    """Replay every entry from model instances: per account and quarter hour with entries,
    the cumulative count and credits of each kind up to the end of that quarter hour."""
    entries = list(CreditEntry.objects.order_by("account_id", "created_at", "id"))
    result: dict[tuple, dict[str, int]] = {}
    for entry in entries:
        key = (entry.account_id, spend_slot(entry.created_at))
        if key in result:
            continue
        end = key[1] + timedelta(minutes=15)
        mine = [e for e in entries if e.account_id == key[0] and e.created_at < end]
        figures = {}
        for kind in KINDS:
            of_kind = [e.amount for e in mine if e.kind == kind]
            figures[f"{kind}_count"], figures[f"{kind}_credits"] = len(of_kind), sum(of_kind)
        result[key] = figures
    return result


def stored() -> dict[tuple, dict[str, int]]:
    names = AccountTotals.field_names()
    return {
        (row["account_id"], row["slot"]): {name: row[name] for name in names}
        for row in AccountTotals.objects.values("account_id", "slot", *names)
    }


def test_the_services_keep_the_totals_equal_to_the_ledger():
    mixed_history()
    want = recomputed()
    assert len(want) > 10
    assert stored() == want
    assert account_totals_mismatches() == []


def test_an_entry_dated_before_later_ones_updates_every_later_row(member):
    """A clock stepping back writes an entry dated before the account's latest row: the
    row of its quarter hour is made from the one before it, and later rows include it."""
    with time_machine.travel(START + timedelta(hours=2), tick=False):
        credits_grant(user=member, amount=1000, actor=None)
    with time_machine.travel(START, tick=False):
        credits_grant(user=member, amount=300, actor=None)
    with time_machine.travel(START - timedelta(hours=1), tick=False):
        credits_revoke(user=member, amount=50, actor=None)
    assert stored() == recomputed()
    latest = AccountTotals.objects.get(slot=spend_slot(START + timedelta(hours=2)))
    assert (latest.grant_count, latest.grant_credits) == (2, 1300)
    assert (latest.revoke_count, latest.revoke_credits) == (1, -50)


def test_statement_totals_from_two_rows_equal_the_entries_summed():
    members = mixed_history()  # entries from 09:07 to 10:24 UTC
    quarter = spend_slot(START)
    day = quarter.replace(hour=0)
    bounds = [
        (None, None),
        (day, None),
        (None, quarter + timedelta(minutes=45)),
        (quarter + timedelta(minutes=15), quarter + timedelta(minutes=60)),
        (quarter + timedelta(minutes=30), quarter + timedelta(minutes=30)),
        (day + timedelta(days=1), None),  # after every entry
    ]
    for member in members:
        for start, end in bounds:
            for kinds in ([], ["capture"], ["hold", "release"], ["grant", "revoke", "adjust"]):
                args = {"user": member, "start": start, "end": end, "kinds": kinds}
                with CaptureQueriesContext(connection) as queries:
                    totals = statement_totals(**args)
                assert not any("creditentry" in q["sql"] for q in queries.captured_queries)
                assert totals == _summed_totals(**args), args
    middle = statement_totals(user=members[0], start=quarter + timedelta(minutes=15))
    assert 0 < middle.entries < statement_totals(user=members[0]).entries


def test_statement_totals_off_the_quarter_hour_are_summed(member, django_assert_num_queries):
    with time_machine.travel(START, tick=False):
        credits_grant(user=member, amount=500, actor=None)
    with time_machine.travel(START + timedelta(minutes=3), tick=False):
        credits_grant(user=member, amount=70, actor=None)
    # 09:07 and 09:10 UTC share a quarter hour; a bound between them needs the entries.
    between = START + timedelta(minutes=2)
    with django_assert_num_queries(1):
        totals = statement_totals(user=member, start=between)
    assert (totals.entries, totals.balance_change) == (1, 70)


@pytest.mark.broken_ledger(reason="changes an account totals row on purpose")
def test_ledger_check_reports_a_wrong_or_missing_totals_row(member):
    with time_machine.travel(START, tick=False):
        credits_grant(user=member, amount=500, actor=None)
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        credits_grant(user=member, amount=20, actor=None)
    first = AccountTotals.objects.order_by("slot").first()
    AccountTotals.objects.filter(pk=first.pk).update(grant_credits=499)
    AccountTotals.objects.exclude(pk=first.pk).delete()
    problems = [str(p) for p in ledger_mismatches()]
    assert len(problems) == 2
    assert problems[0].startswith(
        f"account totals of account {first.account_id} to 2026-03-02 09:00 UTC: "
        "stored grant_count=1, grant_credits=499,"
    )
    assert "entries give grant_count=1, grant_credits=500," in problems[0]
    assert "10:00 UTC: stored no row; entries give grant_count=2, grant_credits=520" in problems[1]


def test_the_migration_backfill_recomputes_the_totals_from_the_ledger():
    members = mixed_history()
    with time_machine.travel(START - timedelta(days=1), tick=False):  # an entry out of order
        credits_grant(user=members[0], amount=5, actor=None)
    written = stored()
    AccountTotals.objects.all().delete()
    migration.backfill_account_totals(apps, None)
    assert stored() == written == recomputed()


def test_the_backfill_writes_rows_in_batches(monkeypatch, member):
    monkeypatch.setattr(migration, "BATCH", 2)
    for minutes in range(0, 90, 15):
        with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(minutes=minutes)):
            credits_grant(user=member, amount=10 + minutes, actor=None)
    written = stored()
    AccountTotals.objects.all().delete()
    migration.backfill_account_totals(apps, None)
    assert len(stored()) == 6
    assert stored() == written == recomputed()
