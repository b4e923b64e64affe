"""E-mails go out from queued tasks, never inside a web request (issue #12 item 13).

Invitation links start with ``PUBLIC_BASE_URL``; without it, with the request's host only
when that host is one of ``ALLOWED_HOSTS``. The ledger service queues the low-balance check
on commit and does not import notification code.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from django.utils.module_loading import import_string

from generations.models import Invitation
from tests.factories import ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


class Queue:
    """Stands in for django-q2's ``async_task``: records tasks; ``run()`` runs them."""

    def __init__(self) -> None:
        self.tasks: list[tuple[str, tuple]] = []

    def __call__(self, func: str, *args, **kwargs) -> str:
        self.tasks.append((func, args))
        return "task-id"

    def names(self) -> list[str]:
        return [func.rsplit(".", 1)[-1] for func, _ in self.tasks]

    def run(self) -> None:
        tasks, self.tasks = self.tasks, []
        for func, args in tasks:
            import_string(func)(*args)


@pytest.fixture
def queue(monkeypatch) -> Queue:
    recorder = Queue()
    monkeypatch.setattr("django_q.tasks.async_task", recorder)
    return recorder


@pytest.fixture
def boss_client(client):
    client.force_login(ManagerFactory())
    return client


def invite(boss_client, django_capture_on_commit_callbacks, host: str, email="new@example.com"):
    with django_capture_on_commit_callbacks(execute=True):
        return boss_client.post(reverse("team:invite"), {"email": email}, HTTP_HOST=host)


def test_an_invitation_link_starts_with_public_base_url_whatever_the_host(
    boss_client, queue, settings, django_capture_on_commit_callbacks
):
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    settings.ALLOWED_HOSTS = ["*"]

    response = invite(boss_client, django_capture_on_commit_callbacks, "evil.example")

    assert response.status_code == 302
    assert mail.outbox == []  # not sent inside the request
    assert queue.names() == ["send_invitation"]
    queue.run()
    (message,) = mail.outbox
    assert message.to == ["new@example.com"]
    assert "https://studio.example.com/accounts/invite/" in message.body
    assert "evil.example" not in message.body


def test_without_public_base_url_a_host_outside_allowed_hosts_gets_no_link(
    boss_client, queue, settings, django_capture_on_commit_callbacks
):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["*"]  # Django lets any Host through; the link must not use it

    response = invite(boss_client, django_capture_on_commit_callbacks, "evil.example")

    assert response.status_code == 400
    assert "PUBLIC_BASE_URL" in response.content.decode()
    queue.run()
    assert not any("evil.example" in m.body for m in mail.outbox)
    assert mail.outbox == [] and not Invitation.objects.exists()


def test_without_public_base_url_an_allowed_host_makes_the_link(
    boss_client, queue, settings, django_capture_on_commit_callbacks
):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["studio.example.com", "testserver"]

    response = invite(boss_client, django_capture_on_commit_callbacks, "studio.example.com")
    refused = invite(
        boss_client, django_capture_on_commit_callbacks, "evil.example", email="b@example.com"
    )

    assert (response.status_code, refused.status_code) == (302, 400)  # Django's DisallowedHost
    queue.run()
    (message,) = mail.outbox
    assert "http://studio.example.com/accounts/invite/" in message.body


def test_a_revoke_under_the_threshold_queues_the_notice_instead_of_mailing_in_the_request(
    boss_client, queue, django_capture_on_commit_callbacks
):
    member = UserFactory(credits=1000, low_balance_threshold=500)
    mail.outbox.clear()
    form = {"action": "revoke", "members": [member.pk], "amount": "600", "memo": "moved"}

    with django_capture_on_commit_callbacks(execute=True):
        response = boss_client.post(reverse("team:credits"), form)

    assert response.status_code == 302
    assert mail.outbox == []  # the request only queued the check
    assert queue.tasks == [("generations.tasks.check_low_balance", (member.pk,))]
    queue.run()
    (message,) = mail.outbox
    assert message.subject == "Your Seedance Studio credits are running low"
    assert "400 credits available" in message.body

    # A grant back over the threshold queues the check too: it re-arms the notice, no mail.
    with django_capture_on_commit_callbacks(execute=True):
        boss_client.post(reverse("team:credits"), {**form, "action": "grant", "amount": "700"})
    assert queue.names() == ["check_low_balance"]
    queue.run()
    member.refresh_from_db()
    assert (len(mail.outbox), member.low_balance_notified) == (1, False)


def test_moves_that_cross_no_threshold_queue_nothing(queue, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        UserFactory(credits=1000)  # no threshold set
        UserFactory(credits=1000, low_balance_threshold=100)  # stays over it
    assert queue.tasks == []


def imported_modules(module: str) -> set[str]:
    """Return the modules ``module`` imports, following the ``generations`` package's own.

    Read from the source (``ast``), so what other modules happened to import before does
    not hide anything: the whole import graph reachable from ``module`` is walked.
    """
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = ROOT / name.replace(".", "/")
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        if not path.exists():
            continue
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{parent}.{base}" if base else parent
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            todo.extend(t for t in targets if t.startswith("generations"))
            seen.update(t for t in targets if not t.startswith("generations"))
    return seen


def test_the_ledger_service_does_not_import_notification_or_mail_code():
    imported = imported_modules("generations.services.ledger")
    assert "generations.models" in imported  # the walk follows the package's own imports
    assert "generations.services.notifications" not in imported
    assert not [m for m in imported if m.startswith("django.core.mail")]


def test_importing_the_ledger_service_alone_loads_no_notification_code():
    # Without django.setup(): the apps' ready() and the admin would import everything.
    code = (
        "import sys, django; from django.conf import settings; "
        "from django.apps import apps; "
        "apps.populate([a for a in settings.INSTALLED_APPS if 'admin' not in a]); "
        "import generations.services.ledger; "
        "print(sorted(m for m in sys.modules if m.startswith('generations.services.')))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "seedance_site.test_settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    loaded = result.stdout.strip()
    assert "generations.services.ledger" in loaded
    assert "generations.services.notifications" not in loaded
