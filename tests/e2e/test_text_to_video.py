"""Text-to-video end to end: form -> hold -> django-q2 submit -> simulator over HTTP -> poll
-> capture -> stored, playable video; and a provider failure releasing the hold."""

import av
import pytest
import requests
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from generations.models import (
    CreditAccount,
    Generation,
    ProviderAlert,
    ProviderCircuit,
)
from generations.selectors.ledger import ledger_mismatches
from generations.services.generations import GenerationSpec, generation_create
from generations.services.ledger import credits_grant

from .conftest import drive_until_settled

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {
    "mode": "text-to-video",
    "prompt": "a paper boat drifting down a rainy street",
    "resolution": "480p",
    "duration": "4",
    "sound": "on",
    "aspect_ratio": "16:9",
    "camera_fixed": "on",
}


def create_job(member) -> Generation:
    """Create a 4 s, 480p, silent text-to-video job through the service (40 credits)."""
    spec = GenerationSpec(
        mode="text-to-video", prompt="a quiet harbour", resolution="480p", duration=4, sound=False
    )
    return generation_create(user=member, spec=spec)


def test_success_captures_exactly_the_quoted_price(client, member, simulator):
    credits_grant(user=member, amount=1000, actor=None)
    client.force_login(member)
    quote = client.get(reverse("generations:quote"), FORM).json()
    client.post(reverse("generations:new"), {**FORM, "client_token": "t1"})
    generation = Generation.objects.get()
    assert generation.state == "submitted" and generation.provider_task_id

    generation = drive_until_settled(generation)

    assert generation.state == "succeeded"
    assert generation.result_state == "stored"
    assert generation.cost_time_ms is not None
    stats = requests.get(f"{simulator.base_url}/_sim/stats", timeout=5).json()["data"]
    # Every status request is counted, the final answer's included (issue #18 item 2).
    status_requests = stats["status_requests_per_task"][generation.provider_task_id]
    assert status_requests == generation.poll_count >= 1
    entries = list(generation.credit_entries.order_by("id").values_list("kind", "amount"))
    assert entries == [("hold", -quote["credits"]), ("capture", -quote["credits"])]
    account = CreditAccount.objects.get(user=member)
    assert (account.balance, account.held) == (1000 - quote["credits"], 0)
    with av.open(generation.result_file.path) as container:
        duration = container.duration / av.time_base
        assert abs(duration - 4) < 0.5
        assert container.streams.audio  # sound on
    # Its poster was made from the same download (docs/storage.md "Posters").
    with Image.open(generation.poster.path) as poster:
        assert poster.format == "WEBP" and poster.width <= 640
    page = client.get(generation.get_absolute_url())
    assert b'id="result-video"' in page.content
    assert f'poster="/g/{generation.pk}/poster/"'.encode() in page.content
    video = client.get(reverse("generations:video", args=[generation.pk]))
    assert video.status_code == 200 and video["Content-Type"] == "video/mp4"
    assert ledger_mismatches() == []
    call_command("ledger_check")


def test_a_failed_task_releases_the_hold(client, member, simulator):
    credits_grant(user=member, amount=500, actor=None)
    client.force_login(member)
    client.post(
        reverse("generations:new"),
        {**FORM, "prompt": "a scene the provider refuses [sim:fail=SensitiveContent]"},
    )
    generation = drive_until_settled(Generation.objects.get())

    assert generation.state == "failed"
    assert generation.fail_code == "SensitiveContent"
    assert generation.fail_message
    kinds = list(generation.credit_entries.order_by("id").values_list("kind", flat=True))
    assert kinds == ["hold", "release"]
    account = CreditAccount.objects.get(user=member)
    assert (account.balance, account.held) == (500, 0)
    page = client.get(generation.get_absolute_url())
    assert generation.fail_message.encode() in page.content
    assert ledger_mismatches() == []


def test_a_refused_key_pauses_the_provider_and_the_job_resumes_when_it_works(
    member, simulator, settings
):
    """Issue #12 item 1: a 401 keeps the job and its hold; a probe resumes it."""
    key = settings.APIXO_API_KEY
    settings.APIXO_API_KEY = "wrong-key"  # the simulator answers 401
    credits_grant(user=member, amount=500, actor=None)
    generation = create_job(member)
    generation.refresh_from_db()
    assert (generation.state, generation.submit_attempts) == ("queued", 0)
    assert CreditAccount.objects.get(user=member).held == 40
    assert ProviderCircuit.objects.get(provider="apixo").is_open
    assert ProviderAlert.objects.get().kind == "http_401"

    settings.APIXO_API_KEY = key  # the operator fixes the key; the next probe sees it
    generation = drive_until_settled(generation)

    assert generation.state == "succeeded"
    assert not ProviderCircuit.objects.get(provider="apixo").is_open
    assert not ProviderAlert.objects.unresolved().exists()
    kinds = generation.credit_entries.order_by("id").values_list("kind", flat=True)
    assert list(kinds) == ["hold", "capture"]
    assert ledger_mismatches() == []


def test_rate_limited_submits_are_retried_with_backoff(member, simulator, settings):
    requests.post(f"{simulator.base_url}/_sim/config", json={"rate_429": 1.0}, timeout=5)
    credits_grant(user=member, amount=500, actor=None)
    generation = create_job(member)
    generation.refresh_from_db()
    assert generation.state == "queued"  # waiting for its retry, hold still in place
    # A 429 created nothing: a refusal, not an attempt (it backs off until the deadline).
    assert (generation.submit_attempts, generation.submit_refusals) == (0, 1)
    assert generation.next_action_at is not None
    assert CreditAccount.objects.get(user=member).held == 40

    requests.post(f"{simulator.base_url}/_sim/config", json={"rate_429": 0.0}, timeout=5)
    Generation.objects.filter(pk=generation.pk).update(next_action_at=generation.created_at)
    generation = drive_until_settled(generation)
    assert generation.state == "succeeded"
    assert (generation.submit_attempts, generation.submit_refusals) == (1, 1)
    assert ledger_mismatches() == []
