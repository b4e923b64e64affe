"""Webhook tokens and URLs: the secret that proves a callback belongs to one generation.

APIXO signs nothing (docs/providers/apixo.md "Webhooks": "No signature, secret or verification
header is documented. Authenticate by an unguessable token in the callback URL"). Each submit
attempt in callback mode gets a fresh token of 256 random bits; only its sha256 hex is stored
(``Generation.callback_token_hash``) and a delivery's token is compared in constant time.
"""

import hashlib
import secrets

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from ..providers import ProviderClient

TOKEN_BYTES = 32  # 256 random bits, URL-safe base64 (43 characters)
# Compared against when no hash is stored, so a miss takes as long as a mismatch.
_NO_HASH = "0" * 64


def callback_token_new() -> tuple[str, str]:
    """Return a new ``(token, sha256_hex)`` pair; the token goes in the URL, the hash in the DB."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, callback_token_digest(token)


def callback_token_digest(token: str) -> str:
    """Return the sha256 hex digest stored for ``token``."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def callback_token_matches(token: str, stored_hash: str) -> bool:
    """Tell whether ``token`` is the one whose hash is ``stored_hash``, in constant time.

    An empty ``stored_hash`` (a job submitted for polling) matches nothing.
    """
    matches = constant_time_compare(callback_token_digest(token), stored_hash or _NO_HASH)
    return matches and bool(stored_hash)


def callback_base_url(client: ProviderClient) -> str:
    """Return the base of webhook URLs for ``client``, or "" to submit for polling only.

    Callback mode is on when ``PUBLIC_BASE_URL`` is HTTPS (docs/architecture.md "Generation
    lifecycle"; docs/providers/apixo.md "Parameters": a public HTTPS URL). For the local simulator
    only (``CALLBACK_ALLOW_HTTP`` with a loopback ``APIXO_BASE_URL``; the client then has
    ``allow_http_callbacks``), plain ``PUBLIC_BASE_URL`` or ``http://PORTAL_ADDRESS`` works too.
    """
    public = settings.PUBLIC_BASE_URL.rstrip("/")
    if public.startswith("https://"):
        return public
    if client.allow_http_callbacks:
        return public or f"http://{settings.PORTAL_ADDRESS}"
    return ""


def callback_url(*, base_url: str, generation_id: int, token: str) -> str:
    """Return the webhook URL of one generation's submit attempt (view ``generation_webhook``)."""
    path = reverse("generation_webhook", kwargs={"generation_id": generation_id, "token": token})
    return base_url + path
