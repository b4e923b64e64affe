"""E-mails write credits and US$ as the pages do (docs/formats.md "Money")."""

import pytest
from django.core import mail

from generations.services.ledger import credits_hold
from generations.services.notifications import generation_finished_notify

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # notices go out on commit


def test_a_finished_job_mail_shows_grouped_credits_and_dollars():
    generation = GenerationFactory(state="succeeded", price_credits=12_345)
    assert generation_finished_notify(generation_id=generation.pk)
    assert "12,345 credits (US$12.35) were charged." in mail.outbox[0].body


def test_a_failed_job_mail_shows_the_refund_the_same_way():
    generation = GenerationFactory(state="failed", price_credits=1_500, fail_message="Refused.")
    assert generation_finished_notify(generation_id=generation.pk)
    body = mail.outbox[0].body
    assert "The 1,500 reserved credits (US$1.50) were returned to your balance." in body


def test_the_low_balance_mail_groups_the_balance_and_the_threshold():
    member = UserFactory(credits=20_000, low_balance_threshold=10_000)
    mail.outbox.clear()
    credits_hold(user=member, amount=12_500, generation=GenerationFactory(user=member, hold=False))
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "you have 7,500 credits available (US$7.50), under the 10,000 you asked" in body
