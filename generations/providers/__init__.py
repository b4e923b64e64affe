"""Video providers behind one small interface (docs/architecture.md "Layout", docs/style.md
practice 7).

Call :func:`get_provider` for a configured client, catch
:class:`~generations.providers.errors.ProviderError` and decide retries with
``errors.is_retryable`` and ``http.backoff_delay``. Fetch result videos and user-given URLs
only through ``http.download_to_file``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .. import catalog
from .aivideoapi import AivideoapiClient
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
    ProviderSpendLimited,
    ProviderTaskNotFound,
    ReadFault,
    is_credentials_error,
    is_retryable,
    status_read_fault,
)
from .http import DownloadResult, backoff_delay, download_to_file
from .media import IMAGE_CONTENT_TYPES, VIDEO_CONTENT_TYPES, sniff_image, sniff_media, sniff_video

__all__ = [
    "FINAL_STATES",
    "IMAGE_CONTENT_TYPES",
    "MODES",
    "VIDEO_CONTENT_TYPES",
    "AivideoapiClient",
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
    "ProviderNotConfigured",
    "ProviderNotFound",
    "ProviderOutcomeUnknown",
    "ProviderRateLimited",
    "ProviderRequestRejected",
    "ProviderResponseError",
    "ProviderServerError",
    "ProviderSpendLimited",
    "ProviderTaskNotFound",
    "ReadFault",
    "TaskStatus",
    "backoff_delay",
    "configured_providers",
    "default_provider",
    "download_to_file",
    "get_provider",
    "is_credentials_error",
    "is_retryable",
    "provider_configured",
    "providers_for",
    "sniff_image",
    "sniff_media",
    "sniff_video",
    "status_read_fault",
]


PROVIDER_NAMES = ("apixo", "aivideoapi")


class ProviderNotConfigured(ImproperlyConfigured):
    """The provider is known but not configured here (e.g. its key was removed)."""


def get_provider(
    name: str = "apixo",
    *,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    total_timeout: float | None = None,
) -> ProviderClient:
    """Return a client for provider ``name``, configured from Django settings.

    ``apixo`` reads ``APIXO_BASE_URL``, ``APIXO_API_KEY`` (the simulator's key when no real
    key is set) and ``APIXO_ROUTING``; ``aivideoapi`` reads ``AIVIDEOAPI_BASE_URL`` and
    ``AIVIDEOAPI_API_KEY`` (the simulator's, under ``/aivideoapi/v1``, when the portal runs
    on the simulator without that key). Both read ``PROVIDER_CONNECT_TIMEOUT`` /
    ``PROVIDER_READ_TIMEOUT`` (seconds; 5.0 and 30.0 when absent) and ``CALLBACK_ALLOW_HTTP``
    (http callback URLs, for a loopback simulator only; a client on a public address never
    gets it). The keyword arguments override those timeouts for one client, e.g. the
    webhook's short confirming read (``WEBHOOK_STATUS_*_TIMEOUT``).

    Args:
        name: ``apixo`` or ``aivideoapi``.
        connect_timeout, read_timeout: seconds; None for the settings' values.
        total_timeout: seconds for a whole call (``http.request_json``); None: no cap.

    Raises:
        ValueError: unknown provider name.
        ProviderNotConfigured: the provider is not configured (:func:`provider_configured`),
            e.g. its key was removed while its jobs were in flight.
        ImproperlyConfigured: a setting is missing or out of its domain.
    """
    if name not in PROVIDER_NAMES:
        raise ValueError(f"unknown provider {name!r}")
    if not provider_configured(name):
        raise ProviderNotConfigured(f"Provider {name} is not configured (no API key).")
    timeouts = {
        "connect_timeout": float(
            connect_timeout or getattr(settings, "PROVIDER_CONNECT_TIMEOUT", 5.0)
        ),
        "read_timeout": float(read_timeout or getattr(settings, "PROVIDER_READ_TIMEOUT", 30.0)),
        "total_timeout": total_timeout,
    }
    allow_http = bool(getattr(settings, "CALLBACK_ALLOW_HTTP", False))
    try:
        if name == "apixo":
            return ApixoClient(
                settings.APIXO_BASE_URL,
                settings.APIXO_API_KEY,
                routing=getattr(settings, "APIXO_ROUTING", "auto"),
                allow_http_callbacks=allow_http,
                **timeouts,
            )
        base_url = settings.AIVIDEOAPI_BASE_URL
        return AivideoapiClient(
            base_url,
            settings.AIVIDEOAPI_API_KEY,
            allow_http_callbacks=allow_http and _is_loopback_url(base_url),
            **timeouts,
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} provider settings: {exc}") from exc


def provider_configured(name: str) -> bool:
    """Tell whether provider ``name`` can take jobs: it has a key (or the simulator's).

    APIXO always can: without ``APIXO_API_KEY`` it is the simulator
    (docs/architecture.md "Configuration"). aivideoapi.ai needs ``AIVIDEOAPI_API_KEY``, which
    settings fill in with the simulator's key when the portal runs on the simulator.
    """
    if name == "apixo":
        return True
    return name == "aivideoapi" and bool(getattr(settings, "AIVIDEOAPI_API_KEY", ""))


def configured_providers() -> tuple[str, ...]:
    """Return the names of the providers that can take jobs, in ``PROVIDER_NAMES`` order."""
    return tuple(name for name in PROVIDER_NAMES if provider_configured(name))


def _is_loopback_url(url: str) -> bool:
    """Tell whether ``url``'s host is a loopback name or address (the local simulator)."""
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def providers_for(*, mode: str, resolution: str | None = None) -> tuple[str, ...]:
    """Return the configured providers offering ``mode`` (at ``resolution``, when given).

    Issue #7: the forms offer exactly these, each with its own price.
    """
    return catalog.providers_offering(
        mode=mode, resolution=resolution, among=configured_providers()
    )


def default_provider(*, mode: str, resolution: str | None = None) -> str | None:
    """Return where a job goes when nobody chooses: ``PROVIDER_DEFAULT`` if it offers the mode
    (and resolution), else the first configured provider that does; None if none does."""
    offered = providers_for(mode=mode, resolution=resolution)
    preferred = getattr(settings, "PROVIDER_DEFAULT", "apixo")
    if preferred in offered:
        return preferred
    return offered[0] if offered else None
