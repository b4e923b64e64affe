"""Personal access tokens: made on the profile or by command, shown once, only a hash stored;
revoked or expired tokens are refused at once; managers revoke members' tokens, audited."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from generations.models import ApiToken, AuditEntry
from generations.models.api import api_token_digest
from generations.services.api_tokens import api_token_create, api_token_revoke
from generations.services.team import TeamPermissionDenied

from ..factories import ManagerFactory, UserFactory
from .conftest import ApiClient

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


def test_only_a_hash_is_stored(member):
    new = api_token_create(user=member, name="bot")
    row = ApiToken.objects.get()
    assert new.secret.startswith("sds_") and len(new.secret) >= 40
    assert row.token_hash == api_token_digest(new.secret)
    stored = " ".join(str(v) for v in ApiToken.objects.values().get().values())
    assert new.secret not in stored
    assert row.prefix == new.secret[:10]


@pytest.mark.parametrize(
    ("name", "days"), [("", None), ("x" * 101, None), ("bot", 0), ("bot", 3651)]
)
def test_bad_names_and_expiries_are_refused(member, name, days):
    with pytest.raises(ValueError):
        api_token_create(user=member, name=name, expires_days=days)
    assert ApiToken.objects.count() == 0


def test_the_command_prints_the_token_alone_on_its_last_line(member):
    out = StringIO()
    call_command(
        "api_token_create", member.username, "--name", "ci", "--expires-days", "7", stdout=out
    )
    token = out.getvalue().strip().splitlines()[-1]
    assert token.startswith("sds_") and " " not in token
    response = ApiClient(token).get(ME)
    assert response.status_code == 200 and response.json()["username"] == member.username
    assert ApiToken.objects.get().expires_at > timezone.now() + timedelta(days=6)


@pytest.mark.parametrize(
    "args",
    [
        ["nobody", "--name", "x"],
        ["{user}", "--name", " "],
        ["{user}", "--name", "x", "--expires-days", "0"],
    ],
)
def test_the_command_exits_non_zero_on_bad_input(member, args):
    args = [a.format(user=member.username) for a in args]
    with pytest.raises(CommandError) as raised:
        call_command("api_token_create", *args, stdout=StringIO())
    assert raised.value.returncode == 2
    assert ApiToken.objects.count() == 0


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer sds_nope", "Basic dXNlcjpwYXNz", "Bearer not-even-a-token"],
)
def test_missing_or_bad_tokens_are_a_401_problem(db, header):
    client = ApiClient(None)
    response = client.get(ME, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["status"] == 401


def test_a_revoked_token_is_refused_at_once(member):
    new = api_token_create(user=member, name="bot")
    client = ApiClient(new.secret)
    assert client.get(ME).status_code == 200
    api_token_revoke(token_id=new.token.pk, actor=member)
    response = client.get(ME)
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_an_expired_token_is_refused(member):
    new = api_token_create(user=member, name="bot", expires_days=1)
    client = ApiClient(new.secret)
    assert client.get(ME).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        response = client.get(ME)
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_a_deactivated_members_token_is_refused(member):
    new = api_token_create(user=member, name="bot")
    member.is_active = False
    member.save()
    assert ApiClient(new.secret).get(ME).status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(member):
    new = api_token_create(user=member, name="bot")
    client = ApiClient(new.secret)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.get(ME)
    assert ApiToken.objects.get().last_used_at == start
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client.get(ME)
    assert ApiToken.objects.get().last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        client.get(ME)
    assert ApiToken.objects.get().last_used_at == start + timedelta(seconds=61)


def test_a_session_does_not_authenticate_the_api(member_client):
    assert member_client.get(ME).status_code == 401


# --- The profile page --------------------------------------------------------------------------


def test_the_profile_creates_a_token_shows_it_once_and_lists_it(member_client, member):
    response = member_client.post(reverse("api_token_create"), {"name": "batch bot"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    secret = response.context["new_token"].secret
    assert secret in response.content.decode()
    assert ApiClient(secret).get(ME).status_code == 200
    page = member_client.get(reverse("profile")).content.decode()
    assert "batch bot" in page and secret not in page and secret[:10] in page


def test_the_profile_refuses_a_token_without_a_name(member_client):
    response = member_client.post(reverse("api_token_create"), {"name": " ", "expires_days": "0"})
    assert response.status_code == 400
    assert set(response.context["token_form"].errors) == {"name", "expires_days"}
    assert ApiToken.objects.count() == 0


def test_the_profile_revokes_only_the_members_own_tokens(member_client, member):
    mine = api_token_create(user=member, name="mine")
    theirs = api_token_create(user=UserFactory(), name="theirs")
    other = member_client.post(reverse("api_token_revoke", args=[theirs.token.pk]))
    assert other.status_code == 404
    response = member_client.post(reverse("api_token_revoke", args=[mine.token.pk]))
    assert response.status_code == 302
    assert ApiClient(mine.secret).get(ME).status_code == 401
    assert ApiClient(theirs.secret).get(ME).status_code == 200
    assert AuditEntry.objects.count() == 0  # one's own token: nothing to audit


# --- Managers ----------------------------------------------------------------------------------


def test_managers_see_and_revoke_members_tokens_audited(client, member):
    manager = ManagerFactory()
    token = api_token_create(user=member, name="member bot")
    client.force_login(manager)
    page = client.get(reverse("team:tokens"))
    assert page.status_code == 200 and "member bot" in page.content.decode()
    response = client.post(reverse("team:token_revoke", args=[token.token.pk]))
    assert response.status_code == 302
    assert ApiClient(token.secret).get(ME).status_code == 401
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.target_user) == ("token_revoke", manager, member)
    assert entry.before["status"] == "active" and entry.after["status"] == "revoked"


def test_a_manager_cannot_revoke_another_managers_token(client):
    manager, other = ManagerFactory(), ManagerFactory()
    token = api_token_create(user=other, name="theirs")
    with pytest.raises(TeamPermissionDenied):
        api_token_revoke(token_id=token.token.pk, actor=manager)
    client.force_login(manager)
    client.post(reverse("team:token_revoke", args=[token.token.pk]))
    assert ApiClient(token.secret).get(ME).status_code == 200
    assert AuditEntry.objects.count() == 0


def test_members_cannot_see_the_team_tokens(member_client, member):
    token = api_token_create(user=UserFactory(), name="theirs")
    assert member_client.get(reverse("team:tokens")).status_code == 404
    assert (
        member_client.post(reverse("team:token_revoke", args=[token.token.pk])).status_code == 404
    )
    with pytest.raises(TeamPermissionDenied):
        api_token_revoke(token_id=token.token.pk, actor=member)
