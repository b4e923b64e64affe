"""Validation matrices of image-to-video and video-extend, through the page and the command.

docs/providers/apixo.md "Parameters" (1-2 images: start frame, optional end frame; 480p/720p; six
aspect ratios), docs/providers/apixo.md "Parameters" (exactly one source video; 480p/720p/1080p;
seed 0-2147483647; no aspect ratio), docs/providers/apixo.md "Image formats" (JPG, PNG, WebP up to
10 MB). Every refusal is a message next to its field, and nothing is written: no generation, no
input, no ledger entry, no file.
"""

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from generations.forms import GenerationForm
from generations.models import CreditEntry, Generation, GenerationInput

from ..factories import GenerationFactory, UserFactory
from ..media import image_bytes

pytestmark = pytest.mark.django_db

PUBLIC_PNG = "http://93.184.215.14/frame.png"  # a public address literal: no DNS needed
PUBLIC_MP4 = "http://93.184.215.14/clip.mp4"

IMAGE = {
    "mode": "image-to-video",
    "prompt": "the cat turns its head towards the window",
    "resolution": "720p",
    "duration": "5",
    "sound": "off",
    "aspect_ratio": "16:9",
}
EXTEND = {
    "mode": "video-extend",
    "prompt": "the boat sails on into the storm",
    "resolution": "1080p",
    "duration": "6",
    "sound": "on",
    "camera_fixed": "on",
}


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    return tmp_path / "media"


def png(name="start.png"):
    return SimpleUploadedFile(name, image_bytes("PNG"), "image/png")


def errors_for(data, files=None, user=None):
    form = GenerationForm(data=data, files=files or {}, user=user)
    form.is_valid()
    return form.errors


def nothing_written(media_root) -> bool:
    files = [f for _, _, names in os.walk(media_root) for f in names] if media_root.exists() else []
    counts = (
        Generation.objects.count(),
        GenerationInput.objects.count(),
        CreditEntry.objects.count(),
    )
    return counts == (0, 0, 0) and files == []


class TestImageToVideo:
    def test_one_url_frame_is_valid(self):
        form = GenerationForm(data={**IMAGE, "start_image_url": PUBLIC_PNG})
        assert form.is_valid(), form.errors
        spec = form.to_spec()
        assert [(i.kind, i.position, i.url) for i in spec.inputs] == [("image", 0, PUBLIC_PNG)]

    def test_upload_start_and_url_end_frame(self):
        form = GenerationForm(
            data={**IMAGE, "end_image_url": PUBLIC_PNG}, files={"start_image": png()}
        )
        assert form.is_valid(), form.errors
        start, end = form.to_spec().inputs
        assert (start.position, start.content_type, bool(start.content)) == (0, "image/png", True)
        assert (end.position, end.url) == (1, PUBLIC_PNG)

    @pytest.mark.parametrize(
        ("changes", "files", "field", "message"),
        [
            ({}, {}, "start_image", "Add a start frame"),
            ({"end_image_url": PUBLIC_PNG}, {}, "start_image", "An end frame needs a start frame"),
            ({"start_image_url": PUBLIC_PNG}, {"start_image": "png"}, "start_image", "not both"),
            (
                {"start_image_url": PUBLIC_PNG, "resolution": "1080p", "provider": "apixo"},
                {},
                "resolution",
                "APIXO does not offer 1080p for image to video",
            ),
            ({"start_image_url": PUBLIC_PNG, "aspect_ratio": ""}, {}, "aspect_ratio", "Choose an"),
            ({"start_image_url": PUBLIC_PNG, "seed": "7"}, {}, "seed", "does not take"),
            (
                {"start_image_url": PUBLIC_PNG, "source_video_url": PUBLIC_MP4},
                {},
                "source_video_url",
                "does not take",
            ),
            ({"start_image_url": "ftp://93.184.215.14/a"}, {}, "start_image_url", "Only http"),
            (
                {"start_image_url": "http://127.0.0.1:9/a.png"},
                {},
                "start_image_url",
                "private or local network",
            ),
            ({"start_image_url": "http://10.0.0.5/a.png"}, {}, "start_image_url", "private"),
            (
                {"start_image_url": "http://169.254.169.254/latest"},
                {},
                "start_image_url",
                "private",
            ),
            ({"start_image_url": PUBLIC_PNG, "prompt": "ab"}, {}, "prompt", "at least 3"),
            ({"start_image_url": PUBLIC_PNG, "prompt": "x" * 2501}, {}, "prompt", "within 2,500"),
        ],
    )
    def test_matrix(self, changes, files, field, message):
        files = {name: png() for name in files}
        errors = errors_for({**IMAGE, **changes}, files)
        assert field in errors, errors
        assert message in " ".join(errors[field])

    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            ("photo.jpg", b"<html><script>alert(1)</script></html>", "JPG, PNG or WebP"),
            ("anim.gif", image_bytes("GIF"), "JPG, PNG or WebP"),
            ("big.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (10 * 1024 * 1024), "10 MB"),
        ],
    )
    def test_bad_uploads_are_refused_next_to_the_field(self, name, content, message):
        errors = errors_for(IMAGE, {"start_image": SimpleUploadedFile(name, content)})
        assert message in " ".join(errors["start_image"]), errors

    def test_three_images_are_refused_by_the_command(self, member):
        with pytest.raises(CommandError, match="one or two images") as excinfo:
            call_command(
                "generate",
                "--user",
                member.username,
                "--mode",
                "image-to-video",
                "--prompt",
                "three frames",
                *["--image", PUBLIC_PNG] * 3,
            )
        assert excinfo.value.returncode == 2

    def test_a_crafted_post_with_two_start_urls_is_refused(self, member_client, _media):
        data = {**IMAGE, "start_image_url": [PUBLIC_PNG, PUBLIC_PNG]}
        response = member_client.post(reverse("generations:new"), data)
        assert response.status_code == 200
        assert "Give one value only" in " ".join(response.context["form"].errors["start_image_url"])
        assert nothing_written(_media)


class TestVideoExtend:
    def test_a_url_source_is_valid(self):
        form = GenerationForm(data={**EXTEND, "source_video_url": PUBLIC_MP4, "seed": "0"})
        assert form.is_valid(), form.errors
        spec = form.to_spec()
        assert (spec.seed, spec.camera_fixed, spec.aspect_ratio, spec.watermark) == (
            0,
            True,
            "",
            False,
        )
        assert [(i.kind, i.url) for i in spec.inputs] == [("video", PUBLIC_MP4)]

    @pytest.mark.parametrize(
        ("changes", "field", "message"),
        [
            ({}, "source_video", "Choose the video to extend"),
            (
                {"source_video_url": PUBLIC_MP4, "aspect_ratio": "16:9"},
                "aspect_ratio",
                "does not take",
            ),
            ({"source_video_url": [PUBLIC_MP4, PUBLIC_MP4]}, "source_video_url", "one value"),
            ({"source_video_url": PUBLIC_MP4, "seed": "-1"}, "seed", "from 0 to 2147483647"),
            (
                {"source_video_url": PUBLIC_MP4, "seed": "2147483648"},
                "seed",
                "from 0 to 2147483647",
            ),
            (
                {"source_video_url": PUBLIC_MP4, "start_image_url": PUBLIC_PNG},
                "start_image_url",
                "does not take",
            ),
            (
                {"source_video_url": PUBLIC_MP4, "resolution": "4k"},
                "resolution",
                "Choose 480p, 720p or 1080p.",
            ),
            ({"source_video_url": PUBLIC_MP4, "duration": "13"}, "duration", "from 4 to 12"),
            (
                {"source_video_url": "file:///etc/passwd"},
                "source_video_url",
                "Give a full web address",
            ),
            ({"source_video_url": "http://192.168.1.10/clip.mp4"}, "source_video_url", "private"),
        ],
    )
    def test_matrix(self, changes, field, message):
        data = {**EXTEND, **changes}
        if isinstance(data.get("source_video_url"), list):
            from django.http import QueryDict

            query = QueryDict(mutable=True)
            for key, value in data.items():
                query.setlist(key, value if isinstance(value, list) else [value])
            data = query
        errors = errors_for(data)
        assert field in errors, errors
        assert message in " ".join(errors[field])

    def test_url_and_own_generation_together_are_refused(self, member):
        source = GenerationFactory(
            user=member, state="succeeded", result_state="stored", result_file="results/x.mp4"
        )
        errors = errors_for(
            {**EXTEND, "source_video_url": PUBLIC_MP4, "source_generation": source.pk}, user=member
        )
        assert "Give exactly one source video" in " ".join(errors["source_video"])

    def test_two_videos_are_refused_by_the_command(self, member):
        with pytest.raises(CommandError, match="exactly one source video") as excinfo:
            call_command(
                "generate",
                "--user",
                member.username,
                "--mode",
                "video-extend",
                "--prompt",
                "two sources",
                "--video",
                PUBLIC_MP4,
                "--video",
                PUBLIC_MP4,
            )
        assert excinfo.value.returncode == 2

    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            (
                [
                    *("--resolution", "1080p", "--mode", "image-to-video", "--image", PUBLIC_PNG),
                    *("--provider", "apixo"),
                ],
                "--resolution: APIXO does not offer 1080p for image to video",
            ),
            (
                ["--mode", "video-extend", "--video", PUBLIC_MP4, "--aspect-ratio", "16:9"],
                "--aspect-ratio: Extend a video does not take this field.",
            ),
            (["--mode", "video-extend", "--video", PUBLIC_MP4, "--seed", "-5"], "--seed:"),
            (["--mode", "video-extend", "--video", "/no/such/clip.mp4"], "--video: no such file"),
            (["--mode", "text-to-video", "--seed", "5"], "--seed: Text to video does not take"),
        ],
    )
    def test_the_command_reports_bad_input_with_exit_2(self, member, extra, message):
        with pytest.raises(CommandError) as excinfo:
            call_command("generate", "--user", member.username, "--prompt", "a fine prompt", *extra)
        assert excinfo.value.returncode == 2
        assert message in str(excinfo.value)
        assert Generation.objects.count() == 0


class TestOwnership:
    def test_another_members_generation_cannot_be_the_source(self, member_client, member, _media):
        other = UserFactory(credits=1000)
        theirs = GenerationFactory(
            user=other, state="succeeded", result_state="stored", result_file="results/theirs.mp4"
        )
        before = CreditEntry.objects.count()
        response = member_client.post(
            reverse("generations:new"), {**EXTEND, "source_generation": theirs.pk}
        )
        assert response.status_code == 200
        assert "Choose one of your own finished videos" in response.content.decode()
        assert Generation.objects.filter(user=member).count() == 0
        assert CreditEntry.objects.count() == before

    def test_another_members_inputs_cannot_be_reused(self, member_client, member):
        UserFactory  # noqa: B018
        other = UserFactory(credits=1000)
        theirs = GenerationFactory(user=other, mode="image-to-video")
        GenerationInput.objects.create(
            generation=theirs,
            kind="image",
            position=0,
            file="inputs/theirs.png",
            content_type="image/png",
        )
        response = member_client.post(
            reverse("generations:new"), {**IMAGE, "inputs_from": theirs.pk}
        )
        assert response.status_code == 200
        assert "Add a start frame" in response.content.decode()
        assert Generation.objects.filter(user=member).count() == 0

    def test_unfinished_own_generation_cannot_be_the_source(self, member):
        queued = GenerationFactory(user=member, state="queued")
        errors = errors_for({**EXTEND, "source_generation": queued.pk}, user=member)
        assert "Choose one of your own finished videos" in " ".join(errors["source_video"])


class TestPublicAddress:
    def test_uploads_need_a_public_address_with_a_real_key(self, settings, member_client, _media):
        settings.PUBLIC_BASE_URL = ""
        settings.USE_SIMULATOR = False
        response = member_client.post(reverse("generations:new"), {**IMAGE, "start_image": png()})
        errors = " ".join(response.context["form"].errors["start_image"])
        assert "PUBLIC_BASE_URL" in errors
        assert nothing_written(_media)

    def test_urls_still_work_without_a_public_address(self, settings):
        settings.PUBLIC_BASE_URL = ""
        settings.USE_SIMULATOR = False
        form = GenerationForm(data={**IMAGE, "start_image_url": PUBLIC_PNG})
        assert form.is_valid(), form.errors

    def test_with_the_simulator_uploads_use_the_local_portal(self, settings, member):
        settings.PUBLIC_BASE_URL = ""
        settings.USE_SIMULATOR = True
        form = GenerationForm(data=IMAGE, files={"start_image": png()})
        assert form.is_valid(), form.errors


def test_a_short_balance_writes_no_file(member_client, _media):
    response = member_client.post(reverse("generations:new"), {**IMAGE, "start_image": png()})
    assert response.status_code == 200
    assert "available" in " ".join(response.context["form"].non_field_errors())
    assert nothing_written(_media)
