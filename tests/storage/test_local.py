"""Local media storage: the owner's video honours Range; others get a 404 before any of it.

Issue #13 item 6, done when: a finished video answers ``Range: bytes=0-99`` with 206 and
100 bytes (local storage). RFC 9110 sections 13.1.5 (If-Range), 14 (ranges), 15.3.7 (206),
15.5.17 (416).
"""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils.http import http_date

from generations.models import GenerationInput

from ..factories import GenerationFactory, ManagerFactory, UserFactory
from ..media import image_bytes
from .conftest import VIDEO, stored_generation

pytestmark = pytest.mark.django_db
SIZE = len(VIDEO)


@pytest.fixture
def video(local_media, member):
    return stored_generation(member)


def video_url(generation, **query) -> str:
    url = reverse("generations:video", args=[generation.pk])
    return url + ("?download=1" if query.get("download") else "")


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_range_0_99_answers_206_with_the_first_100_bytes(member_client, video):
    response = member_client.get(video_url(video), headers={"range": "bytes=0-99"})

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-99/{SIZE}"
    assert response["Content-Length"] == "100"
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    assert body(response) == VIDEO[:100]


def test_without_range_the_whole_video_is_sent_and_ranges_are_advertised(member_client, video):
    response = member_client.get(video_url(video))

    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(SIZE)
    assert response["Content-Disposition"] == f'inline; filename="seedance-{video.pk}.mp4"'
    assert "private" in response["Cache-Control"]
    assert body(response) == VIDEO


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=-100", SIZE - 100, SIZE - 1),  # suffix: the last 100 bytes
        ("bytes=4000-", 4000, SIZE - 1),  # open-ended
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=5000-999999", 5000, SIZE - 1),  # past the end: clipped
    ],
)
def test_other_ranges_send_exactly_their_bytes(member_client, video, header, first, last):
    response = member_client.get(video_url(video), headers={"range": header})

    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    assert response["Content-Length"] == str(last - first + 1)
    assert body(response) == VIDEO[first : last + 1]


def test_a_range_past_the_end_is_416_with_the_size(member_client, video):
    response = member_client.get(video_url(video), headers={"range": f"bytes={SIZE}-"})

    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"
    assert body(response) == b""


def test_several_ranges_get_the_whole_video(member_client, video):
    response = member_client.get(video_url(video), headers={"range": "bytes=0-9,20-29"})

    assert response.status_code == 200
    assert body(response) == VIDEO


def test_if_range_honours_the_range_only_while_the_file_is_unchanged(member_client, video):
    first = member_client.get(video_url(video))
    etag, modified = first["ETag"], first["Last-Modified"]

    for validator in (etag, modified):
        headers = {"range": "bytes=0-99", "if-range": validator}
        response = member_client.get(video_url(video), headers=headers)
        assert response.status_code == 206, validator
        assert body(response) == VIDEO[:100]
    for stale in ('"0-0"', f"W/{etag}", http_date(0)):
        headers = {"range": "bytes=0-99", "if-range": stale}
        response = member_client.get(video_url(video), headers=headers)
        assert response.status_code == 200, stale
        assert body(response) == VIDEO


def test_a_cached_copy_is_revalidated_with_304(member_client, video):
    etag = member_client.get(video_url(video))["ETag"]

    response = member_client.get(video_url(video), headers={"if-none-match": etag})

    assert response.status_code == 304
    assert body(response) == b""


def test_a_download_is_an_attachment_and_still_ranged(member_client, video):
    response = member_client.get(video_url(video, download=True), headers={"range": "bytes=0-99"})

    assert response.status_code == 206
    assert response["Content-Disposition"] == f'attachment; filename="seedance-{video.pk}.mp4"'
    assert body(response) == VIDEO[:100]


@pytest.mark.parametrize("who", ["another member", "a manager"])
def test_others_get_a_404_and_no_bytes(client, video, who):
    client.force_login(UserFactory() if who == "another member" else ManagerFactory())

    response = client.get(video_url(video), headers={"range": "bytes=0-99"})

    assert response.status_code == 404
    assert "Content-Range" not in response and VIDEO[:100] not in body(response)


def test_anonymous_users_are_sent_to_login(client, video):
    response = client.get(video_url(video), headers={"range": "bytes=0-99"})

    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_missing_file_is_a_404(member_client, video, local_media):
    (local_media / video.result_file.name).unlink()

    assert member_client.get(video_url(video)).status_code == 404


def test_a_job_without_a_stored_video_is_a_404(member_client, member, local_media):
    pending = GenerationFactory(user=member, state="succeeded", result_state="pending")

    assert member_client.get(video_url(pending)).status_code == 404


# --- Web-server hand-off (MEDIA_ACCEL) ------------------------------------------------------


def test_nginx_mode_hands_the_file_to_an_internal_location(member_client, video, settings):
    settings.MEDIA_ACCEL = "nginx"
    settings.MEDIA_ACCEL_PREFIX = "/protected-media/"

    response = member_client.get(video_url(video), headers={"range": "bytes=0-99"})

    assert response.status_code == 200  # nginx answers the Range itself
    assert response["X-Accel-Redirect"] == f"/protected-media/{video.result_file.name}"
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Disposition"] == f'inline; filename="seedance-{video.pk}.mp4"'
    assert body(response) == b""


def test_nginx_mode_quotes_the_name(member_client, member, settings, local_media):
    settings.MEDIA_ACCEL = "nginx"
    settings.MEDIA_ACCEL_PREFIX = "/media-internal/"
    generation = GenerationFactory(user=member, state="succeeded", result_state="stored")
    generation.result_file.save("видео.mp4", ContentFile(VIDEO))

    response = member_client.get(video_url(generation))

    # nginx unescapes the URI; a raw name could end in ?args or break the header.
    assert response["X-Accel-Redirect"].startswith("/media-internal/results/")
    assert response["X-Accel-Redirect"].endswith("/%D0%B2%D0%B8%D0%B4%D0%B5%D0%BE.mp4")


def test_nginx_mode_still_refuses_others(client, video, settings):
    settings.MEDIA_ACCEL = "nginx"
    client.force_login(UserFactory())

    response = client.get(video_url(video))

    assert response.status_code == 404 and "X-Accel-Redirect" not in response


def test_apache_mode_sends_the_absolute_path(member_client, video, settings, local_media):
    settings.MEDIA_ACCEL = "apache"

    response = member_client.get(video_url(video, download=True))

    assert response.status_code == 200
    assert response["X-Sendfile"] == str(local_media.resolve() / video.result_file.name)
    assert response["Content-Disposition"].startswith("attachment;")
    assert body(response) == b""


def test_apache_mode_url_encodes_the_path(member_client, member, settings, local_media):
    settings.MEDIA_ACCEL = "apache"
    generation = GenerationFactory(user=member, state="succeeded", result_state="stored")
    generation.result_file.save("видео.mp4", ContentFile(VIDEO))

    response = member_client.get(video_url(generation))

    # mod_xsendfile URL-decodes the header (XSendFileUnescape on by default).
    assert response["X-Sendfile"].startswith(str(local_media.resolve()) + "/results/")
    assert response["X-Sendfile"].endswith("/%D0%B2%D0%B8%D0%B4%D0%B5%D0%BE.mp4")


# --- Inputs -----------------------------------------------------------------------------------


@pytest.fixture
def stored_input(local_media, member):
    generation = GenerationFactory(user=member, mode="image-to-video", state="submitted")
    generation_input = GenerationInput(
        generation=generation, kind="image", content_type="image/png"
    )
    generation_input.file.save("start.png", ContentFile(image_bytes("PNG")), save=False)
    generation_input.thumbnail.save("t.jpg", ContentFile(image_bytes("JPEG")), save=False)
    generation_input.save()
    return generation_input


def test_the_public_input_url_honours_range_and_stays_sandboxed(client, stored_input):
    url = reverse("public_input", kwargs={"token": stored_input.public_token})
    data = image_bytes("PNG")

    response = client.get(url, headers={"range": "bytes=0-7"})

    assert response.status_code == 206
    assert body(response) == data[:8] == b"\x89PNG\r\n\x1a\n"
    assert response["Content-Type"] == "image/png"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Cache-Control"] == "private, no-store"


def test_a_thumbnail_is_the_owners_only(member_client, stored_input):
    url = reverse("generations:input_thumbnail", args=[stored_input.generation_id, stored_input.pk])

    assert body(member_client.get(url)) == stored_input.thumbnail.read()
    member_client.force_login(UserFactory())
    assert member_client.get(url).status_code == 404
