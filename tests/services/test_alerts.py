"""401 and 402 from the provider: the job fails with a release, managers are alerted.

CONTRACT.md "HTTP errors": 401 (invalid key) and 402 (no balance on the provider account) are
not retried; 402 "alert an admin". Managers see a banner on every page and get one e-mail per
hour per kind (services.alerts); members see neither.
"""

import itertools
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from generations.models import CreditAccount, Generation, ProviderAlert
from generations.selectors.ledger import ledger_mismatches
from generations.services.alerts import provider_alert_resolve
from generations.services.lifecycle import generation_poll, generation_submit
from tests.factories import ManagerFactory, UserFactory
from tests.fake_apixo import STATUS_URL, SUBMIT_URL, envelope, settlements

pytestmark = pytest.mark.django_db
State = Generation.State

MESSAGES = {401: "Invalid or missing API key", 402: "Insufficient balance"}
TASK_IDS = (f"task_{n}" for n in itertools.count())


def alert_mails() -> list:
    """Return the e-mails to managers (members also hear about their own failed jobs)."""
    return [m for m in mail.outbox if "boss@example.com" in m.to]


@pytest.fixture
def managers(db):
    """Two managers (group and superuser) and a staff member who is not one."""
    return [
        ManagerFactory(email="boss@example.com"),
        UserFactory(email="root@example.com", is_superuser=True, is_staff=True),
        UserFactory(email="staff@example.com", is_staff=True),
    ]


def refuse(api, where: str, status: int) -> None:
    url = SUBMIT_URL if where == "submit" else STATUS_URL
    method = api.post if where == "submit" else api.get
    method(url, status=status, json=envelope(None, code=status, message=MESSAGES[status]))


def run(make_job, where: str) -> Generation:
    """Submit a queued job, or poll a submitted one; return it reloaded."""
    if where == "submit":
        generation = make_job()
        generation_submit(generation_id=generation.pk)
    else:
        generation = make_job(state=State.SUBMITTED, provider_task_id=next(TASK_IDS))
        generation_poll(generation_id=generation.pk)
    generation.refresh_from_db()
    return generation


@pytest.mark.parametrize("where", ["submit", "poll"])
@pytest.mark.parametrize("status", [401, 402])
def test_refusal_fails_and_releases_the_job_and_alerts_managers_once(
    api, make_job, managers, where, status, django_capture_on_commit_callbacks
):
    refuse(api, where, status)

    with django_capture_on_commit_callbacks(execute=True):
        generation = run(make_job, where)

    assert generation.state == State.FAILED
    assert generation.fail_code == f"HTTP_{status}"
    assert "administrator" in generation.fail_message  # a clear message for the member
    assert settlements(generation) == ["hold", "release"]
    account = CreditAccount.objects.get(user=generation.user)
    assert (account.balance, account.held) == (1000, 0)
    alert = ProviderAlert.objects.get()
    assert (alert.provider, alert.kind, alert.count) == ("apixo", f"http_{status}", 1)
    assert alert.resolved_at is None
    (email,) = alert_mails()
    assert sorted(email.to) == ["boss@example.com", "root@example.com"]
    assert alert.message in email.subject
    assert ledger_mismatches() == []


def test_one_email_per_hour_per_kind(api, make_job, managers, django_capture_on_commit_callbacks):
    refuse(api, "submit", 401)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            run(make_job, "submit")
    assert len(alert_mails()) == 1
    assert ProviderAlert.objects.get().count == 3

    refuse(api, "poll", 402)  # another kind: its own e-mail
    with django_capture_on_commit_callbacks(execute=True):
        run(make_job, "poll")
        run(make_job, "poll")
    assert len(alert_mails()) == 2
    assert ProviderAlert.objects.get(kind="http_402").count == 2

    later = timezone.now() + timedelta(minutes=61)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        run(make_job, "submit")
    assert len(alert_mails()) == 3
    assert ProviderAlert.objects.get(kind="http_401").count == 4


def test_a_resolved_alert_that_comes_back_within_the_hour_is_not_mailed_again(
    api, make_job, managers, django_capture_on_commit_callbacks
):
    refuse(api, "submit", 401)
    with django_capture_on_commit_callbacks(execute=True):
        run(make_job, "submit")
    first = ProviderAlert.objects.get()
    assert provider_alert_resolve(alert_id=first.pk, actor=managers[0])
    assert not provider_alert_resolve(alert_id=first.pk, actor=managers[0])

    with django_capture_on_commit_callbacks(execute=True):
        run(make_job, "submit")

    assert ProviderAlert.objects.unresolved().get().pk != first.pk
    assert len(alert_mails()) == 1


def test_a_403_alerts_too_and_a_400_does_not(api, make_job, managers):
    api.post(SUBMIT_URL, status=400, json=envelope({"error": "bad"}, code=400, message="Invalid"))
    assert run(make_job, "submit").state == State.FAILED
    assert not ProviderAlert.objects.exists()

    api.replace("POST", SUBMIT_URL, status=403, json=envelope(None, code=403, message="No"))
    assert run(make_job, "submit").state == State.FAILED
    assert ProviderAlert.objects.get().kind == "http_403"


# --- The banner ------------------------------------------------------------------------------


@pytest.fixture
def alert(api, make_job):
    refuse(api, "submit", 402)
    run(make_job, "submit")
    return ProviderAlert.objects.get()


@pytest.mark.parametrize("page", ["generations:list", "generations:new", "profile"])
def test_managers_see_the_banner_on_every_page_members_do_not(client, alert, managers, page):
    member = UserFactory()
    client.force_login(member)
    assert alert.message not in client.get(reverse(page)).content.decode()

    client.force_login(managers[0])
    content = client.get(reverse(page)).content.decode()
    assert 'data-testid="provider-alerts"' in content
    assert alert.message in content
    assert reverse("provider_alert_resolve", args=[alert.pk]) in content


def test_the_admin_shows_the_banner_to_managers(client, alert, managers):
    client.force_login(managers[1])  # superuser, staff
    content = client.get(reverse("admin:index")).content.decode()
    assert alert.message in content


def test_a_manager_resolves_the_alert_and_the_banner_goes(client, alert, managers):
    client.force_login(managers[0])
    response = client.post(
        reverse("provider_alert_resolve", args=[alert.pk]), {"next": reverse("profile")}
    )
    assert response.status_code == 302 and response.url == reverse("profile")
    alert.refresh_from_db()
    assert alert.resolved_at is not None and alert.resolved_by == managers[0]
    assert alert.message not in client.get(reverse("generations:list")).content.decode()


def test_a_member_cannot_resolve_an_alert(client, alert):
    client.force_login(UserFactory())
    response = client.post(reverse("provider_alert_resolve", args=[alert.pk]))
    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.resolved_at is None


def test_the_resolve_view_refuses_get_and_foreign_redirects(client, alert, managers):
    client.force_login(managers[0])
    url = reverse("provider_alert_resolve", args=[alert.pk])
    assert client.get(url).status_code == 405
    response = client.post(url, {"next": "https://evil.example.com/"})
    assert response.url == reverse("generations:list")
