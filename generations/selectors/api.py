"""Reads for the profile's API section and the managers' token list."""

from django.db.models import QuerySet

from ..models import ApiToken, User, WebhookDelivery, WebhookEndpoint

DELIVERY_LOG_ROWS = 25


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    """Return ``user``'s tokens, newest first, revoked ones included (the history)."""
    return ApiToken.objects.filter(user=user)


def api_tokens_of_team() -> QuerySet[ApiToken]:
    """Return every member's tokens, newest first, with their owner (the managers' list)."""
    return ApiToken.objects.select_related("user", "revoked_by")


def webhook_endpoints_of(user: User) -> QuerySet[WebhookEndpoint]:
    """Return ``user``'s webhook endpoints, oldest first."""
    return WebhookEndpoint.objects.filter(user=user)


def webhook_deliveries_of(user: User, *, limit: int = DELIVERY_LOG_ROWS) -> list[WebhookDelivery]:
    """Return the newest ``limit`` deliveries to ``user``'s endpoints (the delivery log)."""
    return list(
        WebhookDelivery.objects.filter(endpoint__user=user)
        .select_related("endpoint")
        .order_by("-created_at", "-id")[:limit]
    )
