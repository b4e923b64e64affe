"""``ledger_check`` and ``grant_credits``: exit codes and what they print."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from generations.models import CreditAccount, CreditEntry, Generation
from generations.selectors.ledger import ledger_mismatches
from generations.services.ledger import (
    credits_capture,
    credits_grant,
    credits_hold,
    credits_release,
)
from generations.services.lifecycle import Outcome, generation_finalize
from tests.factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_ledger_check_passes_on_a_consistent_ledger(member, capsys):
    credits_grant(user=member, amount=500, actor=None)
    call_command("ledger_check")
    assert "Ledger OK" in capsys.readouterr().out


@pytest.mark.broken_ledger(reason="corrupts an account to see the check fail")
def test_ledger_check_detects_a_corrupted_account_and_exits_1(member, capsys):
    credits_grant(user=member, amount=500, actor=None)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE generations_creditaccount SET balance = 900 WHERE user_id = %s", [member.pk]
        )
    with pytest.raises(CommandError) as excinfo:
        call_command("ledger_check")
    assert excinfo.value.returncode == 1
    err = capsys.readouterr().err
    assert f"account of {member.username}" in err
    assert "stored balance=900" in err and "balance=500" in err


@pytest.mark.broken_ledger(reason="a job in flight without a hold, on purpose")
@pytest.mark.parametrize("state", Generation.State.in_flight())
def test_ledger_check_flags_a_job_in_flight_that_never_got_a_hold(member, capsys, state):
    GenerationFactory(user=member, state="succeeded")  # consistent: held, then captured
    broken = GenerationFactory(user=member, state=state, hold=False)
    with pytest.raises(CommandError) as excinfo:
        call_command("ledger_check")
    assert excinfo.value.returncode == 1
    err = capsys.readouterr().err
    assert f"generation {broken.pk}: is {state} but has 0 open holds" in err
    assert err.count("MISMATCH") == 1


@pytest.mark.broken_ledger(reason="a job in flight whose hold is released, on purpose")
def test_ledger_check_flags_a_job_in_flight_whose_only_hold_was_released(member, capsys):
    generation = GenerationFactory(user=member, state="submitted")
    credits_release(hold=generation.credit_entries.get(kind="hold"))
    with pytest.raises(CommandError):
        call_command("ledger_check")
    err = capsys.readouterr().err
    assert f"generation {generation.pk}: is submitted but has 0 open holds" in err


@pytest.mark.parametrize("state", Generation.State.values)
def test_factory_jobs_carry_the_ledger_entries_of_their_state(member, state):
    generation = GenerationFactory(user=member, state=state)
    kinds = list(generation.credit_entries.order_by("id").values_list("kind", flat=True))
    settled = {"succeeded": ["capture"], "failed": ["release"], "canceled": ["release"]}
    settled["expired"] = ["release"]
    assert kinds == ["hold", *settled.get(state, [])]
    assert ledger_mismatches() == []


def test_grant_credits_command(member, capsys):
    call_command("grant_credits", member.username, "1500", "--memo", "monthly budget")
    assert CreditAccount.objects.get(user=member).balance == 1500
    assert "1,500" in capsys.readouterr().out
    entry = member.credit_account.entries.get()
    assert (entry.kind, entry.memo) == ("grant", "monthly budget")


@pytest.mark.parametrize(
    ("args", "message"),
    [(["nobody", "10"], "No user named"), (["{user}", "0"], "positive whole number")],
)
def test_grant_credits_refuses_bad_input(member, args, message):
    args = [a.format(user=member.username) for a in args]
    with pytest.raises(CommandError, match=message):
        call_command("grant_credits", *args)
    assert CreditAccount.objects.get(user=member).balance == 0


@pytest.mark.broken_ledger(reason="a succeeded job whose hold was refunded, on purpose")
def test_ledger_check_flags_a_succeeded_job_that_was_never_captured(member, capsys):
    generation = GenerationFactory(user=member, state="submitted")
    credits_release(hold=generation.credit_entries.get(kind="hold"))
    Generation.objects.filter(pk=generation.pk).update(state="succeeded")
    with pytest.raises(CommandError):
        call_command("ledger_check")
    err = capsys.readouterr().err
    assert f"generation {generation.pk}: succeeded with 0 captures, not 1" in err


@pytest.mark.broken_ledger(reason="a failed job that was charged, on purpose")
@pytest.mark.parametrize("state", ["failed", "canceled", "expired"])
def test_ledger_check_flags_an_unsuccessful_job_that_was_captured(member, capsys, state):
    generation = GenerationFactory(user=member, state="succeeded")
    Generation.objects.filter(pk=generation.pk).update(state=state)
    with pytest.raises(CommandError):
        call_command("ledger_check")
    err = capsys.readouterr().err
    assert f"generation {generation.pk}: is {state} but was captured" in err
    assert err.count("MISMATCH") == 1


@pytest.mark.broken_ledger(reason="a settlement written on another member's account")
def test_ledger_check_flags_a_settlement_on_another_account(member, capsys):
    other = UserFactory()
    credits_grant(user=other, amount=100, actor=None)
    generation = GenerationFactory(user=member, state="submitted")
    hold = generation.credit_entries.get(kind="hold")
    # What a bug that settled on the wrong account would write: the hold's settlement, but on
    # the other member's account (stored figures moved to match, so only this check sees it).
    capture = CreditEntry.objects.create(
        account=other.credit_account,
        kind="capture",
        amount=hold.amount,
        generation=generation,
        hold=hold,
        idempotency_key=f"settle:hold:{hold.pk}",
    )
    Generation.objects.filter(pk=generation.pk).update(state="succeeded")
    with pytest.raises(CommandError):
        call_command("ledger_check")
    err = capsys.readouterr().err
    assert f"entry {capture.pk}: capture is not on the account and job of hold {hold.pk}" in err


@pytest.mark.broken_ledger(reason="a capture of a failed-over job's first hold")
def test_ledger_check_flags_a_capture_of_a_hold_that_is_not_the_latest(member, capsys):
    generation = GenerationFactory(user=member, state="submitted")
    first = generation.credit_entries.get(kind="hold")
    credits_grant(user=member, amount=40, actor=None)
    credits_hold(user=member, amount=40, generation=generation, idempotency_key="failover:x")
    credits_capture(hold=first)
    with pytest.raises(CommandError):
        call_command("ledger_check")
    err = capsys.readouterr().err
    assert f"captures a hold that is not generation {generation.pk}'s last" in err


@pytest.mark.broken_ledger(reason="a job in flight whose hold was released, on purpose")
def test_a_job_whose_hold_is_already_settled_is_parked_and_the_sweep_goes_on(member):
    """Review finding: finalizing such a job raised from the sweeper, which stopped every
    dispatcher pass. Now it is parked for a manager, and the other jobs are handled."""
    from datetime import timedelta

    from django.utils import timezone

    from generations.models import ProviderAlert
    from generations.services.dispatch import dispatch_pass

    past = timezone.now() - timedelta(minutes=1)
    broken = GenerationFactory(user=member, state="submitted", deadline_at=past)
    credits_release(hold=broken.credit_entries.get(kind="hold"))
    healthy = GenerationFactory(user=member, state="submitted", deadline_at=past)
    entries_before = CreditEntry.objects.count()

    assert not generation_finalize(
        generation_id=broken.pk,
        outcome=Outcome(state="succeeded", result_url="https://cdn.example.com/v.mp4"),
    )
    report = dispatch_pass()
    dispatch_pass()

    broken.refresh_from_db()
    assert (broken.state, broken.result_url, broken.next_action_at) == ("submitted", "", None)
    assert broken.fail_code == "LEDGER_MISMATCH"
    assert report.sweep.expired == 1  # the healthy job still expires, with its release
    healthy.refresh_from_db()
    assert healthy.state == "expired"
    assert CreditEntry.objects.count() == entries_before + 1
    alert = ProviderAlert.objects.get(kind="ledger_mismatch")
    assert alert.count == 1  # parked once, not again at every pass
