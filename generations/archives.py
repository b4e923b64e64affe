"""The gallery's bulk download: several stored videos as one ZIP, streamed as it is made.

docs/storage.md "Bulk actions": at most ``BULK_MAX`` (100) videos per ZIP, only the member's
own stored results (chosen by ``selectors.generations.bulk_zip_generations``), each named
``<id>-<prompt-slug>.<ext>``. The archive is never built in memory or on disk: zipstream-ng
writes each member's header, then its bytes as ``storage.stored_file_chunks`` reads them
from the media storage (local disk or object storage, through Django's storage API), then
the central directory. Videos are stored, not deflated (they are compressed already), so
the ZIP's size is known before the first byte and sent as ``Content-Length``.

Why zipstream-ng: maintained, pure Python, no dependencies, computes the size of a stored
(uncompressed) archive up front; stream-zip needs the sizes too but offers no length.
"""

import logging
import secrets

from django.core.cache import cache
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from zipstream import ZIP_STORED, ZipStream

from .models import Generation
from .storage import stored_file_chunks

SLUG_MAX = 50
logger = logging.getLogger(__name__)


def zip_member_name(generation: Generation) -> str:
    """Return the name of ``generation``'s video inside the ZIP, e.g. ``12-a-red-fox.mp4``.

    The prompt's first ``SLUG_MAX`` characters as an ASCII slug (``video`` when nothing is
    left), after the id, which keeps the names unique.
    """
    extension = generation.result_file.name.rsplit(".", 1)[-1].lower() or "mp4"
    slug = slugify(generation.prompt)[:SLUG_MAX].strip("-") or "video"
    return f"{generation.pk}-{slug}.{extension}"


def generations_zip(generations: list[Generation]) -> tuple[ZipStream, int]:
    """Return a lazy ZIP of the stored videos of ``generations`` and how many were left out.

    Each video's size is read first (``storage.size``: a stat, or a HEAD on object storage);
    one that is missing from the storage is left out rather than breaking the stream
    half-way. Nothing else is read until the ZIP is iterated.

    Args:
        generations: jobs with a stored ``result_file`` the caller may serve (the owner's).
    """
    archive = ZipStream(compress_type=ZIP_STORED, sized=True)
    missing = 0
    for generation in generations:
        field_file = generation.result_file
        try:
            size = field_file.storage.size(field_file.name)
        except Exception:  # each backend has its own "not there"
            missing += 1
            continue
        archive.add(stored_file_chunks(field_file), zip_member_name(generation), size=size)
    return archive, missing


# One ZIP at a time per member (docs/storage.md "Bulk actions"): a download holds a web
# thread for the whole transfer, so a member's parallel downloads could take every thread.
# The claim lives in the shared cache; it ends when the response is closed (the transfer
# ended, failed, or the client went away), or after this many seconds if the process died.
ZIP_SLOT_SECONDS = 30 * 60


def zip_slot_claim(user_id: int) -> str | None:
    """Claim ``user_id``'s single ZIP download slot; return its token, or None while
    another of the member's ZIP downloads is still streaming. A cache that cannot answer
    does not stop downloads (logged; the token is then empty and frees nothing)."""
    token = secrets.token_hex(8)
    try:
        return token if cache.add(f"bulk-zip:{user_id}", token, ZIP_SLOT_SECONDS) else None
    except Exception:
        logger.warning("ZIP slot cache unavailable; download not limited", exc_info=True)
        return ""


def zip_slot_release(user_id: int, token: str) -> None:
    """Free ``user_id``'s ZIP slot if ``token`` still holds it."""
    if not token:
        return
    try:
        if cache.get(f"bulk-zip:{user_id}") == token:
            cache.delete(f"bulk-zip:{user_id}")
    except Exception:
        logger.warning("ZIP slot cache unavailable; the slot expires on its own", exc_info=True)


class ZipResponse(StreamingHttpResponse):
    """A streamed ZIP that frees its member's slot when the server closes it: after the
    last byte, on an error, or when the client went away, whether or not a byte was sent."""

    def __init__(self, *args, release=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._release = release

    def close(self):
        try:
            super().close()
        finally:
            if self._release is not None:
                release, self._release = self._release, None
                release()


def zip_response(
    archive: ZipStream, *, user_id: int | None = None, slot: str | None = None
) -> StreamingHttpResponse:
    """Stream ``archive`` as an attachment named ``seedance-videos-<UTC time>.zip``;
    ``user_id`` and ``slot`` (from :func:`zip_slot_claim`) free that slot when it closes."""
    release = None if slot is None else (lambda: zip_slot_release(user_id, slot))
    response = ZipResponse(archive, content_type="application/zip", release=release)
    response["Content-Length"] = str(len(archive))
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = content_disposition_header(
        True, f"seedance-videos-{stamp}.zip"
    )
    response["Cache-Control"] = "private, no-store"
    return response
