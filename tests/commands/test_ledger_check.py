"""``ledger_check`` and ``grant_credits``: exit codes and what they print."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from generations.models import CreditAccount, Generation
from generations.selectors.ledger import ledger_mismatches
from generations.services.ledger import credits_grant, credits_release
from tests.factories import GenerationFactory

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
