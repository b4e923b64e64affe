"""Image-to-video end to end: uploaded frames -> public input URLs the simulator fetches ->
stored video; a URL frame; an unreachable input URL failing the task and releasing the hold."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generations.models import CreditAccount, Generation
from generations.selectors.ledger import ledger_mismatches
from generations.services.ledger import credits_grant

from ..media import image_bytes
from .conftest import drive_until_settled

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {
    "mode": "image-to-video",
    "prompt": "the cat turns its head towards the window",
    "resolution": "480p",
    "duration": "4",
    "sound": "off",
    "aspect_ratio": "16:9",
}


def test_two_uploaded_frames_give_a_video_and_capture_the_price(client, member, simulator, portal):
    credits_grant(user=member, amount=1000, actor=None)
    client.force_login(member)
    files = {
        "start_image": SimpleUploadedFile("start.png", image_bytes("PNG"), "image/png"),
        "end_image": SimpleUploadedFile("end.jpg", image_bytes("JPEG"), "image/jpeg"),
    }
    response = client.post(reverse("generations:new"), {**FORM, **files})
    generation = Generation.objects.get()
    assert response.status_code == 302
    inputs = list(generation.inputs.order_by("position"))
    assert [(i.kind, i.position, i.content_type) for i in inputs] == [
        ("image", 0, "image/png"),
        ("image", 1, "image/jpeg"),
    ]
    assert all(i.thumbnail for i in inputs)

    generation = drive_until_settled(generation)

    assert generation.state == "succeeded", generation.fail_message
    assert generation.result_state == "stored"
    entries = list(generation.credit_entries.order_by("id").values_list("kind", "amount"))
    assert entries == [("hold", -40), ("capture", -40)]  # 480p silent: 10 credits/s x 4 s
    assert CreditAccount.objects.get(user=member).balance == 960
    # The inputs stay public until the job is final plus the margin, then stop working.
    for generation_input in generation.inputs.all():
        assert generation_input.expires_at is not None
    page = client.get(generation.get_absolute_url())
    assert page.content.count(b'class="thumb"') == 2
    assert ledger_mismatches() == []


def test_a_public_image_url_is_sent_as_given(client, member, simulator, portal):
    credits_grant(user=member, amount=1000, actor=None)
    client.force_login(member)
    url = f"{simulator.base_url}/samples/frame.png"
    client.post(reverse("generations:new"), {**FORM, "start_image_url": url})
    generation = Generation.objects.get()
    assert generation.inputs.get().source_url == url
    generation = drive_until_settled(generation)
    assert generation.state == "succeeded", generation.fail_message


def test_an_unreachable_input_fails_the_task_and_releases_the_hold(
    client, member, simulator, portal
):
    credits_grant(user=member, amount=1000, actor=None)
    client.force_login(member)
    url = f"{simulator.base_url}/samples/missing.png"
    client.post(reverse("generations:new"), {**FORM, "start_image_url": url})
    generation = drive_until_settled(Generation.objects.get())

    assert generation.state == "failed"
    assert generation.fail_code == "INVALID_IMAGE_URL"
    entries = list(generation.credit_entries.order_by("id").values_list("kind", "amount"))
    assert entries == [("hold", -40), ("release", 40)]
    assert CreditAccount.objects.get(user=member).balance == 1000
    assert ledger_mismatches() == []
