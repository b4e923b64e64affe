"""``Idempotency-Key`` for ``POST /api/v1/generations`` (docs/api.md "Idempotency").

The same key with the same body gives the same job; with another body it is refused. Two
unique constraints decide, never a prior read (docs/architecture.md "Two-phase charging"):

1. ``api_idempotency_key_unique`` binds a key to the first body's fingerprint: of two parallel
   requests with one key and different bodies, one inserts the row and the other reads it
   back and is refused.
2. ``generation_unique_client_token``: the job is created through ``generation_create`` with
   a client token derived from the key, so parallel requests with one key and the same body
   make one job and one hold (the loser's INSERT fails and it returns the winner's job).
"""

import hashlib

from django.db import IntegrityError, transaction

from ..models import ApiIdempotencyKey, Generation, User

KEY_MAX_CHARS = 255


class IdempotencyKeyReused(Exception):
    """The key was first used with another request body; nothing was written."""

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used with a different request body; use a new "
            "key for a new request."
        )


def client_token_for_key(key: str) -> str:
    """Return the ``Generation.client_token`` (64 characters) a key's job is created with."""
    return "api:" + hashlib.sha256(key.encode()).hexdigest()[:60]


def idempotency_key_find(*, user: User, key: str, fingerprint: str) -> Generation | None:
    """Return the job already made for ``key`` with this body, or None if there is none yet.

    Raises:
        IdempotencyKeyReused: the key is bound to another body.
    """
    row = ApiIdempotencyKey.objects.filter(user=user, key=key).select_related("generation").first()
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise IdempotencyKeyReused
    return row.generation


def idempotency_key_claim(*, user: User, key: str, fingerprint: str) -> ApiIdempotencyKey:
    """Bind ``key`` to ``fingerprint`` for ``user`` (or find it bound to the same body).

    Args:
        user: the member; keys are per member.
        key: 1-255 printable ASCII characters, as sent.
        fingerprint: SHA-256 hex of the canonical request body.

    Raises:
        IdempotencyKeyReused: the key is bound to another body; nothing was written.
    """
    try:
        with transaction.atomic():
            return ApiIdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint)
    except IntegrityError:
        row = ApiIdempotencyKey.objects.get(user=user, key=key)
        if row.fingerprint != fingerprint:
            raise IdempotencyKeyReused from None
        return row


def idempotency_key_bind(*, row: ApiIdempotencyKey, generation: Generation) -> bool:
    """Record ``generation`` as the key's job; return True if this call recorded it first
    (the request that made the job), False for a replay. A conditional UPDATE decides."""
    return bool(
        ApiIdempotencyKey.objects.filter(pk=row.pk, generation__isnull=True).update(
            generation=generation
        )
    )
