"""Member pages: the form holds credits once, prices live, and scopes every object to its owner."""

import pytest
from django.urls import reverse

from generations.models import CreditAccount, Generation
from generations.services.ledger import credits_grant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

POST = {
    "mode": "text-to-video",
    "prompt": "a red kite over green hills",
    "resolution": "480p",
    "duration": "4",
    "sound": "on",
    "aspect_ratio": "16:9",
    "client_token": "c0ffee",
}


@pytest.fixture
def rich_member(member):
    credits_grant(user=member, amount=1000, actor=None)
    return member


def test_new_generation_page_renders_with_a_one_time_key(member_client):
    response = member_client.get(reverse("generations:new"))
    assert response.status_code == 200
    assert response.context["form"].initial["client_token"]


def test_submit_holds_the_price_and_queues_one_generation(
    client, rich_member, django_capture_on_commit_callbacks, monkeypatch
):
    client.force_login(rich_member)
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda name, *a, **k: queued.append(name))
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("generations:new"), POST)
    assert queued == []  # nothing is enqueued before the transaction commits
    for callback in callbacks:
        callback()
    generation = Generation.objects.get()
    assert response.status_code == 302 and response.url == generation.get_absolute_url()
    assert (generation.state, generation.price_credits) == ("queued", 80)  # 20/s x 4 s
    account = CreditAccount.objects.get(user=rich_member)
    assert (account.balance, account.held) == (920, 80)
    assert queued == ["generations.tasks.submit_generation"]  # once, on commit


def test_a_double_submit_creates_one_generation(client, rich_member):
    client.force_login(rich_member)
    first = client.post(reverse("generations:new"), POST)
    second = client.post(reverse("generations:new"), POST)
    assert first.url == second.url
    assert Generation.objects.count() == 1
    assert CreditAccount.objects.get(user=rich_member).held == 80


def test_a_short_balance_is_an_error_by_the_submit_button_and_writes_nothing(member_client, member):
    credits_grant(user=member, amount=50, actor=None)
    response = member_client.post(reverse("generations:new"), POST)
    assert response.status_code == 200
    assert "only 50 are available" in response.context["form"].non_field_errors()[0]
    assert Generation.objects.count() == 0
    assert CreditAccount.objects.get(user=member).balance == 50


def test_invalid_input_is_shown_next_to_the_field(member_client, rich_member):
    response = member_client.post(reverse("generations:new"), {**POST, "prompt": " a "})
    assert response.status_code == 200
    assert b'id="id_prompt_error"' in response.content
    assert Generation.objects.count() == 0


def test_quote_returns_the_server_price(member_client):
    response = member_client.get(
        reverse("generations:quote"),
        {"mode": "text-to-video", "resolution": "720p", "duration": "8", "sound": "on"},
    )
    data = response.json()
    assert (data["credits"], data["usd"], data["credits_per_second"]) == (320, "0.320", 40)
    assert data["affordable"] is False


def test_quote_reports_field_errors(member_client):
    response = member_client.get(
        reverse("generations:quote"),
        {
            "mode": "text-to-video",
            "resolution": "1080p",
            "duration": "8",
            "sound": "on",
            "provider": "apixo",
        },
    )
    assert response.status_code == 400
    assert "1080p" in response.json()["errors"]["resolution"]


def test_another_members_generation_is_a_404(client, rich_member):
    client.force_login(rich_member)
    client.post(reverse("generations:new"), POST)
    generation = Generation.objects.get()
    client.force_login(UserFactory())
    for name in ("detail", "card", "status", "video"):
        assert client.get(reverse(f"generations:{name}", args=[generation.pk])).status_code == 404


def test_gallery_search_filter_and_empty_state(client, rich_member):
    client.force_login(rich_member)
    empty = client.get(reverse("generations:list"))
    assert b"No videos yet" in empty.content
    client.post(reverse("generations:new"), POST)
    client.post(reverse("generations:new"), {**POST, "prompt": "a blue whale", "client_token": "2"})
    assert len(client.get(reverse("generations:list")).context["generations"]) == 2
    found = client.get(reverse("generations:list"), {"q": "whale"}).context["generations"]
    assert [g.prompt for g in found] == ["a blue whale"]
    none = client.get(reverse("generations:list"), {"state": "succeeded"})
    assert b"No video matches these filters" in none.content
    assert b"Clear filters" in none.content
