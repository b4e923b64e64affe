"""Template context shared by every page."""

from django.http import HttpRequest

from .models import CreditAccount, ProviderAlert


def credits(request: HttpRequest) -> dict:
    """Expose the signed-in user's credit account as ``credit_account`` (or None)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"credit_account": None}
    account = CreditAccount.objects.filter(user=user).first()
    return {"credit_account": account}


def provider_alerts(request: HttpRequest) -> dict:
    """Expose unresolved provider alerts to managers as ``provider_alerts`` (lazily).

    Members get an empty tuple. The value is a callable that templates call only where they
    use it (the banner in ``base.html``), so fragments pay no query.
    """
    user = getattr(request, "user", None)

    def alerts() -> list[ProviderAlert]:
        if user is None or not user.is_authenticated or not user.is_manager:
            return []
        return list(ProviderAlert.objects.unresolved()[:10])

    return {"provider_alerts": alerts}
