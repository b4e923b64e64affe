"""Media sniffers: the first bytes decide, not the name or the header."""

import pytest

from generations.providers.media import sniff_image, sniff_media, sniff_video

from .conftest import MP4_BYTES, PNG_BYTES


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (MP4_BYTES, "video/mp4"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
        (b"\x00\x00\x00\x08moov\x00\x00\x00\x00", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01", "video/webm"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", None),  # an AVIF still
        (b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00", None),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00", None),  # audio only
        (b"\x00\x00\x00\x18ftyp", None),  # truncated before the brand
        (b"<html>", None),
        (b"", None),
        (PNG_BYTES, None),
    ],
)
def test_sniff_video(head, expected):
    assert sniff_video(head) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (PNG_BYTES, "image/png"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),  # a WAV file
        (b"GIF89a", None),
        (MP4_BYTES, None),
        (b"", None),
    ],
)
def test_sniff_image(head, expected):
    assert sniff_image(head) == expected


def test_sniff_media_tries_both():
    assert sniff_media(MP4_BYTES) == "video/mp4"
    assert sniff_media(PNG_BYTES) == "image/png"
    assert sniff_media(b"%PDF-1.7") is None
