"""E-mail notices: a finished job (opt-out on the profile) and a low balance, once each."""

import pytest
from django.core import mail

from generations.services.ledger import credits_grant, credits_hold
from generations.services.notifications import generation_finished_notify

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # notices go out on commit


def test_falling_under_the_threshold_mails_once_until_topped_up():
    member = UserFactory(credits=1000, low_balance_threshold=500)
    mail.outbox.clear()
    for price in (300, 300, 100):  # 700, 400 (notice), 300 (no second notice)
        job = GenerationFactory(user=member, hold=False)
        credits_hold(user=member, amount=price, generation=job)
    assert [m.subject for m in mail.outbox] == ["Your Seedance Studio credits are running low"]
    assert "400 credits available" in mail.outbox[0].body
    credits_grant(user=member, amount=1000, actor=None)  # back over: the flag resets
    credits_hold(user=member, amount=900, generation=GenerationFactory(user=member, hold=False))
    assert len(mail.outbox) == 2


def test_no_threshold_no_mail():
    member = UserFactory(credits=100)
    credits_hold(user=member, amount=90, generation=GenerationFactory(user=member, hold=False))
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("state", "subject"),
    [("succeeded", "is ready"), ("failed", "failed"), ("expired", "expired")],
)
def test_a_finished_job_mails_its_owner(state, subject):
    generation = GenerationFactory(state=state, fail_message="The provider refused it.")
    assert generation_finished_notify(generation_id=generation.pk)
    assert subject in mail.outbox[0].subject
    assert generation.get_absolute_url() in mail.outbox[0].body


def test_members_who_opted_out_get_nothing():
    generation = GenerationFactory(state="succeeded", user=UserFactory(notify_on_finish=False))
    assert not generation_finished_notify(generation_id=generation.pk)
    canceled = GenerationFactory(state="canceled")
    assert not generation_finished_notify(generation_id=canceled.pk)
    assert mail.outbox == []
