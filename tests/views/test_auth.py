"""Accounts: login, logout, password change and reset, and login required everywhere else."""

import pytest
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db

PUBLIC_NAMES = {
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
}


def test_login_page_renders(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content


def test_login_with_the_right_password_lands_on_my_videos(client, member):
    response = client.post(
        reverse("login"), {"username": member.username, "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert response.url == reverse("generations:list")


def test_login_with_a_wrong_password_shows_an_error(client, member):
    response = client.post(reverse("login"), {"username": member.username, "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_every_page_shows_the_credit_balance(member_client, member):
    from generations.services.ledger import credits_grant

    credits_grant(user=member, amount=12_345, actor=None)
    response = member_client.get(reverse("profile"))
    assert response.status_code == 200
    assert b"12,345" in response.content and b"US$12.35" in response.content


def test_logout_is_a_post(member_client):
    response = member_client.post(reverse("logout"))
    assert response.status_code == 302
    assert member_client.get(reverse("profile")).status_code == 302


def test_password_change(member_client, member):
    response = member_client.post(
        reverse("password_change"),
        {
            "old_password": "correct horse battery",
            "new_password1": "a much longer passphrase 42",
            "new_password2": "a much longer passphrase 42",
        },
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password("a much longer passphrase 42")


def test_password_reset_sends_a_link(client, member):
    response = client.post(reverse("password_reset"), {"email": member.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/reset/" in mail.outbox[0].body


def test_anonymous_users_are_sent_to_login_from_every_page(client):
    """Walk every named URL, so a new view cannot forget to require a login."""
    from tests.url_walk import named_patterns, sample_kwargs

    checked = 0
    for name, pattern in named_patterns():
        if name in PUBLIC_NAMES or getattr(pattern.callback, "login_required", True) is False:
            continue
        url = reverse(name, kwargs=sample_kwargs(pattern))
        response = client.get(url)
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("login")), name
        checked += 1
    assert checked >= 5


def test_public_pages_render_for_anonymous_users(client):
    for name in ("login", "password_reset", "password_reset_done", "password_reset_complete"):
        assert client.get(reverse(name)).status_code == 200, name


def test_repeated_failed_logins_are_locked_out(client, member, settings):
    settings.AXES_ENABLED = True
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": member.username, "password": "wrong"})
    response = client.post(
        reverse("login"), {"username": member.username, "password": "correct horse battery"}
    )
    assert response.status_code == 429
