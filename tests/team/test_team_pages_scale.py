"""Team pages whose cost follows the page, not the team (issue #14 item 1,
docs/architecture.md "Admin lists at scale")."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generations.models import AuditEntry, CreditAccount, User

from ..factories import ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss_client(client):
    boss = ManagerFactory()
    client.force_login(boss)
    return client


def add_members(count: int) -> None:
    users = User.objects.bulk_create(
        User(username=f"crew{n:03d}", email=f"crew{n}@example.com") for n in range(count)
    )
    CreditAccount.objects.bulk_create(CreditAccount(user=user) for user in users)


def test_the_members_page_reads_no_list_of_every_member(boss_client):
    """The credits form's member choices (every active user) are never read to render it."""
    add_members(80)
    with CaptureQueriesContext(connection) as queries:
        page = boss_client.get(reverse("team:members"))
    assert page.status_code == 200
    assert len(page.context["members"]) == 50
    every_member = [q["sql"] for q in queries if 'WHERE "generations_user"."is_active"' in q["sql"]]
    assert every_member == []


def test_a_refused_grant_keeps_the_selection_and_names_the_error(boss_client):
    ana, bob = UserFactory(username="ana"), UserFactory(username="bob")
    response = boss_client.post(
        reverse("team:credits"), {"action": "grant", "members": [ana.pk], "memo": ""}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert f'value="{ana.pk}" aria-label="Select ana" checked' in body
    assert f'value="{bob.pk}" aria-label="Select bob" >' in body

    response = boss_client.post(reverse("team:credits"), {"action": "grant", "memo": "x"})
    body = response.content.decode()
    assert re.search(r'id="id_members_error" role="alert"><div>Select at least one member', body)


def test_the_oldest_audit_page_is_read_from_the_oldest_end(boss_client):
    AuditEntry.objects.bulk_create(AuditEntry(action="cap", memo=f"entry {n}") for n in range(120))
    with CaptureQueriesContext(connection) as queries:
        page = boss_client.get(reverse("team:audit"), {"page": 3})
    memos = [entry.memo for entry in page.context["entries"]]
    assert memos == [f"entry {n}" for n in range(19, -1, -1)]  # the oldest 20, newest first
    read = next(
        q["sql"]
        for q in queries
        if 'FROM "generations_auditentry"' in q["sql"] and "LIMIT" in q["sql"]
    )
    assert "OFFSET 100" not in read and "ASC" in read
