"""Sample inputs the simulator serves at ``/samples/<name>``, for trying and testing the
image-to-video and video-extend modes with public URLs on a machine without internet.

Not part of APIXO: a stand-in for "a public image (or video) URL somewhere on the web".
``frame.png``, ``frame.jpg`` and ``frame.webp`` are 640x360 stills; ``clip.mp4`` is a
4-second 640x360 H.264 clip (rendered once into the media directory).
"""

from __future__ import annotations

import io
from pathlib import Path

from .video import VideoCache

_IMAGE_TYPES = {
    "frame.png": ("PNG", "image/png"),
    "frame.jpg": ("JPEG", "image/jpeg"),
    "frame.webp": ("WEBP", "image/webp"),
}
_VIDEOS = VideoCache()
NAMES = (*_IMAGE_TYPES, "clip.mp4")


def sample(name: str, media_dir: Path) -> tuple[bytes, str] | None:
    """Return ``(content, content_type)`` of the sample ``name``, or None if there is none."""
    if name in _IMAGE_TYPES:
        from PIL import Image, ImageDraw

        fmt, content_type = _IMAGE_TYPES[name]
        image = Image.new("RGB", (640, 360), (32, 96, 160))
        ImageDraw.Draw(image).ellipse((240, 100, 400, 260), fill=(240, 200, 60))
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        return buffer.getvalue(), content_type
    if name == "clip.mp4":
        path = _VIDEOS.get(media_dir, width=640, height=360, duration_s=4.0, sound=False)
        return path.read_bytes(), "video/mp4"
    return None
