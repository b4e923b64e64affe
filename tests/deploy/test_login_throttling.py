"""Login throttling behind a proxy (issue #12 item 12).

Behind nginx every request comes from nginx's address; django-axes must key failures by the
client's address from X-Forwarded-For (through django-ipware, with TRUSTED_PROXY_COUNT), so an
attacker locks out only themselves, even when they forge the header. The lockout page says how
long to wait and links to password reset.
"""

import runpy

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from .conftest import ROOT

pytestmark = pytest.mark.django_db

PROXY = "127.0.0.1"  # nginx, as gunicorn sees it
ATTACKER, VICTIM = "198.51.100.9", "203.0.113.7"
PASSWORD = "correct horse battery"


def settings_module(monkeypatch, **environ) -> dict:
    """Evaluate seedance_site/settings.py afresh with ``environ`` on top of the test's own."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "seedance_site" / "settings.py"))


@pytest.fixture
def behind_nginx(settings, monkeypatch):
    """Apply what settings.py derives from TRUST_X_FORWARDED_PROTO=true (one proxy)."""
    derived = settings_module(monkeypatch, TRUST_X_FORWARDED_PROTO="true")
    for name, value in derived.items():
        if name.startswith(("AXES_IPWARE_", "IPWARE_")):
            setattr(settings, name, value)
    settings.AXES_ENABLED = True
    return settings


def log_in(client, user, password, forwarded_for):
    return client.post(
        reverse("login"),
        {"username": user.username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_an_attacker_behind_the_proxy_locks_out_only_themselves(client, member, behind_nginx):
    member.set_password(PASSWORD)
    member.save()
    for _ in range(behind_nginx.AXES_FAILURE_LIMIT):
        log_in(client, member, "wrong", ATTACKER)
    assert log_in(client, member, PASSWORD, ATTACKER).status_code == 429

    response = log_in(client, member, PASSWORD, VICTIM)

    assert response.status_code == 302  # the member, elsewhere, still logs in
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_a_forged_forwarded_for_is_ignored(client, member, behind_nginx):
    member.set_password(PASSWORD)
    member.save()
    # The attacker writes the victim's address; nginx appends the attacker's real one.
    for _ in range(behind_nginx.AXES_FAILURE_LIMIT):
        log_in(client, member, "wrong", f"{VICTIM}, {ATTACKER}")

    assert log_in(client, member, PASSWORD, VICTIM).status_code == 302
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_without_a_proxy_the_socket_address_counts(settings, monkeypatch):
    derived = settings_module(monkeypatch, TRUST_X_FORWARDED_PROTO="false")
    assert derived["AXES_IPWARE_META_PRECEDENCE_ORDER"] == ("REMOTE_ADDR",)


def test_two_proxies_take_the_second_entry_from_the_right(monkeypatch):
    derived = settings_module(monkeypatch, TRUST_X_FORWARDED_PROTO="true", TRUSTED_PROXY_COUNT="2")
    assert derived["AXES_IPWARE_PROXY_COUNT"] == 1


def test_the_lockout_page_says_how_long_and_links_to_password_reset(client, member, settings):
    settings.AXES_ENABLED = True
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": member.username, "password": "wrong"})

    response = client.post(reverse("login"), {"username": member.username, "password": "x"})

    assert response.status_code == 429
    page = response.content.decode()
    assert "Try again in about 60 minutes" in page
    assert reverse("password_reset") in page
    assert "<html" in page and "Too many failed log-ins" in page  # the portal's layout
