"""Ask a manager for credits (docs/architecture.md "Asking a manager for credits"): the portal
e-mails the active managers itself, at most once an hour per member, and never shows their
addresses to the member."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from generations.models import User
from generations.services.ledger import credits_grant
from generations.services.notifications import credits_request
from tests.factories import ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = reverse("generations:credits_request")


@pytest.fixture
def boss():
    return ManagerFactory(email="boss@example.com")


def ask(client, **data):
    return client.post(URL, data, HTTP_ACCEPT="application/json")


def test_asking_e_mails_each_active_manager_with_the_members_figures(
    member_client, member, boss, django_capture_on_commit_callbacks
):
    ManagerFactory(email="deputy@example.com")
    ManagerFactory(email="gone@example.com", is_active=False)
    ManagerFactory(email="")
    credits_grant(user=member, amount=1234, actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        data = ask(member_client, credits="1600").json()
    assert data["sent"] is True
    assert "@" not in data["message"]
    assert sorted(m.to[0] for m in mail.outbox) == ["boss@example.com", "deputy@example.com"]
    message = mail.outbox[0]
    assert member.username in message.subject
    assert "1,600 credits" in message.body  # the price they wanted
    assert "Available: 1,234 credits" in message.body
    assert reverse("team:members") in message.body
    # Each manager gets a message of their own: no manager's address is shown to another.
    assert all(len(m.to) == 1 and not m.cc and not m.bcc for m in mail.outbox)


def test_a_second_request_within_the_hour_sends_nothing(
    member_client, member, boss, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert ask(member_client).json()["sent"] is True
        again = ask(member_client).json()
    assert again["sent"] is False
    assert "already asked" in again["message"]
    assert len(mail.outbox) == 1


def test_the_interval_is_claimed_in_the_database_so_it_holds_across_nodes(member, boss):
    now = timezone.now()
    assert credits_request(user=member, credits=None, now=now)
    assert not credits_request(user=member, credits=None, now=now + timedelta(minutes=59))
    assert credits_request(user=member, credits=None, now=now + timedelta(minutes=61))
    member.refresh_from_db()
    assert member.credits_requested_at == now + timedelta(minutes=61)


def test_without_a_reachable_manager_nothing_is_claimed_and_the_member_is_told(
    member_client, member
):
    ManagerFactory(email="gone@example.com", is_active=False)
    data = ask(member_client).json()
    assert data["sent"] is False
    assert "ask one in person" in data["message"]
    assert User.objects.get(pk=member.pk).credits_requested_at is None


def test_a_manager_is_not_e_mailed_about_their_own_request(
    client, django_capture_on_commit_callbacks
):
    manager = ManagerFactory(email="self@example.com")
    other = ManagerFactory(email="other@example.com")
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        assert ask(client).json()["sent"] is True
    assert [m.to for m in mail.outbox] == [[other.email]]


def test_without_javascript_the_button_posts_and_comes_back_with_a_message(
    member_client, boss, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(URL, {"next": "/new/?mode=text-to-video"}, follow=True)
    assert response.redirect_chain == [("/new/?mode=text-to-video", 302)]
    assert "Your managers have been asked for credits" in response.content.decode()
    assert len(mail.outbox) == 1


def test_an_offsite_next_goes_to_the_form_instead(member_client, boss):
    response = member_client.post(URL, {"next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == reverse("generations:new")


def test_get_is_refused_and_anonymous_users_are_sent_to_log_in(client, boss):
    member = UserFactory()
    client.force_login(member)
    assert client.get(URL).status_code == 405
    client.logout()
    response = client.post(URL)
    assert response.status_code == 302 and "login" in response["Location"]
    assert User.objects.get(pk=member.pk).credits_requested_at is None


def test_the_form_page_offers_the_button_but_never_an_address(member_client, boss):
    page = member_client.get(reverse("generations:new")).content.decode()
    assert 'id="ask-manager-form"' in page
    assert "boss@example.com" not in page
