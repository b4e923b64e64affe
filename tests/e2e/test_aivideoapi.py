"""aivideoapi.ai end to end (issue #7): the portal and the simulator over HTTP, both providers.

Prices (docs/prices.md "Default price table", credits per second): aivideoapi.ai 1080p 75 silent /
150 with sound, 720p 35 / 70, 480p 15 / 35; APIXO 720p 20 / 40.
"""

import time
from datetime import timedelta

import av
import pytest
import requests
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from generations.models import CreditAccount, Generation
from generations.selectors.ledger import ledger_mismatches
from generations.services.dispatch import dispatch_pass
from generations.services.ledger import credits_grant
from generations.services.sweeper import generations_sweep

from .conftest import drive_until_settled

pytestmark = pytest.mark.django_db(transaction=True)
State = Generation.State
FORM = {
    "mode": "text-to-video",
    "prompt": "a paper lantern rising over a night market, slow tilt up",
    "resolution": "1080p",
    "duration": "4",
    "sound": "off",
    "aspect_ratio": "16:9",
    "provider": "aivideoapi",
}


def sim(simulator, path: str, **knobs):
    """Read (or, with knobs, change) the aivideoapi.ai simulator's controls."""
    url = f"{simulator.base_url}/aivideoapi/_sim/{path}"
    answer = requests.post(url, json=knobs, timeout=5) if knobs else requests.get(url, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def delivered_task(simulator, timeout: float = 10.0) -> dict:
    """Return the only task once a callback delivery is recorded.

    The simulator records a delivery when the portal's answer is back; the job is finalized
    inside that request, so a test can see it final a moment before the record exists.
    """
    deadline = time.monotonic() + timeout
    while True:
        (task,) = sim(simulator, "tasks")
        if task["callbacks"] or time.monotonic() > deadline:
            return task
        time.sleep(0.05)


def entries(generation: Generation) -> list[tuple[str, int]]:
    return list(generation.credit_entries.order_by("id").values_list("kind", "amount"))


def test_text_to_video_at_1080p_in_callback_mode(client, member, simulator, live_server, settings):
    settings.CALLBACK_ALLOW_HTTP = True
    settings.PORTAL_ADDRESS = live_server.url.removeprefix("http://")
    settings.POLL_TIME_SCALE = 100.0
    credits_grant(user=member, amount=1000, actor=None)
    client.force_login(member)
    client.post(reverse("generations:new"), {**FORM, "sound": "on"})
    generation = Generation.objects.get()
    assert generation.uses_callback and generation.price_credits == 4 * 150

    generation = drive_until_settled(generation)

    assert (generation.state, generation.result_state) == (State.SUCCEEDED, "stored")
    task = delivered_task(simulator)
    assert [c["status"] for c in task["callbacks"]] == [200]
    assert task["statusRequests"] == generation.poll_count == 1  # the confirmation, counted
    assert entries(generation) == [("hold", -600), ("capture", -600)]
    assert ledger_mismatches() == []


def test_text_to_video_at_1080p_by_polling_captures_exactly_its_price(client, member, simulator):
    credits_grant(user=member, amount=1000, actor=None)
    client.force_login(member)
    quote = client.get(reverse("generations:quote"), FORM).json()
    assert (quote["provider"], quote["credits"]) == ("aivideoapi", 300)
    client.post(reverse("generations:new"), FORM)
    generation = Generation.objects.get()
    assert (generation.provider, generation.model_id) == ("aivideoapi", "doubao-seedance-1.5-pro")
    assert not generation.uses_callback

    generation = drive_until_settled(generation)

    assert (generation.state, generation.result_state) == (State.SUCCEEDED, "stored")
    (task,) = sim(simulator, "tasks")
    assert task["taskId"] == generation.provider_task_id
    assert task["request"] == {
        "model": "doubao-seedance-1.5-pro",
        "input": {
            "prompt": FORM["prompt"],
            "duration": 4,
            "aspect_ratio": "16:9",
            "resolution": "1080p",
            "generate_audio": False,
            "camera_fixed": False,
        },
    }
    assert task["statusRequests"] == generation.poll_count
    assert entries(generation) == [("hold", -300), ("capture", -300)]
    account = CreditAccount.objects.get(user=member)
    assert (account.balance, account.held) == (700, 0)
    with av.open(generation.result_file.path) as container:
        assert abs(container.duration / av.time_base - 4) < 0.5
        assert not container.streams.audio  # generate_audio false
    page = client.get(generation.get_absolute_url()).content.decode()
    assert "aivideoapi.ai" in page and generation.provider_task_id in page
    call_command("ledger_check")


@pytest.mark.parametrize("callbacks", [True, False], ids=["callback", "polling"])
def test_image_to_video_with_two_frames(
    client, member, simulator, live_server, settings, callbacks
):
    settings.PUBLIC_BASE_URL = live_server.url  # the simulator fetches nothing from it here
    if callbacks:
        settings.CALLBACK_ALLOW_HTTP = True
        settings.POLL_TIME_SCALE = 100.0  # the safety-net poll would come much later
    credits_grant(user=member, amount=2000, actor=None)
    client.force_login(member)
    client.post(
        reverse("generations:new"),
        {
            **FORM,
            "mode": "image-to-video",
            "resolution": "720p",
            "duration": "5",
            "sound": "on",
            "start_image_url": f"{simulator.base_url}/samples/frame.png",
            "end_image_url": f"{simulator.base_url}/samples/frame.jpg",
        },
    )
    generation = Generation.objects.get()
    assert generation.uses_callback is callbacks
    assert generation.price_credits == 5 * 70

    generation = drive_until_settled(generation, timeout=30)

    assert (generation.state, generation.result_state) == (State.SUCCEEDED, "stored")
    task = delivered_task(simulator) if callbacks else sim(simulator, "tasks")[0]
    assert task["request"]["input"]["image_urls"] == [
        f"{simulator.base_url}/samples/frame.png",
        f"{simulator.base_url}/samples/frame.jpg",
    ]
    if callbacks:
        hook = task["request"]["callback_url"]
        assert hook.startswith(f"{live_server.url}/webhooks/generations/")
        assert [c["status"] for c in task["callbacks"]] == [200]
        # the webhook's confirmation read, counted on the job too; no poll
        assert task["statusRequests"] == generation.poll_count == 1
    else:
        assert "callback_url" not in task["request"] and task["callbacks"] == []
        assert task["statusRequests"] == generation.poll_count
    assert entries(generation) == [("hold", -350), ("capture", -350)]
    assert ledger_mismatches() == []


def test_a_failed_task_releases_the_hold(member, client, simulator):
    credits_grant(user=member, amount=1000, actor=None)
    client.force_login(member)
    client.post(
        reverse("generations:new"),
        {**FORM, "prompt": "a scene upstream refuses [sim:fail=upstream_error]"},
    )
    generation = drive_until_settled(Generation.objects.get())

    assert generation.state == State.FAILED
    assert generation.fail_code == "upstream_error"
    assert entries(generation) == [("hold", -300), ("release", 300)]
    assert ledger_mismatches() == []


def test_failover_completes_at_aivideoapi_when_apixo_answers_503(
    client, member, simulator, settings
):
    settings.PROVIDER_FAILOVER = True
    answer = requests.post(f"{simulator.base_url}/_sim/config", json={"rate_5xx": 1.0}, timeout=5)
    assert answer.status_code == 200
    credits_grant(user=member, amount=1000, actor=None)
    client.force_login(member)
    client.post(reverse("generations:new"), {**FORM, "resolution": "720p", "provider": "apixo"})
    generation = Generation.objects.get()
    assert (generation.provider, generation.price_credits) == ("apixo", 80)

    generation = drive_until_settled(generation, skip_backoff=True)

    assert (generation.state, generation.provider) == (State.SUCCEEDED, "aivideoapi")
    assert generation.failover_from == "apixo"
    assert generation.price_credits == 4 * 35
    # The difference (140 - 80) shows in the ledger: the APIXO hold released, the new held.
    assert entries(generation) == [
        ("hold", -80),
        ("release", 80),
        ("hold", -140),
        ("capture", -140),
    ]
    account = CreditAccount.objects.get(user=member)
    assert (account.balance, account.held) == (860, 0)
    stats = requests.get(f"{simulator.base_url}/_sim/stats", timeout=5).json()["data"]
    assert stats["requests"]["generateTask"] >= 6
    page = client.get(generation.get_absolute_url()).content.decode()
    assert 'id="failover-note"' in page
    call_command("ledger_check")


def test_failover_is_skipped_when_the_balance_is_short(client, member, simulator, settings):
    settings.PROVIDER_FAILOVER = True
    requests.post(f"{simulator.base_url}/_sim/config", json={"rate_5xx": 1.0}, timeout=5)
    credits_grant(user=member, amount=100, actor=None)  # covers APIXO's 80, not 140
    client.force_login(member)
    client.post(reverse("generations:new"), {**FORM, "resolution": "720p", "provider": "apixo"})

    # The simulator's 5xx are APIXO's own error bodies: nothing was created, so the job backs
    # off until its deadline (docs/architecture.md "What must hold"); from the sixth refusal
    # each one tries the failover, which the balance does not cover.
    generation = Generation.objects.get()
    give_up = time.monotonic() + 30
    while "was skipped" not in generation.fail_message and time.monotonic() < give_up:
        Generation.objects.filter(pk=generation.pk, state=State.QUEUED).update(
            next_action_at=timezone.now()
        )
        dispatch_pass(interval_seconds=0.1)
        generation.refresh_from_db()

    assert (generation.state, generation.provider) == (State.QUEUED, "apixo")
    assert "Failover to aivideoapi.ai at its price was skipped" in generation.fail_message
    assert entries(generation) == [("hold", -80)]
    assert sim(simulator, "tasks") == []

    generations_sweep(now=generation.deadline_at + timedelta(seconds=1))
    generation.refresh_from_db()
    assert generation.state == State.EXPIRED
    assert entries(generation) == [("hold", -80), ("release", 80)]
    account = CreditAccount.objects.get(user=member)
    assert (account.balance, account.held) == (100, 0)
    call_command("ledger_check")
