"""MEDIA_STORAGE=s3 against a real S3-compatible server (moto in server mode, see conftest).

Issue #13 item 6, done when: a finished video's owner is redirected to a URL that answers
``Range: bytes=0-99`` with 206 and 100 bytes; workers write results and inputs to the bucket.
"""

import urllib.request
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from generations.models import Generation, GenerationInput
from generations.providers import DownloadResult
from generations.services import lifecycle
from generations.services.inputs import InputSpec, inputs_create

from ..factories import GenerationFactory, UserFactory
from ..media import image_bytes
from .conftest import VIDEO, stored_generation

pytestmark = pytest.mark.django_db


def fetch(url: str, **headers) -> tuple[int, Message, bytes]:
    """GET ``url`` from the S3 server as a browser following the redirect would."""
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read()


def object_bytes(s3_media, key: str) -> bytes:
    client, bucket = s3_media
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_the_store_result_service_writes_the_video_to_the_bucket(s3_media, member, monkeypatch):
    def download_to_file(url, fileobj, **kwargs):  # the provider's CDN, faked at the seam
        fileobj.write(VIDEO)
        return DownloadResult(content_type="video/mp4", size_bytes=len(VIDEO), final_url=url)

    monkeypatch.setattr(lifecycle, "download_to_file", download_to_file)
    monkeypatch.setattr(lifecycle, "_enqueue_notify", lambda generation_id: None)
    generation = GenerationFactory(
        user=member,
        state="succeeded",
        result_state="pending",
        result_url="https://cdn.provider.test/result.mp4",
    )

    assert lifecycle.generation_store_result(generation_id=generation.pk) == "stored"

    generation.refresh_from_db()
    assert generation.result_state == Generation.ResultState.STORED
    assert object_bytes(s3_media, generation.result_file.name) == VIDEO
    client, bucket = s3_media
    head = client.head_object(Bucket=bucket, Key=generation.result_file.name)
    assert head["ContentType"] == "video/mp4"


def test_the_owner_is_redirected_to_a_presigned_url_that_honours_range(
    s3_media, member, member_client, s3_endpoint
):
    generation = stored_generation(member)

    response = member_client.get(reverse("generations:video", args=[generation.pk]))

    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    assert location.startswith(f"{s3_endpoint}/{s3_media[1]}/results/")
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"]
    status, headers, data = fetch(location, Range="bytes=0-99")
    assert status == 206
    assert data == VIDEO[:100]
    assert headers["Content-Range"] == f"bytes 0-99/{len(VIDEO)}"
    assert headers["Content-Type"] == "video/mp4"


def test_a_download_redirect_makes_the_bucket_send_an_attachment(s3_media, member, member_client):
    generation = stored_generation(member)

    response = member_client.get(reverse("generations:video", args=[generation.pk]) + "?download=1")

    status, headers, data = fetch(response["Location"])
    assert status == 200 and data == VIDEO
    assert headers["Content-Disposition"] == (
        f'attachment; filename="seedance-{generation.pk}.mp4"'
    )


def test_another_member_gets_a_404_and_no_redirect(s3_media, member, client):
    generation = stored_generation(member)
    client.force_login(UserFactory())

    response = client.get(
        reverse("generations:video", args=[generation.pk]), headers={"range": "bytes=0-99"}
    )

    assert response.status_code == 404
    assert "Location" not in response


def test_inputs_are_written_to_the_bucket_and_served_to_the_provider(
    s3_media, member, client, settings
):
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    generation = GenerationFactory(user=member, mode="image-to-video", state="submitted")
    png = image_bytes("PNG")
    inputs_create(
        generation=generation,
        inputs=(
            InputSpec(
                kind="image",
                name="start.png",
                content=png,
                content_type="image/png",
                thumbnail=image_bytes("JPEG"),
            ),
        ),
    )
    generation_input = GenerationInput.objects.get(generation=generation)
    assert object_bytes(s3_media, generation_input.file.name) == png

    response = client.get(reverse("public_input", kwargs={"token": generation_input.public_token}))

    assert response.status_code == 302
    status, headers, data = fetch(response["Location"])
    assert status == 200 and data == png
    assert headers["Content-Type"] == "image/png"


def test_names_in_use_are_never_overwritten(s3_media):
    first = default_storage.save("results/clip.mp4", ContentFile(b"first"))
    second = default_storage.save("results/clip.mp4", ContentFile(b"second"))

    assert first != second
    assert object_bytes(s3_media, first) == b"first"


def test_the_generate_command_reports_a_fetchable_url_for_the_video(s3_media, member):
    from generations.management.commands.generate import generation_json

    generation = stored_generation(member)

    location = generation_json(generation)["result_file"]

    assert location.startswith("http://127.0.0.1:") and "X-Amz-Signature=" in location
    assert fetch(location)[2] == VIDEO


def test_the_generate_command_still_reports_a_local_path(local_media, member):
    from generations.management.commands.generate import generation_json

    generation = stored_generation(member)

    path = generation_json(generation)["result_file"]

    assert Path(path).is_absolute() and Path(path).read_bytes() == VIDEO
