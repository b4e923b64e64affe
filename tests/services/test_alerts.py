"""401, 402 and 403 from the provider: managers are alerted, the provider is paused.

docs/providers/apixo.md "HTTP errors": 401 (invalid key), 402 (no balance on the provider account)
and 403 are not retried; "alert an admin". Issue #12 item 1: they say nothing about a task, so jobs
keep their holds while the provider's circuit is open (services.circuit); a probe closes it.
Managers see a banner on every page and get one e-mail per hour per kind (services.alerts);
members see neither.
"""

import itertools
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from generations.models import CreditAccount, Generation, ProviderAlert, ProviderCircuit
from generations.selectors.ledger import ledger_mismatches
from generations.services.alerts import provider_alert_resolve
from generations.services.circuit import (
    provider_circuit_close,
    provider_circuit_probe,
    provider_circuits_claim_probes,
)
from generations.services.dispatch import dispatch_pass
from generations.services.lifecycle import generation_poll, generation_submit
from generations.services.sweeper import generations_sweep
from tests.factories import ManagerFactory, UserFactory
from tests.fake_apixo import BASE, STATUS_URL, SUBMIT_URL, envelope, settlements, task_data

pytestmark = pytest.mark.django_db
State = Generation.State

MESSAGES = {401: "Invalid or missing API key", 402: "Insufficient balance", 403: "Forbidden"}
BALANCE_URL = f"{BASE}/apikeys/current-balance"
TASK_IDS = (f"task_{n}" for n in itertools.count())


@pytest.fixture(autouse=True)
def _real_time(settings):
    """Documented figures, unscaled: probes 30 s after a refusal, doubling up to 15 min."""
    settings.POLL_TIME_SCALE = 1.0


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
@pytest.mark.parametrize("status", [401, 402, 403])
def test_a_credentials_refusal_keeps_the_job_and_its_hold_alerts_once_and_pauses(
    api, make_job, managers, where, status, django_capture_on_commit_callbacks
):
    """Issue #12 item 1: 401/402/403 say nothing about the task; the provider may still run
    (and bill) it. The job and its hold stay, managers are alerted, the provider is paused."""
    refuse(api, where, status)

    with django_capture_on_commit_callbacks(execute=True):
        generation = run(make_job, where)

    expected = State.QUEUED if where == "submit" else State.SUBMITTED
    assert generation.state == expected
    assert settlements(generation) == ["hold"]
    account = CreditAccount.objects.get(user=generation.user)
    assert (account.balance, account.held) == (960, 40)
    if where == "submit":  # nothing was started at the provider: the attempt is not counted
        assert generation.submit_attempts == 0
        assert "administrator" in generation.fail_message  # the member sees why it waits
    circuit = ProviderCircuit.objects.get(provider="apixo")
    assert circuit.state == ProviderCircuit.State.OPEN
    assert generation.next_action_at == circuit.next_probe_at > timezone.now()
    alert = ProviderAlert.objects.get()
    assert (alert.provider, alert.kind, alert.count) == ("apixo", f"http_{status}", 1)
    assert alert.resolved_at is None
    (email,) = alert_mails()
    assert sorted(email.to) == ["boss@example.com", "root@example.com"]
    assert alert.message in email.subject
    assert "paused" in email.body
    assert ledger_mismatches() == []


def test_while_paused_nothing_is_sent_to_the_provider(api, make_job, managers):
    refuse(api, "poll", 401)
    run(make_job, "poll")
    calls = len(api.calls)
    queued = make_job(next_action_at=timezone.now() - timedelta(seconds=1))
    submitted = make_job(
        state=State.SUBMITTED,
        provider_task_id=next(TASK_IDS),
        next_action_at=timezone.now() - timedelta(seconds=1),
    )

    report = dispatch_pass()
    assert generation_submit(generation_id=queued.pk) == ""
    assert generation_poll(generation_id=submitted.pk) == State.SUBMITTED

    assert (report.submits, report.polls) == (0, 0)
    assert len(api.calls) == calls
    queued.refresh_from_db()
    assert (queued.state, queued.submit_attempts) == (State.QUEUED, 0)
    assert ProviderAlert.objects.get().count == 1


def test_a_probe_closes_the_circuit_when_the_key_works_and_polling_resumes(api, make_job, managers):
    refuse(api, "poll", 401)
    generation = run(make_job, "poll")
    api.get(BALANCE_URL, status=401, json=envelope(None, code=401, message=MESSAGES[401]))

    later = timezone.now() + timedelta(seconds=31)
    with time_machine.travel(later):
        first = dispatch_pass()  # the probe is due: enqueued (run at once in tests)
    circuit = ProviderCircuit.objects.get()
    assert first.probes == 1
    assert (circuit.state, circuit.probes) == (ProviderCircuit.State.OPEN, 1)
    assert circuit.next_probe_at > later  # the next probe waits longer
    assert provider_circuit_probe(provider="apixo") is False

    api.replace("GET", BALANCE_URL, json=envelope(74.87))
    api.replace("GET", STATUS_URL, json=envelope(task_data(generation.provider_task_id, "success")))
    with time_machine.travel(circuit.next_probe_at + timedelta(seconds=1)):
        report = dispatch_pass()
        assert report.probes == 1
        circuit.refresh_from_db()
        assert circuit.state == ProviderCircuit.State.CLOSED
        assert ProviderAlert.objects.unresolved().count() == 0  # resolved by the probe
        dispatch_pass()  # the paused job was due all along: polled now

    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED
    assert settlements(generation) == ["hold", "capture"]


def test_probe_intervals_grow_and_one_claim_per_interval(api, make_job):
    refuse(api, "poll", 402)
    run(make_job, "poll")
    circuit = ProviderCircuit.objects.get()
    assert circuit.next_probe_at - circuit.opened_at == timedelta(seconds=30)

    waits = []
    for _ in range(7):
        at = ProviderCircuit.objects.get().next_probe_at
        assert provider_circuits_claim_probes(now=at) == ["apixo"]
        assert provider_circuits_claim_probes(now=at) == []  # claimed once
        waits.append((ProviderCircuit.objects.get().next_probe_at - at).total_seconds())
    assert waits == [60, 120, 240, 480, 900, 900, 900]


def test_a_job_paused_until_its_deadline_expires_with_a_release(api, make_job):
    refuse(api, "submit", 401)
    generation = run(make_job, "submit")
    Generation.objects.filter(pk=generation.pk).update(
        deadline_at=timezone.now() + timedelta(minutes=5)
    )

    assert generations_sweep(now=timezone.now() + timedelta(minutes=6)).expired == 1

    generation.refresh_from_db()
    assert generation.state == State.EXPIRED
    assert settlements(generation) == ["hold", "release"]
    assert ledger_mismatches() == []


def test_one_email_per_hour_per_kind(api, make_job, managers, django_capture_on_commit_callbacks):
    refuse(api, "submit", 401)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            run(make_job, "submit")
            provider_circuit_close(provider="apixo")  # as if a probe had passed meanwhile
    assert len(alert_mails()) == 1
    assert ProviderAlert.objects.filter(kind="http_401").count() == 3  # each one resolved

    refuse(api, "poll", 402)  # another kind: its own e-mail
    with django_capture_on_commit_callbacks(execute=True):
        run(make_job, "poll")
    assert len(alert_mails()) == 2

    provider_circuit_close(provider="apixo")
    later = timezone.now() + timedelta(minutes=61)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        run(make_job, "submit")
    assert len(alert_mails()) == 3


def test_a_resolved_alert_that_comes_back_within_the_hour_is_not_mailed_again(
    api, make_job, managers, django_capture_on_commit_callbacks
):
    refuse(api, "submit", 401)
    with django_capture_on_commit_callbacks(execute=True):
        run(make_job, "submit")
    first = ProviderAlert.objects.get()
    assert provider_alert_resolve(alert_id=first.pk, actor=managers[0])
    assert not provider_alert_resolve(alert_id=first.pk, actor=managers[0])
    provider_circuit_close(provider="apixo")

    with django_capture_on_commit_callbacks(execute=True):
        run(make_job, "submit")

    assert ProviderAlert.objects.unresolved().get().pk != first.pk
    assert len(alert_mails()) == 1


def test_a_403_alerts_too_and_a_400_does_not(api, make_job, managers):
    api.post(SUBMIT_URL, status=400, json=envelope({"error": "bad"}, code=400, message="Invalid"))
    assert run(make_job, "submit").state == State.FAILED
    assert not ProviderAlert.objects.exists()

    api.replace("POST", SUBMIT_URL, status=403, json=envelope(None, code=403, message="No"))
    assert run(make_job, "submit").state == State.QUEUED
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


def test_the_alert_e_mail_is_sent_by_a_queued_task_not_by_the_caller(
    api, make_job, managers, monkeypatch, django_capture_on_commit_callbacks
):
    """Issue #12 item 13: no e-mail inside a request, poll or webhook; a task sends it."""
    from generations.services import alerts

    queued = []
    monkeypatch.setattr(alerts, "enqueue", lambda task, *args, **kw: queued.append((task, args)))
    refuse(api, "submit", 401)
    with django_capture_on_commit_callbacks(execute=True):
        run(make_job, "submit")
    alert = ProviderAlert.objects.get(kind="http_401")
    assert queued == [("email_provider_alert", (alert.pk,))]
    assert alert_mails() == []  # nothing sent by the caller

    from generations.tasks import email_provider_alert

    email_provider_alert(alert.pk)  # what the worker runs
    assert len(alert_mails()) == 1


# --- A 403 for one job, not for the key (review: content refusals reopened the circuit) --------


def test_a_second_403_after_a_successful_probe_fails_that_job_without_pausing(
    api, make_job, managers
):
    """docs/providers/apixo.md "HTTP errors": 403 is a key without permission or content
    against the policy. Once a probe proved the key works, the same job's second 403 is a
    refusal of the job: it fails with a release and the provider stays open for the others."""
    api.post(SUBMIT_URL, status=403, json=envelope(None, code=403, message="Content refused"))
    api.get(BALANCE_URL, json=envelope(74.87))
    generation = make_job()

    assert generation_submit(generation_id=generation.pk) == State.QUEUED  # first: pause
    assert ProviderCircuit.objects.get().state == ProviderCircuit.State.OPEN
    assert provider_circuit_probe(provider="apixo") is True  # the key works
    Generation.objects.filter(pk=generation.pk).update(next_action_at=timezone.now())
    alerts = ProviderAlert.objects.count()

    assert generation_submit(generation_id=generation.pk) == State.FAILED

    generation.refresh_from_db()
    assert generation.fail_code == "HTTP_403"
    assert "HTTP 403" in generation.fail_message and "returned" in generation.fail_message
    assert settlements(generation) == ["hold", "release"]
    assert ProviderCircuit.objects.get().state == ProviderCircuit.State.CLOSED
    assert ProviderAlert.objects.count() == alerts
    assert ledger_mismatches() == []


def test_another_jobs_first_403_after_a_probe_still_pauses_the_provider(api, make_job, managers):
    api.post(SUBMIT_URL, status=403, json=envelope(None, code=403, message="Forbidden"))
    api.get(BALANCE_URL, json=envelope(74.87))
    first, second = make_job(), make_job()
    generation_submit(generation_id=first.pk)
    assert provider_circuit_probe(provider="apixo") is True

    assert generation_submit(generation_id=second.pk) == State.QUEUED

    assert ProviderCircuit.objects.get().state == ProviderCircuit.State.OPEN
    assert settlements(second) == ["hold"]


def test_a_second_403_without_a_probe_since_keeps_the_job_waiting(api, make_job, managers):
    """The circuit closed before the job's 403 (an older outage): nothing proves the key."""
    api.post(SUBMIT_URL, status=403, json=envelope(None, code=403, message="Forbidden"))
    generation = make_job()
    ProviderCircuit.objects.create(
        provider="apixo",
        state=ProviderCircuit.State.CLOSED,
        closed_at=timezone.now() - timedelta(hours=1),
    )
    Generation.objects.filter(pk=generation.pk).update(
        refused_403_at=timezone.now() - timedelta(minutes=5)
    )

    assert generation_submit(generation_id=generation.pk) == State.QUEUED
    assert ProviderCircuit.objects.get().state == ProviderCircuit.State.OPEN


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 302, "headers": {"Location": "https://elsewhere.example/"}, "body": ""},
        {"status": 200, "json": {"code": 200, "message": "success", "data": {}}},  # no taskId
        {"body": __import__("requests").exceptions.ReadTimeout("sent, no answer")},
    ],
)
def test_every_submit_with_an_unknown_outcome_alerts_managers(api, make_job, managers, answer):
    """Review: only a gateway's 5xx alerted; a 3xx or a 200 without a taskId left jobs
    waiting in ``unknown`` (and refunded at its grace) without a word to managers."""
    api.post(SUBMIT_URL, **answer)
    generation = make_job()

    assert generation_submit(generation_id=generation.pk) == State.UNKNOWN

    assert ProviderAlert.objects.filter(provider="apixo").exists()
    assert settlements(generation) == ["hold"]
