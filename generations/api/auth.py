"""Bearer-token authentication and the per-token rate limit of the REST API.

docs/api.md "Tokens" and "Rate limits": ``Authorization: Bearer <token>`` with a personal
access token (``services.api_tokens``); each token may make ``API_RATE_LIMIT_PER_MINUTE``
requests per calendar minute, counted in Django's cache (Redis when ``REDIS_URL`` is set, so
every web node shares the count). The count is a fixed window: ``cache.add`` then
``cache.incr``, atomic on Redis, with no read-modify-write.
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle

from ..models import ApiToken
from ..services.api_tokens import TokenRefused, api_token_authenticate
from .problems import unauthorized

WINDOW_SECONDS = 60


class TokenAuth(HttpBearer):
    """Authenticate ``Authorization: Bearer <personal access token>``.

    On success ``request.auth`` is the ``ApiToken`` and ``request.user`` its owner.

    Raises:
        ApiProblem: 401 for an unknown, revoked or expired token or a deactivated owner. A
            request without the header gets the API's 401 as well (ninja's
            ``AuthenticationError``).
    """

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        try:
            found = api_token_authenticate(secret=token.strip())
        except TokenRefused as error:
            raise unauthorized(str(error)) from error
        request.user = found.user
        return found


class TokenRateThrottle(BaseThrottle):
    """Allow ``API_RATE_LIMIT_PER_MINUTE`` requests per token per calendar minute."""

    def allow_request(self, request: HttpRequest) -> bool:
        token = getattr(request, "auth", None)
        if not isinstance(token, ApiToken):
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"api-rate:{token.pk}:{window}"
        cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr: count this request as the first
            cache.set(key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1
        return count <= settings.API_RATE_LIMIT_PER_MINUTE

    def wait(self) -> float:
        """Return the seconds until the current window ends (the ``Retry-After``)."""
        return float(max(1, math.ceil(WINDOW_SECONDS - time.time() % WINDOW_SECONDS)))
