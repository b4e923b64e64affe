"""Answering a request for a stored file (result video, input) from the media storage.

The caller (a view) has already decided who may see the file; this module only delivers it,
in the way the configured storage allows (``MEDIA_STORAGE``, ``MEDIA_ACCEL``; docs/storage.md):

- Object storage (``MEDIA_STORAGE=s3``): a 302 to a presigned GET URL that stays valid for
  ``AWS_QUERYSTRING_EXPIRE`` seconds. The object store answers ``Range`` itself.
- Local disk with ``MEDIA_ACCEL=nginx``: an empty response whose ``X-Accel-Redirect`` names
  the file under ``MEDIA_ACCEL_PREFIX``, an ``internal`` nginx location aliasing
  ``MEDIA_ROOT``; nginx sends the bytes and answers ``Range``.
- Local disk with ``MEDIA_ACCEL=apache``: ``X-Sendfile`` with the absolute path, for
  Apache's mod_xsendfile, which answers ``Range`` too.
- Local disk with ``MEDIA_ACCEL=none``: Django streams the file and honours one byte range
  (RFC 9110 section 14: 206 with ``Content-Range``, 416 when unsatisfiable, ``If-Range``).
  No maintained library adds Range to Django's responses (django-ranged-response was last
  released in 2017; django-sendfile2 and django-downloadview serve whole files only).
"""

import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db.models.fields.files import FieldFile
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

# One byte-range-spec: "first-last", "first-" or "-suffix" (RFC 9110 section 14.1.2). A set
# of several ranges does not match and is ignored: the whole file is sent, as section 14.2
# allows.
_BYTE_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)", re.ASCII | re.IGNORECASE)


class RangeNotSatisfiable(Exception):
    """The requested byte range starts past the end of the file (RFC 9110 section 15.5.17)."""


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """Return the inclusive ``(first, last)`` byte positions a ``Range`` header asks for.

    Args:
        header: the ``Range`` header's value, e.g. ``bytes=0-99``, ``bytes=100-`` or
            ``bytes=-500`` (the last 500 bytes).
        size: the file's size in bytes.

    Returns:
        The positions, with ``last`` clipped to ``size - 1``; None when the header is to be
        ignored and the whole file sent: another unit, bad syntax, ``last`` before ``first``
        (RFC 9110 section 14.1.1: invalid), or several ranges.

    Raises:
        RangeNotSatisfiable: ``first`` is at or past the end, or the suffix is empty (a
            zero-byte suffix, or any range of an empty file).
    """
    match = _BYTE_RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first_text, last_text = match.groups()
    if not first_text:
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(size - suffix, 0), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None
    if first >= size:
        raise RangeNotSatisfiable
    return first, min(last, size - 1)


@dataclass
class _FileSlice:
    """The next ``remaining`` bytes of an open file, read in blocks by FileResponse."""

    file: BinaryIO
    remaining: int

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size < 0 else min(size, self.remaining)
        data = self.file.read(size)
        self.remaining -= len(data)
        return data

    def close(self) -> None:
        self.file.close()


def _if_range_allows(request: HttpRequest, etag: str, last_modified: int) -> bool:
    """Tell whether ``If-Range`` (if any) still matches the file (RFC 9110 section 13.1.5).

    An entity tag must match strongly (a weak one never does); a date must equal the
    file's ``Last-Modified`` exactly. On a mismatch the whole, current file is sent.
    """
    value = request.headers.get("If-Range", "").strip()
    if not value:
        return True
    if value.startswith(('"', "W/")):
        return value == etag
    return parse_http_date_safe(value) == last_modified


def ranged_file_response(
    request: HttpRequest,
    path: Path,
    *,
    content_type: str,
    filename: str = "",
    as_attachment: bool = False,
) -> HttpResponseBase:
    """Stream the local file at ``path``, honouring one byte range and conditional requests.

    Answers: 200 with the whole file (no usable ``Range``, or ``If-Range`` no longer
    matches); 206 with ``Content-Range: bytes first-last/size`` and ``last - first + 1``
    bytes; 416 with ``Content-Range: bytes */size`` when the range starts past the end;
    304 for a matching ``If-None-Match``/``If-Modified-Since``. Every answer carries
    ``Accept-Ranges: bytes``, ``ETag`` (from size and modification time) and
    ``Last-Modified``.

    Args:
        path: an absolute path inside ``MEDIA_ROOT``.
        content_type: e.g. ``video/mp4``.
        filename: the name offered in ``Content-Disposition`` (inline unless
            ``as_attachment``); empty for none.

    Raises:
        Http404: the file is missing.
    """
    try:
        file = path.open("rb")
    except (FileNotFoundError, IsADirectoryError):
        raise Http404("The stored file is missing.") from None
    stat = os.fstat(file.fileno())
    size, last_modified = stat.st_size, int(stat.st_mtime)
    etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'

    def finish(response: HttpResponseBase) -> HttpResponseBase:
        response["Accept-Ranges"] = "bytes"
        response["ETag"] = etag
        response["Last-Modified"] = http_date(last_modified)
        return response

    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if not_modified is not None:
        file.close()
        return finish(not_modified)
    requested = request.headers.get("Range", "")
    try:
        span = byte_range(requested, size) if requested else None
    except RangeNotSatisfiable:
        file.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return finish(response)
    if span is None or not _if_range_allows(request, etag, last_modified):
        response = FileResponse(
            file, content_type=content_type, filename=filename, as_attachment=as_attachment
        )
        return finish(response)
    first, last = span
    file.seek(first)
    response = FileResponse(
        _FileSlice(file, last - first + 1),
        status=206,
        content_type=content_type,
        filename=filename,
        as_attachment=as_attachment,
    )
    response["Content-Length"] = str(last - first + 1)
    response["Content-Range"] = f"bytes {first}-{last}/{size}"
    return finish(response)


def _accel_response(
    header: str, value: str, *, content_type: str, filename: str, as_attachment: bool
) -> HttpResponse:
    """Return an empty response that asks the web server in front to send the file."""
    response = HttpResponse(content_type=content_type)
    response[header] = value
    if disposition := content_disposition_header(as_attachment, filename):
        response["Content-Disposition"] = disposition
    return response


def _presigned_redirect(
    field_file: FieldFile, *, content_type: str, filename: str, as_attachment: bool
) -> HttpResponseRedirect:
    """Redirect to a presigned GET URL of the object, valid ``AWS_QUERYSTRING_EXPIRE`` s."""
    from storages.backends.s3 import S3Storage  # boto3 is loaded only when S3 is used

    storage = field_file.storage
    if isinstance(storage, S3Storage):
        # The object store then answers with the same type and disposition as Django would.
        parameters = {"ResponseContentType": content_type}
        if disposition := content_disposition_header(as_attachment, filename):
            parameters["ResponseContentDisposition"] = disposition
        url = storage.url(field_file.name, parameters=parameters)
    else:
        url = storage.url(field_file.name)
    response = HttpResponseRedirect(url)
    # The URL expires: neither the browser nor a proxy may keep the redirect.
    response["Cache-Control"] = "private, no-store"
    return response


def stored_file_response(
    request: HttpRequest,
    field_file: FieldFile,
    *,
    content_type: str = "",
    filename: str = "",
    as_attachment: bool = False,
) -> HttpResponseBase:
    """Answer ``request`` with ``field_file`` from wherever the media storage keeps it.

    Call only after checking that the requester may see the file (the owner check). See
    the module docstring for the forms of answer; the caller may add headers.

    Args:
        field_file: a non-empty ``FileField`` value (``generation.result_file``, an input).
        content_type: e.g. ``video/mp4``; guessed from the stored name when empty.
        filename: the name offered to the browser, e.g. ``seedance-12.mp4``; none if empty.
        as_attachment: ``Content-Disposition: attachment`` (a download) instead of inline.

    Raises:
        Http404: the field is empty, or a local file is missing.
    """
    if not field_file:
        raise Http404("No file is stored.")
    content_type = (
        content_type or mimetypes.guess_type(field_file.name)[0] or "application/octet-stream"
    )
    storage = field_file.storage
    if not isinstance(storage, FileSystemStorage):
        return _presigned_redirect(
            field_file, content_type=content_type, filename=filename, as_attachment=as_attachment
        )
    # path() refuses names that leave MEDIA_ROOT (SuspiciousFileOperation: a 400).
    path = Path(storage.path(field_file.name))
    options = {"content_type": content_type, "filename": filename, "as_attachment": as_attachment}
    if settings.MEDIA_ACCEL == "nginx":
        location = settings.MEDIA_ACCEL_PREFIX + quote(field_file.name.lstrip("/"))
        return _accel_response("X-Accel-Redirect", location, **options)
    if settings.MEDIA_ACCEL == "apache":
        # The path's own bytes: Debian's mod_xsendfile (0.12) opens the value as it comes,
        # without URL-decoding, and WSGI carries header bytes as Latin-1 characters.
        return _accel_response("X-Sendfile", os.fsencode(path).decode("latin-1"), **options)
    return ranged_file_response(request, path, **options)


# Read this much of a stored file at a time when the portal itself reads it through (a ZIP).
READ_CHUNK_BYTES = 256 * 1024


def stored_file_chunks(field_file: FieldFile, chunk_size: int = READ_CHUNK_BYTES):
    """Yield the bytes of ``field_file`` from the media storage, ``chunk_size`` at a time.

    Through Django's storage API, so any configured backend works. For django-storages' S3
    backend the object's body is streamed (``S3File.read`` would first download the whole
    object into memory: ``AWS_S3_MAX_MEMORY_SIZE`` defaults to 0, no spilling to disk), so
    memory stays at about one chunk whatever the file's size (docs/storage.md "Bulk actions").

    Raises:
        FileNotFoundError: a local file is missing (when the first chunk is asked for).
    """
    file = field_file.storage.open(field_file.name, "rb")
    try:
        s3_object = getattr(file, "obj", None)
        if s3_object is not None and hasattr(s3_object, "get"):
            yield from s3_object.get()["Body"].iter_chunks(chunk_size)
            return
        while chunk := file.read(chunk_size):
            yield chunk
    finally:
        file.close()
