"""Validate member uploads: start/end frame images and the source clip of a video extension.

Pure functions over an uploaded file (a Django ``UploadedFile`` or any binary file object with
``size``, ``read``, ``seek`` and ``name``); no models, no database. Each raises
:class:`UploadRejected`, which a form turns into a field error. The rules come from the provider
pages in ``docs/providers/`` (docs/providers/apixo.md "Image formats": JPG, PNG or WebP, at most 10
MB per image; docs/providers/apixo.md "Source input": exactly one video per extension) and from
docs/architecture.md "What must hold": a file that is not a real JPEG/PNG/WebP, is over 10 MB or is
a decompression bomb is refused with a clear message. Names, browser content types and extensions
are never trusted: formats are decided by the bytes, and images are re-encoded so no uploaded byte
is stored as is.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import IO, Any

import av
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import (
    FileUploadHandler,
    StopUpload,
    TemporaryFileUploadHandler,
)
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps

from generations.providers.media import SNIFF_BYTES, sniff_image, sniff_video

MB = 1024 * 1024
IMAGE_MAX_BYTES = 10 * MB  # docs/providers/apixo.md "Image formats": max 10MB per image
# Our limit against decompression bombs: a tiny file can declare a huge canvas. 36 megapixels
# (6000 x 6000) is more than a 10 MB photo usually holds and far more than the provider's 1080p
# output needs, and bounds each decoded RGBA copy to 144 MB. Pillow's own bomb guard only warns
# from 89 megapixels (Image.MAX_IMAGE_PIXELS), which is left untouched.
IMAGE_MAX_PIXELS = 36_000_000
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
IMAGE_EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
THUMBNAIL_SIZE = (320, 320)
VIDEO_MAX_BYTES = 200 * MB  # our cap: the provider docs give none for the source clip
# our cap: the provider analyses only the tail of the clip (docs/providers/apixo.md "Source input")
VIDEO_MAX_SECONDS = 120
# Our cap on a source clip's frame size, read from the container before any frame is decoded:
# 4K (4096 x 2160) in either orientation. The provider renders at most 1080p
# (docs/providers/apixo.md "Parameters": resolution), so larger clips bring nothing but decoding
# cost.
VIDEO_MAX_LONG_SIDE = 4096  # pixels
VIDEO_MAX_SHORT_SIDE = 2160  # pixels
# The largest request body the upload form can legitimately send: a source clip and two images
# plus 1 MB of form fields and multipart framing. A larger declared body is refused with 413
# before it is read (generations.middleware.RequestSizeLimitMiddleware); nginx's
# client_max_body_size should be the same (docs/deploy.md).
REQUEST_MAX_BYTES = VIDEO_MAX_BYTES + 2 * IMAGE_MAX_BYTES + MB
# Each file field's limit while it streams in (LimitedUploadHandler); other fields get the
# largest, VIDEO_MAX_BYTES.
FIELD_MAX_BYTES = {
    "start_image": IMAGE_MAX_BYTES,
    "end_image": IMAGE_MAX_BYTES,
    "source_video": VIDEO_MAX_BYTES,
}
VIDEO_EXTENSIONS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}

_IMAGES = _("Upload a JPG, PNG or WebP image.")
_VIDEOS = _("Upload an MP4, MOV or WebM video.")
# What the member reads, by UploadRejected.code; forms may show these as they are. Translated
# when the rejection is raised (in the request's language); ``{...}`` is filled in then.
ERROR_MESSAGES = {
    "too_large": _("The file is over the {limit} MB limit. Upload a smaller {kind}."),
    "not_an_image": _("This file is not a readable image. Upload a JPG, PNG or WebP image."),
    "unsupported_format": _("{name} files are not accepted. {accepted}"),
    "too_many_pixels": _(
        "The image has more than {megapixels} megapixels. Upload a smaller image."
    ),
    "animated": _("Animated images are not accepted. Upload a still JPG, PNG or WebP image."),
    "trailing_data": _(
        "The image file carries extra data after the picture. Save it again as "
        "a plain JPG, PNG or WebP and upload the new file."
    ),
    "not_a_video": _("This file is not a readable video. Upload an MP4, MOV or WebM video."),
    "no_video_stream": _("This file has no video track. Upload an MP4, MOV or WebM video."),
    "too_long": _(
        "The video lasts {seconds:.0f} seconds; the limit is {limit} seconds. "
        "Upload a shorter clip."
    ),
    "too_many_video_pixels": _(
        "The video is {width} x {height} pixels; the limit is "
        "{max_long} x {max_short} (4K) either way round. Upload a smaller clip."
    ),
}
_MESSAGE_CONSTANTS = {
    "megapixels": IMAGE_MAX_PIXELS // 1_000_000,
    "max_long": VIDEO_MAX_LONG_SIDE,
    "max_short": VIDEO_MAX_SHORT_SIDE,
}

# Other image formats recognised by their magic numbers, only to name them in the message.
_OTHER_IMAGE_MAGIC = {b"GIF87a": "GIF", b"GIF89a": "GIF", b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}
_OTHER_IMAGE_MAGIC |= {b"\x00\x00\x01\x00": "ICO", b"8BPS": "PSD"}
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})
# The FFmpeg demuxer forced for each sniffed type ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"),
# so the container FFmpeg reads is always the one the magic number announced.
_DEMUXERS = {"video/mp4": "mov", "video/quicktime": "mov", "video/webm": "matroska"}
# Modes each encoder writes as they are; others are converted to RGB or RGBA.
_WRITABLE_MODES = {
    "JPEG": ("L", "RGB"),
    "PNG": ("1", "L", "LA", "I;16", "P", "RGB", "RGBA"),
    "WEBP": ("RGB", "RGBA"),
}
_WEBM_CODECS = frozenset({"vp8", "vp9", "av1"})  # the only video codecs WebM allows
_MAX_PACKETS_FOR_FIRST_FRAME = 120  # generous for B-frame and threading delay, still bounded


class UploadRejected(ValueError):
    """An upload that must not be used, with a sentence for the member and a short code."""

    def __init__(self, code: str, **values: Any) -> None:
        self.code = code
        self.message = str(ERROR_MESSAGES[code]).format(**_MESSAGE_CONSTANTS, **values)
        super().__init__(self.message)


@dataclass(frozen=True)
class CleanImage:
    """A re-encoded still image without metadata, in the format it was uploaded in."""

    content: bytes
    content_type: str  # image/jpeg | image/png | image/webp
    extension: str  # jpg | png | webp
    width: int  # pixels, after applying the EXIF orientation
    height: int
    thumbnail: bytes  # RGB JPEG within THUMBNAIL_SIZE
    size_bytes: int  # len(content)


@dataclass(frozen=True)
class CleanVideo:
    """What was learned about an accepted source clip; the file itself is not copied."""

    content_type: str  # video/mp4 | video/quicktime | video/webm
    extension: str  # mp4 | mov | webm
    duration_s: float
    width: int  # pixels
    height: int
    size_bytes: int


def clean_image_upload(upload: Any) -> CleanImage:
    """Return a re-encoded, metadata-free copy of an uploaded JPEG, PNG or WebP still image.

    Args:
        upload: a file object with ``size`` (bytes), ``read`` and ``seek``; its name and
            declared content type are ignored.

    Raises:
        UploadRejected: ``too_large`` over :data:`IMAGE_MAX_BYTES`
            (docs/providers/apixo.md "Image formats", checked before reading);
            ``unsupported_format`` for another image format (GIF, BMP, TIFF, HEIC, SVG, ...);
            ``not_an_image`` for anything Pillow cannot fully decode as JPEG, PNG or WebP;
            ``too_many_pixels`` over :data:`IMAGE_MAX_PIXELS` (checked from the header, before
            decoding); ``animated`` for more than one frame; ``trailing_data`` for bytes after the
            image's end (polyglot files). docs/architecture.md "What must hold".
    """
    too_large = UploadRejected("too_large", limit=IMAGE_MAX_BYTES // MB, kind=_("image"))
    if upload.size > IMAGE_MAX_BYTES:
        raise too_large
    upload.seek(0)
    data = upload.read(IMAGE_MAX_BYTES + 1)
    upload.seek(0)
    if len(data) > IMAGE_MAX_BYTES:  # the declared size was wrong
        raise too_large
    sniffed = sniff_image(data[:SNIFF_BYTES])
    if sniffed is None:
        _reject_unknown(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open_image(data)
        fmt = "JPEG" if image.format == "MPO" else image.format  # MPO: JPEG + extra views
        if fmt not in IMAGE_FORMATS or IMAGE_FORMATS[fmt] != sniffed:
            raise UploadRejected("not_an_image")
        if image.width * image.height > IMAGE_MAX_PIXELS:  # before load(): from the header
            raise UploadRejected("too_many_pixels")
        if fmt != "JPEG" and getattr(image, "n_frames", 1) > 1:
            raise UploadRejected("animated")
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UploadRejected("too_many_pixels") from None
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise UploadRejected("not_an_image") from exc
    end = _image_end(fmt, data)
    if end is None:
        raise UploadRejected("not_an_image")
    # Some JPEG writers pad with 00 or FF bytes, which cannot carry a payload.
    leftover = data[end:].strip(b"\x00\xff") if fmt == "JPEG" else data[end:]
    if leftover:
        raise UploadRejected("trailing_data")
    lossless = fmt == "WEBP" and b"VP8L" in _webp_chunks(data, end)
    return _reencode(image, fmt, lossless=lossless)


def clean_video_upload(upload: Any) -> CleanVideo:
    """Check that an uploaded MP4, MOV or WebM clip has a readable video stream; leave it at 0.

    The file is not copied: a ``TemporaryUploadedFile`` is opened by its path, anything else
    through its file object. FFmpeg's demuxer is chosen from the sniffed magic number so it
    never probes into playlist or concat formats that would open further files or URLs.

    Args:
        upload: a file object with ``size`` (bytes), ``read`` and ``seek``.

    Raises:
        UploadRejected: ``too_large`` over :data:`VIDEO_MAX_BYTES` (our cap); ``not_a_video``
            when the bytes are not MP4/MOV/WebM or FFmpeg cannot read them or decode a first
            frame; ``no_video_stream`` for an audio-only file; ``unsupported_format`` for
            Matroska with a non-WebM codec; ``too_long`` over :data:`VIDEO_MAX_SECONDS` and
            ``too_many_video_pixels`` over :data:`VIDEO_MAX_LONG_SIDE` x
            :data:`VIDEO_MAX_SHORT_SIDE` (our caps, both read from the container's metadata
            before any frame is decoded). docs/providers/apixo.md "Source input": one source video
            per extension.
    """
    if upload.size > VIDEO_MAX_BYTES:
        raise UploadRejected("too_large", limit=VIDEO_MAX_BYTES // MB, kind=_("video"))
    try:
        upload.seek(0)
        content_type = sniff_video(upload.read(SNIFF_BYTES))
        if content_type is None:
            raise UploadRejected("not_a_video")
        upload.seek(0)
        source = upload.temporary_file_path() if hasattr(upload, "temporary_file_path") else upload
        duration, width, height = _probe_video(source, content_type)
    finally:
        upload.seek(0)
    extension = VIDEO_EXTENSIONS[content_type]
    return CleanVideo(content_type, extension, duration, width, height, size_bytes=upload.size)


def _reject_unknown(data: bytes) -> None:
    """Raise ``unsupported_format`` naming a known other image format, else ``not_an_image``."""
    head = data[:SNIFF_BYTES]
    name = next(
        (name for magic, name in _OTHER_IMAGE_MAGIC.items() if head.startswith(magic)), None
    )
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":  # reserved fields are zero
        name = "BMP"
    elif head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        name = "HEIC/AVIF"
    elif b"<svg" in data[:1024].lower():
        name = "SVG"
    if name is None:
        raise UploadRejected("not_an_image")
    raise UploadRejected("unsupported_format", name=name, accepted=_IMAGES)


def _open_image(data: bytes) -> Image.Image:
    """Read only the header, with Pillow's JPEG, PNG and WebP decoders and no other."""
    try:
        return Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected("too_many_pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # incl. UnidentifiedImageError
        raise UploadRejected("not_an_image") from exc


def _image_end(fmt: str, data: bytes) -> int | None:
    """Return the offset just past the image's own bytes, or None if its structure is broken.

    JPEG: the EOI of the last of its concatenated streams (MPO files append extra views);
    PNG: the end of the IEND chunk; WebP: the RIFF size plus the 8-byte RIFF header.
    """
    if fmt == "WEBP":
        size = int.from_bytes(data[4:8], "little")
        return 8 + size + (size & 1) if 8 + size <= len(data) else None
    if fmt == "PNG":
        pos = 8
        while pos + 12 <= len(data):
            kind = data[pos + 4 : pos + 8]
            pos += 12 + int.from_bytes(data[pos : pos + 4], "big")
            if kind == b"IEND":
                return pos
        return None
    end = _jpeg_end(data, 0)
    while end is not None and data.startswith(b"\xff\xd8", end):
        end = _jpeg_end(data, end)
    return end


def _jpeg_end(data: bytes, pos: int) -> int | None:
    """Walk the JPEG segments from the SOI at ``pos``; return the offset past EOI, or None."""
    pos += 2
    while True:
        if data[pos : pos + 1] != b"\xff":
            return None
        while data[pos : pos + 1] == b"\xff":  # fill bytes
            pos += 1
        if pos >= len(data):
            return None
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI
            return pos
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # RSTn, TEM: no length
            continue
        pos += int.from_bytes(data[pos : pos + 2], "big")
        if marker == 0xDA:  # SOS: entropy-coded data runs to the next marker
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= len(data):
                    return None
                if data[pos + 1] != 0x00 and not 0xD0 <= data[pos + 1] <= 0xD7:
                    break
                pos += 2


def _webp_chunks(data: bytes, end: int) -> set[bytes]:
    """Return the FourCCs of the chunks inside a WebP file's RIFF container."""
    pos, kinds = 12, set()
    while pos + 8 <= end:
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        kinds.add(data[pos : pos + 4])
        pos += 8 + size + (size & 1)
    return kinds


def _reencode(image: Image.Image, fmt: str, *, lossless: bool) -> CleanImage:
    """Apply the EXIF orientation, drop all metadata and save ``image`` again as ``fmt``."""
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block must not refuse a decodable photo
        image = image.copy()
    thumb = image.copy()
    thumb.thumbnail(THUMBNAIL_SIZE)
    if thumb.has_transparency_data:  # flatten onto white: JPEG has no alpha
        rgba = thumb.convert("RGBA")
        thumb = Image.new("RGB", rgba.size, "white")
        thumb.paste(rgba, mask=rgba.getchannel("A"))
    has_alpha = image.has_transparency_data
    transparency = image.info.get("transparency")
    image.info.clear()  # EXIF, XMP, ICC profile, comments, text chunks: none reach the output
    if image.mode not in _WRITABLE_MODES[fmt]:  # e.g. CMYK JPEG, PA PNG
        image = image.convert("RGBA" if has_alpha and fmt != "JPEG" else "RGB")
        transparency = None
    params: dict[str, Any] = {"quality": 92}  # JPEG
    if fmt == "PNG":
        params = {"optimize": True}
        if transparency is not None:  # a tRNS colour or palette alpha, not metadata
            params["transparency"] = transparency
    elif fmt == "WEBP":
        params = {"quality": 90, "lossless": lossless}
    content = _save(image, fmt, **params)
    return CleanImage(
        content=content,
        content_type=IMAGE_FORMATS[fmt],
        extension=IMAGE_EXTENSIONS[fmt],
        width=image.width,
        height=image.height,
        thumbnail=_save(thumb.convert("RGB"), "JPEG", quality=80),
        size_bytes=len(content),
    )


def _save(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _probe_video(source: str | IO[bytes], content_type: str) -> tuple[float, int, int]:
    """Return (duration in seconds, width, height in pixels) after decoding one frame."""
    try:
        with av.open(source, format=_DEMUXERS[content_type]) as container:
            if not container.streams.video:
                raise UploadRejected("no_video_stream")
            stream = container.streams.video[0]
            if container.duration:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = 0.0
            width, height = stream.codec_context.width, stream.codec_context.height
            if content_type == "video/webm" and stream.codec_context.name not in _WEBM_CODECS:
                raise UploadRejected("unsupported_format", name="MKV", accepted=_VIDEOS)
            if duration <= 0 or width <= 0 or height <= 0:
                raise UploadRejected("not_a_video")
            if duration > VIDEO_MAX_SECONDS:
                raise UploadRejected("too_long", seconds=duration, limit=VIDEO_MAX_SECONDS)
            if max(width, height) > VIDEO_MAX_LONG_SIDE or min(width, height) > (
                VIDEO_MAX_SHORT_SIDE
            ):
                raise UploadRejected("too_many_video_pixels", width=width, height=height)
            for index, packet in enumerate(container.demux(stream)):
                if packet.decode():
                    break
                if index >= _MAX_PACKETS_FOR_FIRST_FRAME:
                    raise UploadRejected("not_a_video")
            else:
                raise UploadRejected("not_a_video")
    except av.FFmpegError as exc:
        raise UploadRejected("not_a_video") from exc
    return duration, width, height


class OversizedUpload(UploadedFile):
    """Stands for a file that went past its field's limit: its size, none of its bytes.

    ``size`` is the number of bytes received (more than the limit), so the form's own size
    check (:func:`clean_image_upload`, :func:`clean_video_upload`) refuses it with the usual
    ``too_large`` message next to the field.
    """

    def __init__(self, *, name: str, content_type: str, size: int, charset: str | None) -> None:
        super().__init__(io.BytesIO(), name, content_type, size, charset)


class LimitedUploadHandler(FileUploadHandler):
    """Stop storing an upload at its field's byte limit while it streams in (issue #12 item 11).

    First in ``FILE_UPLOAD_HANDLERS``. Each file's chunks pass on to the next handler (memory,
    then a temporary file) only up to :data:`FIELD_MAX_BYTES` for its field; past it the rest
    is read and dropped, and the field gets an :class:`OversizedUpload`, which the form refuses.
    A body that goes past :data:`REQUEST_MAX_BYTES` in total (one sent without a
    Content-Length, which the middleware checks first) stops the upload at once.
    """

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.request_bytes = 0  # file bytes received in this request
        self.received = 0  # bytes of the current file
        self.limit = VIDEO_MAX_BYTES

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, *args, **kwargs)
        self.received = 0
        self.limit = FIELD_MAX_BYTES.get(field_name, VIDEO_MAX_BYTES)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        self.request_bytes += len(raw_data)
        if self.request_bytes > REQUEST_MAX_BYTES:
            raise StopUpload(connection_reset=True)
        return raw_data if self.received <= self.limit else None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.received <= self.limit:
            return None  # the next handler holds the whole file
        # The temporary file holding the part before the limit is deleted now, not when the
        # request is garbage-collected.
        for handler in getattr(self.request, "upload_handlers", ()):
            if isinstance(handler, TemporaryFileUploadHandler) and hasattr(handler, "file"):
                handler.file.close()
        return OversizedUpload(
            name=self.file_name,
            content_type=self.content_type,
            size=self.received,
            charset=self.charset,
        )
