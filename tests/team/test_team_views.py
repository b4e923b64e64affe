"""Team pages: what managers see and do, what members and invitees get."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from generations.models import AuditEntry, CreditAccount, User

from ..factories import GenerationFactory, ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss_client(client):
    boss = ManagerFactory()
    client.force_login(boss)
    client.boss = boss
    return client


def test_members_see_a_404_on_every_team_page(member_client):
    for name in ("team:members", "team:audit"):
        assert member_client.get(reverse(name)).status_code == 404
    response = member_client.post(reverse("team:credits"), {"action": "grant"})
    assert response.status_code == 404


def test_the_member_list_shows_the_ledgers_figures(boss_client):
    ana = UserFactory(username="ana", credits=700)
    GenerationFactory(user=ana)  # queued: its 40 credits are reserved
    page = boss_client.get(reverse("team:members"))
    row = next(m for m in page.context["members"] if m.username == "ana")
    assert (row.balance, row.reserved, row.spent_since) == (660, 40, 0)
    assert row.last_job_at is not None
    assert 'data-member="ana"' in page.content.decode()


def test_granting_to_two_members_at_once(boss_client):
    ana, bo = UserFactory(), UserFactory()
    response = boss_client.post(
        reverse("team:credits"),
        {"action": "grant", "members": [ana.pk, bo.pk], "amount": "250", "memo": "kick-off"},
        follow=True,
    )
    assert "Granted 250 credits to 2 members." in response.content.decode()
    assert [CreditAccount.objects.get(user=u).balance for u in (ana, bo)] == [250, 250]
    assert AuditEntry.objects.filter(action="grant", actor=boss_client.boss).count() == 2


@pytest.mark.parametrize(("action", "start", "end"), [("grant", 0, 250), ("revoke", 600, 350)])
def test_a_credits_form_sent_twice_moves_credits_once(boss_client, action, start, end):
    """A double click (or a browser resending the POST) used to grant or revoke twice."""
    ana = UserFactory(credits=start)
    page = boss_client.get(reverse("team:members"))
    token = page.context["credits_form"].initial.get("request_token", "")
    data = {
        "action": action,
        "members": [ana.pk],
        "amount": "250",
        "memo": "once",
        "request_token": token,
    }
    first = boss_client.post(reverse("team:credits"), data)
    second = boss_client.post(reverse("team:credits"), data, follow=True)
    assert first.status_code == 302 and second.status_code == 200
    assert CreditAccount.objects.get(user=ana).balance == end
    assert AuditEntry.objects.filter(action=action, memo="once").count() == 1
    assert "already applied" in second.content.decode()
    assert token and f'value="{token}"' in page.content.decode()  # the page sends it back


def test_a_bad_grant_shows_errors_next_to_the_fields_and_moves_nothing(boss_client):
    response = boss_client.post(reverse("team:credits"), {"action": "grant", "memo": ""})
    assert response.status_code == 400
    form = response.context["credits_form"]
    assert set(form.errors) == {"members", "amount", "memo"}
    assert not AuditEntry.objects.exists()


def test_revoking_more_than_available_is_refused_with_a_message(boss_client):
    ana = UserFactory(credits=100)
    response = boss_client.post(
        reverse("team:credits"),
        {"action": "revoke", "members": [ana.pk], "amount": "500", "memo": "too much"},
    )
    assert response.status_code == 400
    assert "only 100 are available" in " ".join(response.context["credits_form"].errors["amount"])
    assert CreditAccount.objects.get(user=ana).balance == 100


def test_setting_a_cap_and_deactivating(boss_client):
    ana = UserFactory()
    boss_client.post(reverse("team:cap", args=[ana.pk]), {"monthly_cap_credits": "5000"})
    boss_client.post(reverse("team:active", args=[ana.pk]), {"active": "0"})
    ana.refresh_from_db()
    assert (ana.monthly_cap_credits, ana.is_active) == (5000, False)
    audit = boss_client.get(reverse("team:audit")).content.decode()
    assert "Monthly cap changed" in audit and "Member deactivated" in audit


def test_an_invitation_from_the_page_to_a_signed_in_member(
    boss_client, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the send task, on commit
        response = boss_client.post(
            reverse("team:invite"), {"email": "new@example.com"}, follow=True
        )
    assert "Invitation sent to new@example.com." in response.content.decode()
    link = re.search(r"https?://\S+/accounts/invite/\S+/", mail.outbox[0].body).group(0)
    path = "/" + link.split("/", 3)[3]
    boss_client.logout()
    page = client.get(path)
    assert "invited as <strong>new@example.com</strong>" in page.content.decode()
    response = client.post(
        path,
        {
            "username": "newbie",
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
        follow=True,
    )
    assert response.context["user"].username == "newbie"
    assert User.objects.get(username="newbie").email == "new@example.com"
    assert "does not work any more" in client.get(path).content.decode()


def test_members_choose_their_notifications_on_the_profile(member_client, member):
    response = member_client.post(reverse("profile"), {"low_balance_threshold": "300"}, follow=True)
    assert "saved" in response.content.decode()
    member.refresh_from_db()
    assert (member.low_balance_threshold, member.notify_on_finish) == (300, False)


@pytest.mark.parametrize("extra", [10, 200])
def test_the_member_list_issues_a_constant_number_of_queries(
    boss_client, django_assert_max_num_queries, extra
):
    """docs/architecture.md "Performance targets": the same queries with 10 or 200 more members."""
    for member in UserFactory.create_batch(extra, credits=100):
        GenerationFactory(user=member)
    with django_assert_max_num_queries(12):
        page = boss_client.get(reverse("team:members"))
    assert page.status_code == 200
    assert len(page.context["members"]) == min(extra + 1, 50)  # paginated by 50
