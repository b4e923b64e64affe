"""Video providers behind one small interface (DESIGN.md "Layout", STYLE.md practice 7).

Call :func:`get_provider` for a configured client, catch
:class:`~generations.providers.errors.ProviderError` and decide retries with
``errors.is_retryable`` and ``http.backoff_delay``. Fetch result videos and user-given URLs
only through ``http.download_to_file``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .apixo import ApixoClient
from .base import FINAL_STATES, MODES, GenerationRequest, Mode, ProviderClient, TaskStatus
from .errors import (
    DownloadError,
    DownloadReason,
    DownloadRefused,
    ProviderAuthError,
    ProviderBalanceError,
    ProviderConnectionError,
    ProviderError,
    ProviderNotFound,
    ProviderOutcomeUnknown,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderResponseError,
    ProviderServerError,
    is_retryable,
)
from .http import DownloadResult, backoff_delay, download_to_file
from .media import IMAGE_CONTENT_TYPES, VIDEO_CONTENT_TYPES, sniff_image, sniff_media, sniff_video

__all__ = [
    "FINAL_STATES",
    "IMAGE_CONTENT_TYPES",
    "MODES",
    "VIDEO_CONTENT_TYPES",
    "ApixoClient",
    "DownloadError",
    "DownloadReason",
    "DownloadRefused",
    "DownloadResult",
    "GenerationRequest",
    "Mode",
    "ProviderAuthError",
    "ProviderBalanceError",
    "ProviderClient",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderNotFound",
    "ProviderOutcomeUnknown",
    "ProviderRateLimited",
    "ProviderRequestRejected",
    "ProviderResponseError",
    "ProviderServerError",
    "TaskStatus",
    "backoff_delay",
    "download_to_file",
    "get_provider",
    "is_retryable",
    "sniff_image",
    "sniff_media",
    "sniff_video",
]


def get_provider(name: str = "apixo") -> ProviderClient:
    """Return a client for provider ``name``, configured from Django settings.

    Reads ``APIXO_BASE_URL``, ``APIXO_API_KEY`` (the simulator's key when no real key is
    set), ``APIXO_ROUTING`` (``auto``, ``value`` or ``official``) and
    ``PROVIDER_CONNECT_TIMEOUT`` / ``PROVIDER_READ_TIMEOUT`` (seconds; 5.0 and 30.0 when
    absent) and ``CALLBACK_ALLOW_HTTP`` (http callback URLs, for the loopback simulator only).

    Raises:
        ValueError: unknown provider name (only ``apixo`` is implemented).
        ImproperlyConfigured: a setting is missing or out of its domain.
    """
    if name != "apixo":
        raise ValueError(f"unknown provider {name!r}")
    try:
        return ApixoClient(
            settings.APIXO_BASE_URL,
            settings.APIXO_API_KEY,
            routing=getattr(settings, "APIXO_ROUTING", "auto"),
            connect_timeout=float(getattr(settings, "PROVIDER_CONNECT_TIMEOUT", 5.0)),
            read_timeout=float(getattr(settings, "PROVIDER_READ_TIMEOUT", 30.0)),
            allow_http_callbacks=bool(getattr(settings, "CALLBACK_ALLOW_HTTP", False)),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"APIXO provider settings: {exc}") from exc
