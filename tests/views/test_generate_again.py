""" "Generate again" and "Extend": the form opens pre-filled from the member's own job only."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generations.models import Generation, GenerationInput

from ..factories import GenerationFactory, UserFactory
from ..media import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def framed(settings, tmp_path, member):
    """A finished image-to-video job of ``member`` with an uploaded start frame."""
    settings.MEDIA_ROOT = str(tmp_path)
    generation = GenerationFactory(
        user=member,
        mode="image-to-video",
        state="succeeded",
        resolution="720p",
        duration=6,
        sound=True,
        aspect_ratio="9:16",
        camera_fixed=True,
        prompt="a dancer spins under a streetlight",
    )
    start = GenerationInput(generation=generation, kind="image", content_type="image/png")
    start.file.save("start.png", ContentFile(image_bytes("PNG")), save=False)
    start.thumbnail.save("thumb.jpg", ContentFile(image_bytes("JPEG")), save=False)
    start.save()
    return generation


def test_generate_again_prefills_settings_and_inputs(member_client, framed):
    response = member_client.get(reverse("generations:new"), {"again": framed.pk})
    form = response.context["form"]
    assert form.initial["mode"] == "image-to-video"
    assert form.initial["prompt"] == framed.prompt
    assert (form.initial["resolution"], form.initial["duration"]) == ("720p", 6)
    assert (form.initial["sound"], form.initial["aspect_ratio"]) == ("on", "9:16")
    assert form.initial["camera_fixed"] is True
    assert form.initial["inputs_from"] == framed.pk
    html = response.content.decode()
    assert reverse("generations:input_thumbnail", args=[framed.pk, framed.inputs.get().pk]) in html


def test_submitting_it_reuses_the_stored_frame_with_a_new_token(member, member_client, framed):
    from generations.services.ledger import credits_grant

    credits_grant(user=member, amount=1000, actor=None)
    data = {
        "mode": "image-to-video",
        "prompt": framed.prompt,
        "resolution": "720p",
        "duration": "6",
        "sound": "on",
        "aspect_ratio": "9:16",
        "inputs_from": framed.pk,
    }
    response = member_client.post(reverse("generations:new"), data)
    assert response.status_code == 302, response.context["form"].errors
    again = Generation.objects.exclude(pk=framed.pk).get()
    old, new = framed.inputs.get(), again.inputs.get()
    assert new.file.name == old.file.name and new.thumbnail.name == old.thumbnail.name
    assert new.public_token != old.public_token


def test_another_members_job_does_not_prefill(member_client):
    theirs = GenerationFactory(user=UserFactory(), prompt="their secret prompt")
    response = member_client.get(reverse("generations:new"), {"again": theirs.pk})
    assert "their secret prompt" not in response.content.decode()
    assert "inputs_from" not in response.context["form"].initial


def test_extend_opens_the_extend_tab_with_camera_fixed_on(member_client, member):
    finished = GenerationFactory(
        user=member, state="succeeded", result_state="stored", result_file="results/a.mp4"
    )
    response = member_client.get(reverse("generations:new"), {"extend": finished.pk})
    assert response.context["mode"] == "video-extend"
    assert response.context["source"] == finished
    assert response.context["form"].initial["camera_fixed"] is True
    assert 'id="source-preview"' in response.content.decode()


def test_every_mode_tab_renders_only_its_fields_enabled(member_client):
    for mode, enabled, disabled in [
        ("text-to-video", "aspect_ratio", "start_image"),
        ("image-to-video", "start_image", "seed"),
        ("video-extend", "seed", "aspect_ratio"),
    ]:
        html = member_client.get(reverse("generations:new"), {"mode": mode}).content.decode()
        assert f'value="{mode}" id="id_mode"' in html
        enabled_at = html.index(f'name="{enabled}"')
        disabled_at = html.index(f'name="{disabled}"')
        # The field sits in a fieldset that is disabled unless the mode uses it.
        assert "disabled" not in html[html.rindex("<fieldset", 0, enabled_at) : enabled_at]
        assert "hidden disabled" in html[html.rindex("<fieldset", 0, disabled_at) : disabled_at]
