"""Input assets of a generation: storing them and the public URLs the provider fetches.

The providers take inputs only as public URLs (docs/providers/apixo.md "Parameters": ``image_urls``;
docs/providers/apixo.md "Parameters": exactly one ``video_urls`` entry). A member's upload, or their
own stored result used as an extend source, is therefore served read-only at an unguessable URL
under ``PUBLIC_BASE_URL`` (192 random bits in the path) until its job is final plus
``INPUT_URL_MARGIN_SECONDS``. A public URL the member typed is sent as it is.
"""

import hashlib
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import Generation, GenerationInput


class InputsNotConfigured(Exception):
    """Stored inputs need a public address the provider can reach, and none is set."""

    message = _(
        "Uploaded files and your own videos can be used as inputs only when the portal has a "
        "public address: the operator must set PUBLIC_BASE_URL (e.g. https://studio.example.com) "
        "so the provider can fetch them. A public image or video URL works meanwhile."
    )

    def __init__(self) -> None:
        super().__init__(self.message)


@dataclass(frozen=True)
class InputSpec:
    """One input of a new generation, validated by the form.

    Exactly one of ``url`` (a member's public URL, sent as is), ``content`` (new bytes to
    store: an upload) or ``stored_name`` (a file already in storage: the member's own result
    or an earlier input of theirs) is set.

    Attributes:
        kind: ``image`` or ``video``.
        position: 0 for the start frame or the source clip, 1 for the end frame.
        name: the file name to store ``content`` under (its extension matters), or the
            original name to show.
        content_type: e.g. ``image/png``, ``video/mp4``.
        size_bytes: the stored file's size in bytes, when known.
        thumbnail: JPEG bytes of a thumbnail to store with an upload, or
        thumbnail_name: an existing stored thumbnail to reuse.
        digest: SHA-256 hex of what the provider gets (``input_digest``); computed when
            left empty. Equal digests mean an identical input (issue #12 item 5).
    """

    kind: str
    position: int = 0
    url: str = ""
    content: File | bytes | None = None
    stored_name: str = ""
    name: str = ""
    content_type: str = ""
    size_bytes: int | None = None
    thumbnail: bytes | None = None
    thumbnail_name: str = ""
    digest: str = ""

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", input_digest(self))

    @property
    def needs_public_url(self) -> bool:
        """Tell whether the provider must fetch this input from the portal."""
        return not self.url


def input_digest(spec: InputSpec) -> str:
    """Return the SHA-256 hex digest identifying what the provider gets for ``spec``.

    The bytes of new content (an upload, read in chunks and rewound), else the URL, else
    the stored file's name (the member's own result, or an earlier input reused as is).
    """
    digest = hashlib.sha256()
    if isinstance(spec.content, bytes):
        digest.update(spec.content)
    elif spec.content is not None:
        spec.content.seek(0)
        for chunk in spec.content.chunks():
            digest.update(chunk)
        spec.content.seek(0)
    elif spec.url:
        digest.update(b"url:" + spec.url.encode())
    else:
        digest.update(b"stored:" + spec.stored_name.encode())
    return digest.hexdigest()


def public_inputs_base_url() -> str:
    """Return the base URL the provider reaches this portal at, without a trailing slash.

    ``PUBLIC_BASE_URL`` when set; with the simulator and no public address, the local
    ``PORTAL_ADDRESS`` (the simulator runs on the same machine).

    Raises:
        InputsNotConfigured: a real provider key and no ``PUBLIC_BASE_URL``.
    """
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL.rstrip("/")
    if settings.USE_SIMULATOR:
        return f"http://{settings.PORTAL_ADDRESS}"
    raise InputsNotConfigured


def stored_inputs_available() -> bool:
    """Tell whether uploads and own results can be used as inputs (see above)."""
    try:
        public_inputs_base_url()
    except InputsNotConfigured:
        return False
    return True


def input_public_url(generation_input: GenerationInput) -> str:
    """Return the URL the provider fetches ``generation_input`` from."""
    if generation_input.source_url:
        return generation_input.source_url
    path = reverse("public_input", kwargs={"token": generation_input.public_token})
    return public_inputs_base_url() + path


def provider_input_urls(generation: Generation) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return ``(image_urls, video_urls)`` for the provider request, in position order.

    Raises:
        InputsNotConfigured: a stored input and no public address (see above).
    """
    images, videos = [], []
    for generation_input in sorted(generation.inputs.all(), key=lambda i: i.position):
        url = input_public_url(generation_input)
        (videos if generation_input.kind == GenerationInput.Kind.VIDEO else images).append(url)
    return tuple(images), tuple(videos)


def inputs_store(*, inputs: tuple[InputSpec, ...]) -> tuple[InputSpec, ...]:
    """Write the new bytes of ``inputs`` (uploads, thumbnails) to the default storage now.

    Call before the transaction that creates the generation: with object storage
    (``MEDIA_STORAGE=s3``) every write is an HTTP request, and none may run while that
    transaction holds the member's account row (docs/style.md practice 3). If the transaction
    then fails, ``inputs_discard`` removes what this wrote.

    Returns:
        The specs again, each upload now a ``stored_name`` (and ``thumbnail_name``) in
        ``inputs/...`` with ``content``/``thumbnail`` cleared; the others unchanged.
    """
    stored = []
    for spec in inputs:
        changes = {}
        holder = GenerationInput()  # unsaved: only its fields' upload_to naming is used
        if spec.content is not None:
            content = spec.content
            if isinstance(content, bytes):
                content = ContentFile(content)
            holder.file.save(spec.name or f"input-{spec.position}", content, save=False)
            changes.update(content=None, stored_name=holder.file.name)
        if spec.thumbnail is not None:
            holder.thumbnail.save("thumbnail.jpg", ContentFile(spec.thumbnail), save=False)
            changes.update(thumbnail=None, thumbnail_name=holder.thumbnail.name)
        stored.append(replace(spec, **changes))
    return tuple(stored)


def inputs_discard(*, inputs: tuple[InputSpec, ...], stored: tuple[InputSpec, ...]) -> None:
    """Delete the files ``inputs_store`` wrote for ``inputs`` (returned as ``stored``).

    For a generation that could not be created; files the specs already referenced (a
    member's earlier result or input) stay.
    """
    for spec, kept in zip(inputs, stored, strict=True):
        if spec.content is not None and kept.stored_name:
            default_storage.delete(kept.stored_name)
        if spec.thumbnail is not None and kept.thumbnail_name:
            default_storage.delete(kept.thumbnail_name)


def inputs_create(*, generation: Generation, inputs: tuple[InputSpec, ...]) -> None:
    """Store ``inputs`` for a new generation (call inside its creating transaction).

    Files are written to the default storage; the rows point at them. A file written before
    a later failure rolls back is left unreferenced, never half-referenced.

    Raises:
        InputsNotConfigured: an input needs a public URL and the portal has no public address.
    """
    if any(spec.needs_public_url for spec in inputs):
        public_inputs_base_url()
    for spec in inputs:
        row = GenerationInput(
            generation=generation,
            kind=spec.kind,
            position=spec.position,
            source_url=spec.url,
            original_name=spec.name[:255],
            content_type=spec.content_type,
            size_bytes=spec.size_bytes,
            digest=spec.digest,
        )
        if spec.content is not None:
            content = spec.content
            if isinstance(content, bytes):
                content = ContentFile(content)
            row.file.save(spec.name or f"input-{spec.position}", content, save=False)
        elif spec.stored_name:
            row.file.name = spec.stored_name
        if spec.thumbnail is not None:
            row.thumbnail.save("thumbnail.jpg", ContentFile(spec.thumbnail), save=False)
        elif spec.thumbnail_name:
            row.thumbnail.name = spec.thumbnail_name
        row.save()


def input_spec_copy(generation_input: GenerationInput) -> InputSpec:
    """Return a spec reusing an earlier input: same file or URL, a new public token.

    For "Generate again"; the caller has checked that the member owns the input.
    """
    return InputSpec(
        kind=generation_input.kind,
        position=generation_input.position,
        url=generation_input.source_url,
        stored_name=generation_input.file.name if generation_input.file else "",
        name=generation_input.original_name,
        content_type=generation_input.content_type,
        size_bytes=generation_input.size_bytes,
        thumbnail_name=generation_input.thumbnail.name if generation_input.thumbnail else "",
        digest=generation_input.digest,
    )


def inputs_expire_later(*, generation: Generation) -> None:
    """Let ``generation``'s public input URLs lapse ``INPUT_URL_MARGIN_SECONDS`` from now.

    Called by ``generation_finalize`` in its transaction (docs/architecture.md: inputs are served
    until the job is final plus a margin).
    """
    margin = timedelta(seconds=settings.INPUT_URL_MARGIN_SECONDS)
    GenerationInput.objects.filter(generation=generation, expires_at__isnull=True).update(
        expires_at=timezone.now() + margin
    )
