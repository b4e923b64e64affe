"""The small interface every provider client implements, and the types it speaks.

docs/architecture.md "Layout": one client module per provider behind one interface: build request,
submit, fetch status, parse callback; typed errors with a ``retryable`` flag (``errors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

Mode = Literal["text-to-video", "image-to-video", "video-extend"]
MODES: tuple[str, ...] = ("text-to-video", "image-to-video", "video-extend")

State = Literal["pending", "processing", "success", "failed", "unknown"]
FINAL_STATES = frozenset({"success", "failed"})


@dataclass(frozen=True)
class GenerationRequest:
    """What a member asked for, independent of any provider's field names.

    Attributes:
        mode: one of :data:`MODES`.
        prompt: the prompt text (3-2500 characters after trimming).
        resolution: ``480p``, ``720p`` or ``1080p`` (which ones a model takes varies).
        duration: requested length in seconds (4-12).
        sound: generate audio (APIXO ``sound``, aivideoapi.ai ``generate_audio``).
        aspect_ratio: e.g. ``16:9``; None for the provider's default. Not for video-extend.
        camera_fixed: keep the camera still (APIXO ``fixed_lens`` / ``camera_fixed``,
            aivideoapi.ai ``camera_fixed``).
        image_urls: public image URLs for image-to-video: start frame, optional end frame.
        video_urls: the public source clip URL for video-extend (APIXO only).
        seed: optional seed. APIXO: video-extend only, 0-2147483647
            (docs/providers/apixo.md "Parameters"); aivideoapi.ai: text/image-to-video, -1 to
            4294967295 (docs/providers/aivideoapi.md "Seed").
        watermark: optional upstream watermark switch. APIXO: video-extend only
            (docs/providers/apixo.md "Parameters"); aivideoapi.ai: text/image-to-video
            (docs/providers/aivideoapi.md "Input Object").
    """

    mode: str
    prompt: str
    resolution: str
    duration: int
    sound: bool
    aspect_ratio: str | None = None
    camera_fixed: bool = False
    image_urls: tuple[str, ...] = ()
    video_urls: tuple[str, ...] = ()
    seed: int | None = None
    watermark: bool | None = None


@dataclass(frozen=True)
class TaskStatus:
    """A provider task's state, normalised.

    Attributes:
        task_id: the provider's task id.
        state: ``pending``, ``processing``, ``success``, ``failed``, or ``unknown`` for a
            state the docs do not list (still running; the caller applies a deadline).
        raw_state: the provider's own state string.
        result_urls: result video URLs (success only), in the provider's order.
        fail_code: the provider's machine failure code (failed only); may be empty.
        fail_message: human failure text, safe to show the member (failed only).
        create_time_ms, complete_time_ms: Unix times in milliseconds, when given.
        cost_time_ms: processing time in milliseconds, when given.
    """

    task_id: str
    state: str
    raw_state: str
    result_urls: tuple[str, ...] = ()
    fail_code: str = ""
    fail_message: str = ""
    create_time_ms: int | None = None
    complete_time_ms: int | None = None
    cost_time_ms: int | None = None

    @property
    def is_final(self) -> bool:
        """Tell whether the task has finished, well or not."""
        return self.state in FINAL_STATES

    @property
    def succeeded(self) -> bool:
        """Tell whether the task finished with a result."""
        return self.state == "success"


class ProviderClient(Protocol):
    """What the services and tasks need from a video provider.

    Every network method raises only :class:`~generations.providers.errors.ProviderError`
    subclasses for provider or network trouble, and ``ValueError`` for a programming error.
    """

    name: str
    allow_http_callbacks: bool  # http:// callback URLs accepted (local simulator only)

    def model_for(self, mode: str) -> str:
        """Return the provider model id that serves ``mode``."""
        ...

    def build_request(self, request: GenerationRequest, *, callback_url: str | None = None) -> dict:
        """Return the exact JSON body the submit call sends."""
        ...

    def submit(self, request: GenerationRequest, *, callback_url: str | None = None) -> str:
        """Create a task and return its id."""
        ...

    def fetch_status(self, task_id: str, *, model: str) -> TaskStatus:
        """Return the task's current status from the provider."""
        ...

    def parse_callback(
        self, body: bytes, *, headers: Mapping[str, str] | None = None
    ) -> TaskStatus:
        """Parse a webhook body strictly; never trust it without a fresh status read.

        ``headers`` are the webhook request's headers, checked against the body by providers
        that document some (aivideoapi.ai ``X-Event``, ``X-Task-Id``) and ignored by the
        others; None skips those checks.
        """
        ...

    def account_balance(self) -> Decimal:
        """Return the provider account's remaining balance in USD."""
        ...

    def download_allow_hosts(self) -> frozenset[str]:
        """Return the hosts the downloader may reach on loopback (the local simulator)."""
        ...
