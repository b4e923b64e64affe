"""Fetch and check a task's input URLs the way the upstream does before generating.

Sources: docs/providers/apixo.md "Task failure codes" (``ImageFormatIncorrect``),
docs/providers/apixo.md "Task failure codes" (``INVALID_IMAGE_URL``: cannot access the image URL)
and docs/providers/apixo.md "Image formats" (JPG, PNG, WebP, max 10 MB per image),
docs/providers/apixo.md "Task failure codes" (``IMAGE_TOO_LARGE``),
docs/providers/apixo.md "Task failure codes" (``INVALID_PARAMETER`` for a bad source clip). Input
problems do not fail the submit: they fail the task.
"""

from __future__ import annotations

import tempfile
import time
import urllib.error
import urllib.request
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, BinaryIO
from urllib.parse import urlsplit

from .store import Failure
from .video import NotAVideoError, VideoInfo, probe

_CHUNK = 64 * 1024


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to HTTP(S) URLs only (urllib would also follow ``ftp://``)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        """Refuse a redirect to anything but HTTP(S); otherwise behave as urllib does."""
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, "redirect to a non-HTTP URL", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# A real provider fetches directly; ignore *_proxy variables so local URLs stay local.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _HttpOnlyRedirects())


class InputError(Exception):
    """An input URL makes the task fail with ``failure``."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class FetchError(Exception):
    """A URL could not be fetched; the message says why in a few words."""


class TooLargeError(FetchError):
    """A URL's body exceeds the size cap."""


def check_images(urls: tuple[str, ...], *, timeout: float, max_bytes: int) -> None:
    """Fetch each image URL and sniff its type; raise InputError on the first bad one."""
    for index, url in enumerate(urls):
        name = f"image_urls[{index}]"
        try:
            with tempfile.TemporaryFile() as sink:
                fetch(url, sink, timeout=timeout, max_bytes=max_bytes)
                sink.seek(0)
                head = sink.read(16)
        except TooLargeError:
            mb = max_bytes // (1024 * 1024)
            raise InputError(Failure("IMAGE_TOO_LARGE", f"{name} exceeds {mb} MB")) from None
        except FetchError as exc:
            raise InputError(
                Failure("INVALID_IMAGE_URL", f"Cannot access image URL {name}: {exc}")
            ) from None
        if sniff_image(head) is None:
            raise InputError(
                Failure("ImageFormatIncorrect", f"{name} is not a JPEG, PNG or WebP image")
            )


def check_source_video(url: str, *, timeout: float, max_bytes: int, scratch: Path) -> VideoInfo:
    """Fetch the source clip of an extend task and read it; raise InputError if unusable."""
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=scratch, suffix=".source") as sink:
        try:
            fetch(url, sink, timeout=timeout, max_bytes=max_bytes)
        except TooLargeError:
            mb = max_bytes // (1024 * 1024)
            raise InputError(
                Failure("INVALID_PARAMETER", f"Source video video_urls[0] exceeds {mb} MB")
            ) from None
        except FetchError as exc:
            raise InputError(
                Failure("INVALID_PARAMETER", f"Cannot access source video video_urls[0]: {exc}")
            ) from None
        sink.flush()
        try:
            return probe(Path(sink.name))
        except NotAVideoError:
            raise InputError(
                Failure("INVALID_PARAMETER", "Source video video_urls[0] is not a readable video")
            ) from None


def sniff_image(head: bytes) -> str | None:
    """Return "jpeg", "png" or "webp" from a file's first bytes, or None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def fetch(url: str, sink: BinaryIO, *, timeout: float, max_bytes: int) -> None:
    """Copy the body of a GET on ``url`` into ``sink``; raise FetchError or TooLargeError.

    Any non-2xx answer, network error, non-HTTP(S) redirect or timeout is a FetchError;
    ``timeout`` bounds each network operation and, with a slack of 2x, the whole download.
    ``url`` itself was checked to be HTTP(S) at submit.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "apixo-simulator/1"})  # noqa: S310
    deadline = time.monotonic() + 2 * timeout
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise TooLargeError("too large")
            received = 0
            while chunk := response.read(_CHUNK):
                received += len(chunk)
                if received > max_bytes:
                    raise TooLargeError("too large")
                if time.monotonic() > deadline:
                    raise FetchError("download too slow")
                sink.write(chunk)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise FetchError(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise FetchError(str(exc.reason)) from None
    except (OSError, ValueError) as exc:  # timeouts, resets, malformed URLs
        raise FetchError(type(exc).__name__) from None
