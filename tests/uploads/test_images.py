"""clean_image_upload: formats decided by the bytes, size and pixel limits, polyglots, metadata.

Every input is built here with Pillow (or by hand where Pillow cannot make it), so the tests need
no fixtures on disk and no database.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import warnings
import zipfile
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, PngImagePlugin

from generations.uploads import (
    IMAGE_MAX_BYTES,
    IMAGE_MAX_PIXELS,
    THUMBNAIL_SIZE,
    CleanImage,
    UploadRejected,
    clean_image_upload,
)


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def picture(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A gradient, so encoders have something to compress and orientation is visible."""
    image = Image.linear_gradient("L").resize(size).convert(mode)
    return image


def jpeg(size: tuple[int, int] = (64, 48), **params) -> bytes:
    return encode(picture("RGB", size), "JPEG", **params)


def png(mode: str = "RGB", size: tuple[int, int] = (64, 48), **params) -> bytes:
    return encode(picture(mode, size), "PNG", **params)


def webp(mode: str = "RGB", **params) -> bytes:
    return encode(picture(mode), "WEBP", **params)


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def rejected(data: bytes, name: str = "photo.jpg") -> UploadRejected:
    with pytest.raises(UploadRejected) as excinfo:
        clean_image_upload(upload(data, name))
    assert excinfo.value.message.endswith(".")
    return excinfo.value


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_bomb(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header declares a 1-bit ``width`` x ``height`` canvas."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def assert_clean(result: CleanImage, fmt: str) -> Image.Image:
    """Check what every accepted image must satisfy and return the decoded content."""
    decoded = Image.open(io.BytesIO(result.content))
    decoded.load()
    assert decoded.format == fmt
    assert decoded.size == (result.width, result.height)
    assert result.size_bytes == len(result.content)
    assert not decoded.getexif()
    assert not {"exif", "icc_profile", "xmp", "comment"} & decoded.info.keys()
    thumbnail = Image.open(io.BytesIO(result.thumbnail))
    assert thumbnail.format == "JPEG"
    assert thumbnail.mode == "RGB"
    assert thumbnail.width <= THUMBNAIL_SIZE[0]
    assert thumbnail.height <= THUMBNAIL_SIZE[1]
    return decoded


@pytest.mark.parametrize(
    ("data", "fmt", "content_type", "extension"),
    [
        (jpeg(), "JPEG", "image/jpeg", "jpg"),
        (encode(picture("L"), "JPEG"), "JPEG", "image/jpeg", "jpg"),
        (encode(picture("CMYK"), "JPEG"), "JPEG", "image/jpeg", "jpg"),
        (jpeg(progressive=True), "JPEG", "image/jpeg", "jpg"),
        (png(), "PNG", "image/png", "png"),
        (png("RGBA"), "PNG", "image/png", "png"),
        (png("LA"), "PNG", "image/png", "png"),
        (png("P", transparency=0), "PNG", "image/png", "png"),
        (png("1"), "PNG", "image/png", "png"),
        (png("I;16"), "PNG", "image/png", "png"),
        (webp(), "WEBP", "image/webp", "webp"),
        (webp("RGBA"), "WEBP", "image/webp", "webp"),
        (webp(lossless=True), "WEBP", "image/webp", "webp"),
    ],
    ids=[
        "jpeg",
        "jpeg-grey",
        "jpeg-cmyk",
        "jpeg-progressive",
        "png",
        "png-rgba",
        "png-la",
        "png-palette-transparency",
        "png-1bit",
        "png-16bit",
        "webp",
        "webp-alpha",
        "webp-lossless",
    ],
)
def test_valid_images_are_reencoded_in_their_own_format(data, fmt, content_type, extension):
    # The declared name and content type lie on purpose: only the bytes count.
    result = clean_image_upload(upload(data, name="upload.bin", content_type="text/plain"))

    decoded = assert_clean(result, fmt)
    assert (result.content_type, result.extension) == (content_type, extension)
    assert (result.width, result.height) == (64, 48)
    source = Image.open(io.BytesIO(data))
    if fmt == "JPEG":
        assert decoded.mode in ("L", "RGB")
    elif fmt == "PNG":  # lossless: same pixels, same mode
        assert decoded.mode == source.mode
        assert decoded.tobytes() == source.tobytes()


def test_transparency_survives_and_thumbnail_is_flattened():
    image = Image.new("RGBA", (200, 200), (255, 0, 0, 0))  # invisible red
    image.paste((0, 0, 255, 255), (80, 80, 120, 120))

    result = clean_image_upload(upload(encode(image, "PNG"), "a.png"))

    decoded = assert_clean(result, "PNG")
    assert decoded.getpixel((0, 0))[3] == 0
    thumbnail = Image.open(io.BytesIO(result.thumbnail))
    assert min(thumbnail.getpixel((0, 0))) > 240  # transparent areas become white, not red
    red, _green, blue = thumbnail.getpixel((100, 100))
    assert blue > 200 and red < 60  # the opaque box is still there


def test_lossless_webp_stays_lossless():
    result = clean_image_upload(upload(webp(lossless=True), "a.webp"))

    assert b"VP8L" in result.content[12:40]


def test_exif_orientation_is_applied_and_all_metadata_removed():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # rotate 90 degrees clockwise to display
    exif[ExifTags.Base.Make] = "SecretCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    data = jpeg(size=(64, 48), exif=exif, comment=b"secret comment", icc_profile=b"\x00" * 128)
    source = Image.open(io.BytesIO(data))
    assert source.getexif()[ExifTags.Base.Make] == "SecretCam"  # the input really carries it
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    result = clean_image_upload(upload(data))

    assert_clean(result, "JPEG")
    assert (result.width, result.height) == (48, 64)  # transposed
    for secret in (b"SecretCam", b"secret comment", b"Exif\x00\x00", b"ICC_PROFILE"):
        assert secret not in result.content


def test_png_text_chunks_are_removed():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret text")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>secret</x:xmpmeta>")

    result = clean_image_upload(upload(png(pnginfo=info), "a.png"))

    assert_clean(result, "PNG")
    assert b"secret" not in result.content


def test_large_image_gets_a_bounded_thumbnail():
    result = clean_image_upload(upload(jpeg(size=(1000, 500))))

    assert (result.width, result.height) == (1000, 500)
    assert Image.open(io.BytesIO(result.thumbnail)).size == (320, 160)


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        b"just some text, named like a photo\n" * 10,
        b"",
        b"\x00" * 100,
    ],
    ids=["html", "text", "empty", "zeros"],
)
def test_non_images_named_jpg_are_not_images(data):
    error = rejected(data, "photo.jpg")

    assert error.code == "not_an_image"
    assert "JPG, PNG or WebP" in error.message


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.html", "<script>alert(1)</script>")
    return buffer.getvalue()


def test_zip_named_jpg_is_not_an_image():
    assert rejected(zip_archive()).code == "not_an_image"


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (encode(picture("P"), "GIF"), "GIF"),
        (SVG, "SVG"),
        (encode(picture(), "BMP"), "BMP"),
        (encode(picture(), "TIFF"), "TIFF"),
        (encode(picture(), "ICO"), "ICO"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "HEIC/AVIF"),
    ],
    ids=["gif", "svg", "bmp", "tiff", "ico", "heic"],
)
def test_other_image_formats_are_unsupported(data, name):
    error = rejected(data, "photo.jpg")

    assert error.code == "unsupported_format"
    assert error.message.startswith(f"{name} files are not accepted.")
    assert "JPG, PNG or WebP" in error.message


def test_jpeg_magic_on_a_gif_body_is_not_an_image():
    # sniff_image says JPEG, but Pillow's JPEG decoder cannot read it.
    assert rejected(b"\xff\xd8\xff" + encode(picture("P"), "GIF")).code == "not_an_image"


class CountingFile(io.BytesIO):
    """A file whose ``size`` is declared separately and whose reads are counted."""

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(data)
        self.size = size
        self.name = "big.png"
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_over_10_mb_is_rejected_without_reading():
    upload_ = CountingFile(png(), size=IMAGE_MAX_BYTES + 1)

    with pytest.raises(UploadRejected) as excinfo:
        clean_image_upload(upload_)

    assert excinfo.value.code == "too_large"
    assert "10 MB" in excinfo.value.message
    assert upload_.bytes_read == 0


def test_over_10_mb_simple_upload_is_too_large():
    data = jpeg() + b"\x00" * IMAGE_MAX_BYTES  # a valid JPEG, zero padded past the limit

    assert rejected(data).code == "too_large"


def test_a_lying_size_is_caught_by_the_bounded_read():
    upload_ = CountingFile(jpeg() + b"\x00" * IMAGE_MAX_BYTES, size=1000)

    with pytest.raises(UploadRejected) as excinfo:
        clean_image_upload(upload_)

    assert excinfo.value.code == "too_large"
    assert upload_.bytes_read == IMAGE_MAX_BYTES + 1


def test_exactly_10_mb_is_accepted():
    data = jpeg() + b"\x00" * (IMAGE_MAX_BYTES - len(jpeg()))  # zero padding after EOI

    assert clean_image_upload(upload(data)).content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("width", "height"),
    [(6001, 6001), (10_000, 10_000), (50_000, 50_000)],
    ids=["over-our-limit", "pillow-warning-range", "pillow-error-range"],
)
def test_decompression_bomb_is_refused_from_the_header(width, height):
    data = png_bomb(width, height)
    assert len(data) < 200
    assert width * height > IMAGE_MAX_PIXELS
    limit_before = Image.MAX_IMAGE_PIXELS
    filters_before = list(warnings.filters)
    images_before = Image.core.get_stats()["new_count"]

    tracemalloc.start()
    try:
        error = rejected(data, "bomb.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert error.code == "too_many_pixels"
    assert "36 megapixels" in error.message
    # tracemalloc sees only Python's allocator (here: the bytes read), not Pillow's pixel
    # buffers, so also check Pillow's own counter: no pixel storage was ever created.
    assert peak < 1024 * 1024
    assert Image.core.get_stats()["new_count"] == images_before
    assert limit_before == Image.MAX_IMAGE_PIXELS
    assert warnings.filters == filters_before


def test_just_under_the_pixel_limit_is_not_a_bomb():
    # Same hand-built file, small enough: it gets past the pixel check and fails later on
    # its (deliberately too short) pixel data, which proves which check refused the others.
    assert rejected(png_bomb(2000, 2000), "small.png").code == "not_an_image"


def polyglot_cases():
    script = b"<html><script>alert(document.cookie)</script></html>"
    riff = webp()
    return [
        pytest.param(jpeg() + zip_archive(), id="jpeg+zip"),
        pytest.param(jpeg() + script, id="jpeg+html"),
        # Ends in an EOI marker, so "bytes after the last FFD9" alone would miss it.
        pytest.param(jpeg() + script + b"\xff\xd9", id="jpeg+html+eoi"),
        pytest.param(png() + script, id="png+html"),
        pytest.param(png() + b"\x00", id="png+one-byte"),
        pytest.param(riff + zip_archive(), id="webp+zip"),
    ]


@pytest.mark.parametrize("data", polyglot_cases())
def test_data_after_the_image_end_is_refused(data):
    error = rejected(data)

    assert error.code == "trailing_data"
    assert "extra data" in error.message


@pytest.mark.parametrize("padding", [b"\x00" * 7, b"\xff" * 3, b"\x00" * 4096])
def test_jpeg_zero_or_ff_padding_is_accepted(padding):
    result = clean_image_upload(upload(jpeg() + padding))

    assert_clean(result, "JPEG")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(jpeg()[: len(jpeg()) // 2], id="jpeg-half"),
        pytest.param(jpeg()[:-2], id="jpeg-no-eoi"),
        pytest.param(png()[: len(png()) // 2], id="png-half"),
        pytest.param(png()[:-12], id="png-no-iend"),
        pytest.param(webp()[:40], id="webp-head"),
    ],
)
def test_truncated_images_are_not_images(data):
    assert rejected(data).code == "not_an_image"


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ("red", "green", "blue")]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"], ids=["animated-webp", "apng"])
def test_animated_images_are_refused(fmt):
    error = rejected(animated(fmt), "moving.webp")

    assert error.code == "animated"
    assert "still JPG, PNG or WebP" in error.message


def test_multi_picture_jpeg_keeps_its_first_view():
    # Cameras write MPO (a JPEG followed by more JPEG views); Pillow opens it as "MPO".
    left, right = Image.new("RGB", (40, 30), "red"), Image.new("RGB", (40, 30), "blue")
    data = encode(left, "MPO", save_all=True, append_images=[right])
    assert Image.open(io.BytesIO(data)).format == "MPO"

    result = clean_image_upload(upload(data))

    decoded = assert_clean(result, "JPEG")
    red, _green, blue = decoded.getpixel((20, 15))
    assert red > 200 and blue < 50
