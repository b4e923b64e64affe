"""Poster frames of stored result videos, for the gallery's cards (issue #15 item 1).

A poster is one still frame, a little into the clip (``POSTER_AT_S``, or a quarter of a
shorter clip, so a fade-in from black does not give a black card), scaled to at most
``POSTER_MAX_WIDTH`` px wide and encoded as WebP. It is stored beside the video in the same
storage backend (``Generation.poster``, under ``posters/``), so it is served like the video
(``generations.storage``).

A poster is a convenience: making one never fails the job, never retries a download and
never moves money. Every failure is logged and the card shows the video element instead
(docs/storage.md "Posters").
"""

import io
import logging
from typing import BinaryIO

import av
from django.core.files.base import ContentFile
from django.utils import timezone

from ..models import Generation

logger = logging.getLogger(__name__)

POSTER_AT_S = 1.0
POSTER_MAX_WIDTH = 640
POSTER_QUALITY = 80
# Frames decoded at most after the seek; a clip with no frame by then has no poster.
_MAX_DECODED_FRAMES = 600


class PosterError(Exception):
    """No poster frame could be read from the file (not a video, no frames, a decode error)."""


def poster_from_video(file: BinaryIO) -> bytes:
    """Return a WebP still of ``file``'s frame at ``POSTER_AT_S`` seconds (or earlier).

    Args:
        file: a readable, seekable binary file holding a video (MP4, WebM, QuickTime);
            read from its current position's start (it is seeked to 0 first).

    Returns:
        The encoded WebP image, at most ``POSTER_MAX_WIDTH`` px wide, aspect kept.

    Raises:
        PosterError: the file has no video stream, no decodable frame, or FFmpeg fails.
    """
    file.seek(0)
    try:
        with av.open(file, mode="r") as container:
            if not container.streams.video:
                raise PosterError("no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            duration_s = container.duration / av.time_base if container.duration else 0.0
            target_s = min(POSTER_AT_S, duration_s / 4) if duration_s else 0.0
            if target_s > 0 and stream.time_base:
                container.seek(int(target_s / stream.time_base), stream=stream, backward=True)
            chosen = None
            for count, frame in enumerate(container.decode(stream)):
                chosen = frame
                if frame.time is None or frame.time >= target_s or count >= _MAX_DECODED_FRAMES:
                    break
            if chosen is None:
                raise PosterError("no decodable frame")
            image = chosen.to_image()
    except av.FFmpegError as error:
        raise PosterError(str(error)) from error
    if image.width > POSTER_MAX_WIDTH:
        height = max(1, round(image.height * POSTER_MAX_WIDTH / image.width))
        image = image.resize((POSTER_MAX_WIDTH, height))
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=POSTER_QUALITY)
    return buffer.getvalue()


def generation_poster_store(*, generation_id: int, data: bytes) -> bool:
    """Store ``data`` as the poster of a generation that has none yet; never raise.

    Args:
        generation_id: a generation with a stored video (``Generation.has_video``).
        data: the encoded image (``poster_from_video``).

    Returns:
        True if stored; False if the generation has no stored video or already has a
        poster (another worker's: this copy is deleted), or the storage failed (logged).
    """
    try:
        generation = Generation.objects.get(pk=generation_id)
        if not generation.has_video or generation.poster:
            return False
        generation.poster.save(f"generation-{generation.pk}.webp", ContentFile(data), save=False)
        # Not onto a row its member deleted meanwhile (docs/storage.md "Bulk actions").
        saved = Generation.objects.filter(
            pk=generation.pk, poster="", deleted_at__isnull=True
        ).update(poster=generation.poster.name, updated_at=timezone.now())
        if not saved:  # another worker stored one first: keep theirs, drop this copy
            generation.poster.storage.delete(generation.poster.name)
        return bool(saved)
    except Exception:  # a poster must never fail the job (module docstring)
        logger.warning("Poster of generation %s not stored", generation_id, exc_info=True)
        return False


def generation_poster_make(*, generation_id: int) -> bool:
    """Make the poster of a generation from its stored video (the backfill); never raise.

    Reads ``result_file`` through its storage (a download from object storage), then
    ``generation_poster_store``.

    Args:
        generation_id: the generation; one without a stored video, or with a poster
            already, is left alone.

    Returns:
        True if a poster was stored by this call, else False (failures are logged).
    """
    try:
        generation = Generation.objects.get(pk=generation_id)
        if not generation.has_video or generation.poster:
            return False
        with generation.result_file.open("rb") as stored:
            data = poster_from_video(stored)
    except Exception:  # a poster must never fail anything (module docstring)
        logger.warning("No poster for generation %s", generation_id, exc_info=True)
        return False
    return generation_poster_store(generation_id=generation_id, data=data)
