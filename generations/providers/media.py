"""Recognise media files by their first bytes, whatever their name or Content-Type says.

Used by the guarded downloader (``http.download_to_file``) and usable by upload forms.
The signatures are the formats' own magic numbers: ISO base media file format (MP4, MOV)
``ftyp`` box at offset 4, EBML header ``1A 45 DF A3`` (WebM, Matroska), JPEG SOI ``FF D8 FF``,
the 8-byte PNG signature, and RIFF ``WEBP``.
"""

from __future__ import annotations

VIDEO_CONTENT_TYPES: tuple[str, ...] = ("video/mp4", "video/webm", "video/quicktime")
IMAGE_CONTENT_TYPES: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp")

# Bytes a sniffer needs to decide; read at least this much before calling one.
SNIFF_BYTES = 16

# ftyp brands that are images or audio, not video (HEIF/AVIF stills, MPEG-4 audio).
_NON_VIDEO_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis", b"M4A ", b"M4B "}
)
# Classic QuickTime files may open with an atom other than ftyp.
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide"})
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def sniff_video(head: bytes) -> str | None:
    """Return ``video/mp4``, ``video/quicktime`` or ``video/webm`` for ``head``, else None.

    Args:
        head: the first bytes of the file (at least :data:`SNIFF_BYTES` when available).
    """
    box = head[4:8]
    if box == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if len(brand) == 4 and brand not in _NON_VIDEO_BRANDS:
            return "video/mp4"
        return None
    if box in _QUICKTIME_ATOMS:
        return "video/quicktime"
    if head.startswith(_EBML_MAGIC):
        return "video/webm"
    return None


def sniff_image(head: bytes) -> str | None:
    """Return ``image/jpeg``, ``image/png`` or ``image/webp`` for ``head``, else None.

    Args:
        head: the first bytes of the file (at least :data:`SNIFF_BYTES` when available).
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(_PNG_MAGIC):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def sniff_media(head: bytes) -> str | None:
    """Return the video or image media type ``head`` starts with, else None."""
    return sniff_video(head) or sniff_image(head)
