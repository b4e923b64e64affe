"""Audit rows on PostgreSQL: a grant's "before" is the balance it really started from.

A second grant to the same member committing between a team grant's read of the balance and
its ledger entry made the audit row claim a larger step than the grant (before 500, after
700 for a grant of 100). The before value is now read on the locked account row.
"""

import threading

import pytest

from generations.models import AuditEntry, CreditAccount
from generations.services import team as team_services
from generations.services.ledger import credits_grant
from generations.services.team import team_credits_grant

from ..conftest import requires_postgres
from ..factories import ManagerFactory, UserFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def test_a_concurrent_grant_cannot_slip_between_the_before_read_and_the_grant(monkeypatch):
    from django.db import connections

    member = UserFactory(username="ana", credits=500)
    boss = ManagerFactory(username="boss")
    paused, resume = threading.Event(), threading.Event()
    real_grant = team_services.credits_grant

    def grant_after_a_pause(**kwargs):
        paused.set()  # the team grant has read "before"
        resume.wait(timeout=10)
        return real_grant(**kwargs)

    monkeypatch.setattr(team_services, "credits_grant", grant_after_a_pause)

    def team_grant():
        try:
            team_credits_grant(users=[member], amount=100, actor=boss, memo="team")
        finally:
            connections.close_all()

    def other_grant():
        try:
            credits_grant(user=member, amount=200, actor=None, memo="other")
        finally:
            connections.close_all()

    first = threading.Thread(target=team_grant)
    first.start()
    assert paused.wait(timeout=10)
    second = threading.Thread(target=other_grant)
    second.start()
    second.join(timeout=1.0)  # it waits for the team grant's lock (after the fix)
    resume.set()
    first.join(timeout=10)
    second.join(timeout=10)

    audit = AuditEntry.objects.get(action="grant", memo="team")
    assert audit.after["balance"] - audit.before["balance"] == 100, (audit.before, audit.after)
    assert CreditAccount.objects.get(user=member).balance == 800


def test_the_same_form_sent_twice_at_once_grants_once():
    """Two requests carrying one form's token, in parallel: one grant, one audit row."""
    from generations.services.team import TeamRequestRepeated

    from ..concurrency import run_in_threads

    members = [UserFactory(username="ana"), UserFactory(username="bo")]
    boss = ManagerFactory(username="boss")

    def send(i: int) -> int:
        return team_credits_grant(
            users=members, amount=100, actor=boss, memo="twice", request_token="ab" * 16
        )

    results = run_in_threads(send, 4)

    assert [r for r in results if not isinstance(r, TeamRequestRepeated)] == [2], results
    assert [CreditAccount.objects.get(user=m).balance for m in members] == [100, 100]
    assert AuditEntry.objects.filter(memo="twice").count() == 2
