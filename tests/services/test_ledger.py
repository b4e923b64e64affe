"""Ledger services: every kind of entry, arithmetic, refusals and idempotency."""

import pytest

from generations.models import CreditAccount, CreditEntry, Generation
from generations.selectors.ledger import ledger_mismatches
from generations.services.ledger import (
    IdempotencyConflict,
    InsufficientCredits,
    credits_adjust,
    credits_capture,
    credits_grant,
    credits_hold,
    credits_release,
    credits_revoke,
)
from tests.factories import GenerationFactory, UserFactory

# These tests drive the ledger services alone: a job's hold is captured or released (or
# refused) while the job itself stays queued, which ledger_check rightly calls a mismatch.
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.broken_ledger(reason="ledger services without the job lifecycle"),
]


def account(user) -> tuple[int, int]:
    acc = CreditAccount.objects.get(user=user)
    return acc.balance, acc.held


def make_generation(user, price=80) -> Generation:
    """Return a job with no ledger entries yet: these tests write its hold themselves."""
    return GenerationFactory(user=user, duration=8, price_credits=price, hold=False)


def test_new_user_has_an_empty_account(member):
    assert account(member) == (0, 0)


def test_grant_revoke_adjust_arithmetic(member, manager):
    credits_grant(user=member, amount=1000, actor=manager, memo="welcome")
    assert account(member) == (1000, 0)
    credits_revoke(user=member, amount=300, actor=manager)
    assert account(member) == (700, 0)
    credits_adjust(user=member, amount=-50, actor=manager, memo="correction")
    credits_adjust(user=member, amount=20, actor=manager, memo="goodwill")
    assert account(member) == (670, 0)
    kinds = list(CreditEntry.objects.order_by("id").values_list("kind", "amount"))
    assert kinds == [("grant", 1000), ("revoke", -300), ("adjust", -50), ("adjust", 20)]
    assert CreditEntry.objects.filter(actor=manager).count() == 4
    assert ledger_mismatches() == []


def test_hold_then_capture(member):
    credits_grant(user=member, amount=100, actor=None)
    generation = make_generation(member)
    hold = credits_hold(user=member, amount=80, generation=generation)
    assert (hold.kind, hold.amount, hold.generation) == ("hold", -80, generation)
    assert account(member) == (20, 80)
    capture = credits_capture(hold=hold)
    assert (capture.kind, capture.amount, capture.hold) == ("capture", -80, hold)
    assert account(member) == (20, 0)


def test_hold_then_release_restores_the_balance(member):
    credits_grant(user=member, amount=100, actor=None)
    hold = credits_hold(user=member, amount=80, generation=make_generation(member))
    release = credits_release(hold=hold, memo="provider failed")
    assert (release.kind, release.amount) == ("release", 80)
    assert account(member) == (100, 0)


def test_one_settlement_per_hold(member):
    credits_grant(user=member, amount=100, actor=None)
    hold = credits_hold(user=member, amount=80, generation=make_generation(member))
    assert credits_capture(hold=hold) is not None
    assert credits_capture(hold=hold) is None
    assert credits_release(hold=hold) is None
    assert hold.settlements.count() == 1
    assert account(member) == (20, 0)


def test_insufficient_credits_writes_nothing(member):
    credits_grant(user=member, amount=50, actor=None)
    generation = make_generation(member)
    before = CreditEntry.objects.count()
    with pytest.raises(InsufficientCredits) as excinfo:
        credits_hold(user=member, amount=80, generation=generation)
    assert (excinfo.value.needed, excinfo.value.available) == (80, 50)
    assert "80" in str(excinfo.value) and "50" in str(excinfo.value)
    with pytest.raises(InsufficientCredits):
        credits_revoke(user=member, amount=51, actor=None)
    assert CreditEntry.objects.count() == before
    assert account(member) == (50, 0)


def test_reserved_credits_cannot_be_revoked(member):
    credits_grant(user=member, amount=100, actor=None)
    credits_hold(user=member, amount=80, generation=make_generation(member))
    with pytest.raises(InsufficientCredits):
        credits_revoke(user=member, amount=21, actor=None)


@pytest.mark.parametrize("amount", [0, -5, 1.5, True, "10"])
def test_grant_refuses_non_positive_or_non_integer_amounts(member, amount):
    with pytest.raises(ValueError):
        credits_grant(user=member, amount=amount, actor=None)
    assert CreditEntry.objects.count() == 0


def test_adjust_needs_a_memo_and_a_non_zero_amount(member):
    with pytest.raises(ValueError):
        credits_adjust(user=member, amount=10, actor=None, memo=" ")
    with pytest.raises(ValueError):
        credits_adjust(user=member, amount=0, actor=None, memo="x")
    assert CreditEntry.objects.count() == 0


def test_idempotency_key_reuse_returns_the_first_entry(member):
    first = credits_grant(user=member, amount=100, actor=None, idempotency_key="invite-42")
    again = credits_grant(user=member, amount=100, actor=None, idempotency_key="invite-42")
    assert again.pk == first.pk
    assert account(member) == (100, 0)


def test_idempotency_key_reuse_with_other_terms_is_refused(member):
    credits_grant(user=member, amount=100, actor=None, idempotency_key="invite-43")
    with pytest.raises(IdempotencyConflict):
        credits_grant(user=member, amount=999, actor=None, idempotency_key="invite-43")
    other = UserFactory()
    with pytest.raises(IdempotencyConflict):
        credits_grant(user=other, amount=100, actor=None, idempotency_key="invite-43")
    assert account(member) == (100, 0)
    assert account(other) == (0, 0)


def test_a_generation_is_held_once(member):
    credits_grant(user=member, amount=500, actor=None)
    generation = make_generation(member)
    first = credits_hold(user=member, amount=80, generation=generation)
    second = credits_hold(user=member, amount=80, generation=generation)
    assert first.pk == second.pk
    assert account(member) == (420, 80)


def test_entries_refuse_update_and_delete_in_python(member):
    from generations.models.ledger import AppendOnlyError

    entry = credits_grant(user=member, amount=10, actor=None)
    entry.memo = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
