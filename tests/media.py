"""Small real media files for tests, made in memory with Pillow."""

import io

from PIL import Image


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 36), color=(200, 80, 40)) -> bytes:
    """Return an encoded still image (``fmt`` is a Pillow format name: PNG, JPEG, WEBP, GIF)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()
