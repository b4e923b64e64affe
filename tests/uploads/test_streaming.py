"""Uploads are limited while they stream (issue #12 item 11).

A file past its field's limit is never stored whole: the upload handlers after
``LimitedUploadHandler`` (memory, then a temporary file in FILE_UPLOAD_TEMP_DIR) receive at
most the limit, and the member sees the usual size error next to the field. A body declared
larger than the whole form allows is answered 413 before it is read. Source clips are refused
above 4K or 120 s from the container's metadata, before a frame is decoded.
"""

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.urls import reverse

from generations import uploads
from generations.models import Generation

from ..forms.test_input_modes import EXTEND, IMAGE, nothing_written
from .test_videos import encode_clip

MB = 1024 * 1024


class SpyTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """The temporary-file handler, noting the most bytes it wrote for one file."""

    largest = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.written = 0

    def receive_data_chunk(self, raw_data, start):
        self.written += len(raw_data)
        type(self).largest = max(type(self).largest, self.written)
        return super().receive_data_chunk(raw_data, start)


@pytest.fixture
def spy(settings, tmp_path):
    """Replace the temporary-file handler (the last one) with the spy; temp files in tmp."""
    settings.FILE_UPLOAD_HANDLERS = [
        *settings.FILE_UPLOAD_HANDLERS[:-1],
        f"{__name__}.SpyTemporaryFileUploadHandler",
    ]
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    (tmp_path / "upload-tmp").mkdir()
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    SpyTemporaryFileUploadHandler.largest = 0
    return SpyTemporaryFileUploadHandler


@pytest.mark.django_db
def test_an_oversized_image_is_not_stored_whole(member_client, spy, tmp_path):
    big = SimpleUploadedFile("big.png", b"\x89PNG\r\n\x1a\n" + bytes(12 * MB), "image/png")

    response = member_client.post(reverse("generations:new"), {**IMAGE, "start_image": big})

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["start_image"])
    assert "over the 10 MB limit" in errors
    assert 0 < spy.largest <= uploads.IMAGE_MAX_BYTES  # the rest was read and dropped
    assert nothing_written(tmp_path / "media")
    assert list((tmp_path / "upload-tmp").iterdir()) == []


@pytest.mark.django_db
def test_an_oversized_clip_is_not_stored_whole(member_client, spy, tmp_path, monkeypatch):
    # A 3 MB limit stands for the 200 MB one, so the test posts 4 MB instead of 201 MB.
    monkeypatch.setattr(uploads, "VIDEO_MAX_BYTES", 3 * MB)
    monkeypatch.setitem(uploads.FIELD_MAX_BYTES, "source_video", 3 * MB)
    clip = SimpleUploadedFile("big.mp4", encode_clip("mp4", "libx264") + bytes(4 * MB))

    response = member_client.post(reverse("generations:new"), {**EXTEND, "source_video": clip})

    assert response.status_code == 200
    assert "over the 3 MB limit" in " ".join(response.context["form"].errors["source_video"])
    assert 0 < spy.largest <= 3 * MB
    assert nothing_written(tmp_path / "media")


@pytest.mark.django_db
def test_a_body_declared_over_the_form_limit_is_refused_unread(member_client, spy):
    declared = uploads.REQUEST_MAX_BYTES + 1
    response = member_client.post(
        reverse("generations:new"),
        {**IMAGE, "start_image": SimpleUploadedFile("a.png", b"x")},
        CONTENT_LENGTH=str(declared),  # more than the test client will ever let be read
    )

    assert response.status_code == 413
    assert f"at most {uploads.REQUEST_MAX_BYTES // MB} MB" in response.content.decode()
    assert spy.largest == 0
    assert Generation.objects.count() == 0


def test_a_body_without_length_is_cut_at_the_form_limit(monkeypatch):
    monkeypatch.setattr(uploads, "REQUEST_MAX_BYTES", 2 * MB)
    handler = uploads.LimitedUploadHandler()
    handler.new_file("source_video", "a.mp4", "video/mp4", None)
    chunk = bytes(MB)
    assert handler.receive_data_chunk(chunk, 0) == chunk
    assert handler.receive_data_chunk(chunk, MB) == chunk
    with pytest.raises(StopUpload) as stopped:
        handler.receive_data_chunk(chunk, 2 * MB)
    assert stopped.value.connection_reset  # nothing more is read from the client


@pytest.mark.parametrize("size", [(4352, 2448), (2448, 4352), (2304, 2304)])
def test_clips_above_4k_are_refused_before_decoding(size, monkeypatch):
    clip = SimpleUploadedFile("big.mp4", encode_clip("mp4", "mpeg4", frames=1, size=size))

    def no_decoding(*args, **kwargs):
        raise AssertionError("a frame was decoded")

    monkeypatch.setattr(av.Packet, "decode", no_decoding)
    with pytest.raises(uploads.UploadRejected) as refused:
        uploads.clean_video_upload(clip)
    assert refused.value.code == "too_many_video_pixels"
    assert f"{size[0]} x {size[1]} pixels" in refused.value.message


def test_a_portrait_4k_clip_is_accepted():
    clip = SimpleUploadedFile("tall.mp4", encode_clip("mp4", "mpeg4", frames=1, size=(2160, 3840)))
    assert (uploads.clean_video_upload(clip).width, uploads.clean_video_upload(clip).height) == (
        2160,
        3840,
    )
