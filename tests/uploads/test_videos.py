"""clean_video_upload: MP4, MOV and WebM source clips checked by their bytes and by FFmpeg.

Clips are encoded here with PyAV (a few tiny frames each), so no fixture files are needed.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from PIL import Image

from generations.simulator.video import render
from generations.uploads import (
    VIDEO_MAX_BYTES,
    VIDEO_MAX_SECONDS,
    CleanVideo,
    UploadRejected,
    clean_video_upload,
)

SIZE = (64, 48)


def encode_clip(
    fmt: str, codec: str, *, frames: int = 6, rate: int | Fraction = 12, size=SIZE
) -> bytes:
    """Encode ``frames`` flat grey frames of ``size`` pixels into an in-memory container."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as output:
        stream = output.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame(*size, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(index * 40) % 256]) * plane.buffer_size)
            frame.pts = index
            output.mux(stream.encode(frame))
        output.mux(stream.encode())
    return buffer.getvalue()


def encode_audio_only(fmt: str) -> bytes:
    """Encode a quarter second of AAC silence, no video stream."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as output:
        stream = output.add_stream("aac", rate=44_100, layout="mono")
        for index in range(10):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
            frame.sample_rate, frame.pts = 44_100, index * 1024
            frame.planes[0].update(bytes(frame.planes[0].buffer_size))
            output.mux(stream.encode(frame))
        output.mux(stream.encode())
    return buffer.getvalue()


def requires_encoder(name: str):
    return pytest.mark.skipif(
        name not in av.codecs_available, reason=f"this FFmpeg build has no {name} encoder"
    )


def upload(data: bytes, name: str = "clip.mp4") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="video/mp4")


def rejected(upload_) -> UploadRejected:
    with pytest.raises(UploadRejected) as excinfo:
        clean_video_upload(upload_)
    assert upload_.tell() == 0
    assert excinfo.value.message.endswith(".")
    return excinfo.value


@pytest.mark.parametrize(
    ("fmt", "codec", "content_type", "extension"),
    [
        ("mp4", "libx264", "video/mp4", "mp4"),
        ("mp4", "mpeg4", "video/mp4", "mp4"),
        ("mov", "libx264", "video/quicktime", "mov"),
        pytest.param("webm", "libvpx", "video/webm", "webm", marks=requires_encoder("libvpx")),
        pytest.param(
            "webm", "libvpx-vp9", "video/webm", "webm", marks=requires_encoder("libvpx-vp9")
        ),
    ],
    ids=["mp4-h264", "mp4-mpeg4", "mov-h264", "webm-vp8", "webm-vp9"],
)
def test_valid_clips_are_accepted(fmt, codec, content_type, extension):
    data = encode_clip(fmt, codec, frames=6, rate=12)
    upload_ = upload(data, name="whatever.bin")  # name and declared type are ignored

    result = clean_video_upload(upload_)

    assert result == CleanVideo(
        content_type=content_type,
        extension=extension,
        duration_s=result.duration_s,
        width=64,
        height=48,
        size_bytes=len(data),
    )
    assert result.duration_s == pytest.approx(0.5, abs=0.1)  # 6 frames at 12 fps
    assert upload_.tell() == 0


def test_temporary_upload_is_opened_by_path(tmp_path: Path, monkeypatch):
    # Django streams uploads over 2.5 MB to a temporary file; PyAV then reads it by path.
    render(tmp_path / "clip.mp4", width=96, height=64, duration_s=2.0, sound=True)
    data = (tmp_path / "clip.mp4").read_bytes()
    upload_ = TemporaryUploadedFile("clip.mp4", "video/mp4", len(data), None)
    upload_.write(data)
    upload_.flush()
    opened = []
    real_open = av.open

    def spy_open(source, **options):
        opened.append(source)
        return real_open(source, **options)

    monkeypatch.setattr(av, "open", spy_open)

    try:
        result = clean_video_upload(upload_)
    finally:
        upload_.close()

    assert opened == [upload_.temporary_file_path()]
    assert (result.content_type, result.width, result.height) == ("video/mp4", 96, 64)
    assert result.duration_s == pytest.approx(2.0, abs=0.1)


def test_clip_over_the_duration_cap_is_too_long():
    data = encode_clip("mp4", "libx264", frames=3, rate=Fraction(1, 60))  # 3 frames, 1 a minute

    error = rejected(upload(data))

    assert error.code == "too_long"
    assert f"{VIDEO_MAX_SECONDS} seconds" in error.message


def test_jpeg_named_mp4_is_not_a_video():
    buffer = io.BytesIO()
    Image.new("RGB", SIZE, "red").save(buffer, "JPEG")

    error = rejected(upload(buffer.getvalue(), "clip.mp4"))

    assert error.code == "not_a_video"
    assert "MP4, MOV or WebM" in error.message


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(range(256)) * 40,
            id="ftyp+garbage",
        ),
        pytest.param(
            encode_clip("mp4", "libx264")[:64] + b"\xde\xad\xbe\xef" * 1000, id="real-head+garbage"
        ),
        pytest.param(b"\x1a\x45\xdf\xa3" + b"\x00" * 2000, id="ebml+zeros"),
        pytest.param(b"<html><body>not a video</body></html>", id="html"),
        pytest.param(b"", id="empty"),
    ],
)
def test_broken_or_foreign_files_are_not_videos(data):
    assert rejected(upload(data)).code == "not_a_video"


def test_m4a_audio_is_refused_by_the_sniffer():
    # The ipod muxer writes the "M4A " brand, which sniff_video already refuses.
    data = encode_audio_only("ipod")
    assert data[8:12] == b"M4A "

    assert rejected(upload(data, "song.m4a")).code == "not_a_video"


def test_audio_only_mp4_has_no_video_stream():
    # An "isom" brand passes the sniffer; FFmpeg then finds only an audio stream.
    data = encode_audio_only("mp4")
    assert data[8:12] == b"isom"

    error = rejected(upload(data, "clip.mp4"))

    assert error.code == "no_video_stream"
    assert "MP4, MOV or WebM" in error.message


def test_matroska_with_h264_is_not_webm():
    data = encode_clip("matroska", "libx264")

    error = rejected(upload(data, "clip.mkv"))

    assert error.code == "unsupported_format"
    assert "WebM" in error.message


class CountingFile(io.BytesIO):
    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(data)
        self.size, self.name, self.bytes_read = size, "big.mp4", 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_oversize_clip_is_refused_without_reading():
    upload_ = CountingFile(encode_clip("mp4", "libx264"), size=VIDEO_MAX_BYTES + 1)

    error = rejected(upload_)

    assert error.code == "too_large"
    assert "200 MB" in error.message
    assert upload_.bytes_read == 0
