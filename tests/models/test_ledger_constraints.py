"""Database-level guarantees of the ledger: raw SQL cannot rewrite history or go negative."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from generations.models import CreditEntry
from generations.services.ledger import credits_grant
from tests.factories import GenerationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(member):
    return credits_grant(user=member, amount=100, actor=None, memo="original")


def test_raw_update_of_an_entry_fails(entry):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE generations_creditentry SET amount = 1000000 WHERE id = %s", [entry.pk]
        )
    assert CreditEntry.objects.get(pk=entry.pk).amount == 100


def test_raw_delete_of_an_entry_fails(entry):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM generations_creditentry WHERE id = %s", [entry.pk])
    assert CreditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("column", ["balance", "held"])
def test_raw_update_making_the_account_negative_fails(entry, column):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE generations_creditaccount SET {column} = -1 WHERE id = %s",
            [entry.account_id],
        )


def test_an_entry_with_the_wrong_sign_for_its_kind_fails(entry):
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditEntry.objects.create(
            account=entry.account, kind="grant", amount=-5, idempotency_key="bad-sign"
        )


@pytest.mark.broken_ledger(reason="captures a queued job's hold to test the constraint")
def test_a_second_settlement_of_a_hold_fails_in_the_database(member):
    from generations.services.ledger import credits_capture, credits_hold

    credits_grant(user=member, amount=100, actor=None)
    generation = GenerationFactory(user=member)
    hold = credits_hold(user=member, amount=40, generation=generation)
    credits_capture(hold=hold)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditEntry.objects.create(
            account=hold.account, kind="release", amount=40, hold=hold, idempotency_key="dup"
        )
