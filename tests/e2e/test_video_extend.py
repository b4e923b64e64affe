"""Video-extend end to end: a member's finished video, an uploaded clip and a public URL as
the source; the stitched result is longer than the source by the requested duration."""

import av
import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from generations.models import CreditAccount, Generation
from generations.selectors.ledger import ledger_mismatches
from generations.services.ledger import credits_grant

from .conftest import drive_until_settled
from .test_text_to_video import create_job

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {
    "mode": "video-extend",
    "prompt": "the boat sails on into the storm",
    "resolution": "480p",
    "duration": "4",
    "sound": "off",
    "camera_fixed": "on",
    "seed": "42",
}


def duration_of(path) -> float:
    with av.open(str(path)) as container:
        return container.duration / av.time_base


def test_extending_a_finished_generation_chains_them(client, member, simulator, portal):
    credits_grant(user=member, amount=1000, actor=None)
    source = drive_until_settled(create_job(member))  # 4 s text-to-video, 40 credits
    assert source.has_video
    client.force_login(member)

    form_page = client.get(reverse("generations:new"), {"extend": source.pk})
    assert form_page.context["form"].initial["source_generation"] == source.pk
    assert form_page.context["source"] == source
    client.post(reverse("generations:new"), {**FORM, "source_generation": source.pk})
    extension = Generation.objects.exclude(pk=source.pk).get()
    assert extension.source_generation == source
    assert extension.model_id == "seedance-1-5-pro-extend"
    video_input = extension.inputs.get()
    assert video_input.file.name == source.result_file.name  # no copy of the source

    extension = drive_until_settled(extension)

    assert extension.state == "succeeded", extension.fail_message
    entries = list(extension.credit_entries.order_by("id").values_list("kind", "amount"))
    assert entries == [("hold", -48), ("capture", -48)]  # extend 480p silent: 12/s x 4 s
    assert CreditAccount.objects.get(user=member).balance == 1000 - 40 - 48
    assert (
        abs(duration_of(extension.result_file.path) - (duration_of(source.result_file.path) + 4))
        < 0.5
    )
    task = requests.get(f"{simulator.base_url}/_sim/tasks", timeout=5).json()["data"]
    sent = next(t for t in task if t["taskId"] == extension.provider_task_id)["request"]
    assert sent["input"]["seed"] == 42 and sent["input"]["camera_fixed"] is True
    assert "aspect_ratio" not in sent["input"]
    source_page = client.get(source.get_absolute_url()).content.decode()
    assert f'Extended by <a href="{extension.get_absolute_url()}">' in source_page
    extension_page = client.get(extension.get_absolute_url()).content.decode()
    assert f'Extends <a href="{source.get_absolute_url()}">' in extension_page
    call_command("ledger_check")


def test_an_uploaded_clip_is_extended(client, member, simulator, portal):
    credits_grant(user=member, amount=1000, actor=None)
    clip = requests.get(f"{simulator.base_url}/samples/clip.mp4", timeout=30).content
    client.force_login(member)
    upload = SimpleUploadedFile("holiday.mp4", clip, "video/mp4")
    client.post(reverse("generations:new"), {**FORM, "source_video": upload})
    generation = drive_until_settled(Generation.objects.get())
    assert generation.state == "succeeded", generation.fail_message
    assert abs(duration_of(generation.result_file.path) - 8) < 0.5
    assert ledger_mismatches() == []


def test_a_source_that_is_not_a_video_fails_the_task_and_releases(client, member, simulator):
    credits_grant(user=member, amount=1000, actor=None)
    client.force_login(member)
    url = f"{simulator.base_url}/samples/frame.png"
    client.post(reverse("generations:new"), {**FORM, "source_video_url": url})
    generation = drive_until_settled(Generation.objects.get())
    assert generation.state == "failed"
    assert generation.fail_code == "INVALID_PARAMETER"
    entries = list(generation.credit_entries.order_by("id").values_list("kind", "amount"))
    assert entries == [("hold", -48), ("release", 48)]
    assert CreditAccount.objects.get(user=member).balance == 1000
