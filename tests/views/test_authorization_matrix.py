"""Authorization matrix, walked over every named URL so that a new view cannot be forgotten.

docs/architecture.md "What must hold": a user never sees, downloads or changes another user's
generations, inputs or ledger (404), except managers through the manager views and the admin.
Every URL name must be classified below; an unclassified one fails the first test.
"""

import pytest
from django.urls import reverse

from generations.models import Generation, GenerationInput
from generations.services.team import member_manager_set

from ..factories import GenerationFactory, ManagerFactory, UserFactory
from ..url_walk import named_patterns, sample_kwargs

pytestmark = pytest.mark.django_db

# No login: the auth pages, the invitee's page, and token-guarded machine endpoints.
PUBLIC = {
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "invitation_accept",
    "public_input",
    "generation_webhook",
    # Operations (issue #13): health for load balancers; /metrics wants METRICS_TOKEN.
    "healthz",
    "readyz",
    "metrics",
    # Languages (docs/i18n.md): the switch works on the login page too; the JS catalog.
    "set_language",
    "javascript-catalog",
    # A redirect to static/favicon.svg (docs/formats.md "Favicon").
    "favicon",
}
# Managers only; members get a 404, anonymous users the login page.
MANAGER = {
    "team:members",
    "team:credits",
    "team:invite",
    "team:invite_revoke",
    "team:cap",
    "team:active",
    "team:manager",
    "team:audit",
    "generations:team_spend",
    "generations:team_spend_csv",
    "provider_alert_resolve",
    "team:tokens",
    "team:token_revoke",
}
# One generation (and its inputs) in the URL: its owner only, 404 for anyone else.
OWNED = {
    "generations:detail",
    "generations:card",
    "generations:status",
    "generations:video",
    "generations:poster",
    "generations:input_thumbnail",
    "generations:favourite",
    # Sharing is the owner's (a manager may only unshare: tests/views/test_team_library.py).
    "generations:share",
}
# Of those, the ones that answer POST only (a GET is a 405 for anyone).
OWNED_POST = {"generations:favourite", "generations:share"}
# Any signed-in member, about their own data only (no object id in the URL).
MEMBER = {
    "generations:list",
    # Every member's shared videos, and only those (docs/gallery.md "Team library").
    "generations:library",
    "generations:new",
    "generations:quote",
    "generations:credits",
    "generations:credits_request",
    "generations:updates",
    # The gallery's bulk actions: ids in the form, the member's own acted on, others skipped.
    "generations:bulk",
    "generations:bulk_delete",
    "generations:usage",
    "generations:statement_csv",
    "profile",
    "password_change",
    "password_change_done",
    # The profile's API section: the member's own tokens and webhook endpoints (404 for others').
    "api_token_create",
    "api_token_revoke",
    "webhook_create",
    "webhook_delete",
    "webhook_enable",
}
# The REST API (docs/api.md): a bearer token, never the session; tested in tests/api/.
API_PREFIX = "api-v1:"


def test_every_url_is_classified():
    names = {name for name, _ in named_patterns() if not name.startswith(API_PREFIX)}
    unclassified = names - PUBLIC - MANAGER - OWNED - MEMBER
    assert not unclassified, f"classify these URL names in this test: {sorted(unclassified)}"


def manager_urls():
    for name, pattern in named_patterns():
        if name in MANAGER:
            yield name, reverse(name, kwargs=sample_kwargs(pattern))


def test_members_get_a_404_from_every_manager_url(member_client):
    checked = 0
    for name, url in manager_urls():
        assert member_client.get(url).status_code == 404, name
        assert member_client.post(url, {}).status_code == 404, name
        checked += 1
    assert checked >= 8


def test_anonymous_users_are_sent_to_login_from_every_manager_url(client):
    for name, url in manager_urls():
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), name


def test_managers_reach_every_manager_page(client):
    client.force_login(ManagerFactory())
    for name, url in manager_urls():
        assert client.get(url).status_code in (200, 405), name  # 405: POST-only actions


def test_another_members_generation_is_a_404_everywhere(member_client):
    theirs = GenerationFactory(
        user=UserFactory(), state="succeeded", result_state="stored", result_file="results/x.mp4"
    )
    their_input = GenerationInput.objects.create(
        generation=theirs, kind="image", file="inputs/x.png", thumbnail="inputs/t.jpg"
    )
    kwargs = {"pk": theirs.pk, "input_pk": their_input.pk}
    checked = 0
    for name, pattern in named_patterns():
        if name not in OWNED:
            continue
        url = reverse(name, kwargs={k: kwargs[k] for k in pattern.pattern.converters})
        send = member_client.post if name in OWNED_POST else member_client.get
        assert send(url).status_code == 404, name
        checked += 1
    assert checked == len(OWNED)
    # Nor can the member reach it through the forms: reuse or extend.
    again = member_client.get(reverse("generations:new"), {"again": theirs.pk})
    assert theirs.prompt not in again.content.decode()


@pytest.mark.parametrize("action", ["download", "favourite", "again", "hide", "unhide", "delete"])
def test_bulk_actions_never_touch_another_members_generation(member_client, action):
    """docs/storage.md "Bulk actions": another member's ids are skipped, never acted on."""
    theirs = GenerationFactory(
        user=UserFactory(), state="succeeded", result_state="stored", result_file="results/x.mp4"
    )
    data = {"action": action, "ids": [theirs.pk], "confirmed": "1"}
    response = member_client.post(reverse("generations:bulk"), data)
    assert response.status_code == 302  # back to the gallery with a message, never a ZIP
    fresh = Generation.objects.get(pk=theirs.pk)
    assert (fresh.hidden_at, fresh.deleted_at, fresh.favourite) == (None, None, False)
    assert fresh.result_file.name == "results/x.mp4"
    assert Generation.objects.count() == 1  # "again" made no job
    confirm = member_client.get(reverse("generations:bulk_delete"), {"ids": theirs.pk})
    assert theirs.prompt not in confirm.content.decode()


def test_member_pages_never_show_another_members_data(member_client, member):
    other = UserFactory(username="someone-else", credits=777)
    GenerationFactory(user=other, prompt="their private prompt")
    for name, pattern in named_patterns():
        if name not in MEMBER or name == "generations:quote":
            continue
        response = member_client.get(reverse(name, kwargs=sample_kwargs(pattern)))
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"their private prompt" not in body, name
        assert b"someone-else" not in body, name


def test_the_admin_opens_to_managers_made_on_the_team_page_and_not_to_members(client, member):
    """Issue #12 item 7: "Make manager" gives the Managers group and ``is_staff`` together,
    so a manager reaches the admin without being a superuser; a member does not."""
    client.force_login(member)
    assert client.get(reverse("admin:index")).status_code == 302  # the admin's login page
    root = UserFactory(is_staff=True, is_superuser=True)
    member_manager_set(user=member, manager=True, actor=root)
    client.force_login(member)
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert reverse("admin:generations_generation_changelist") in index.content.decode()
    assert reverse("admin:generations_user_changelist") not in index.content.decode()
    member_manager_set(user=member, manager=False, actor=root)
    assert client.get(reverse("admin:index")).status_code == 302
