"""Template context shared by every page."""

from django.http import HttpRequest

from .models import CreditAccount


def credits(request: HttpRequest) -> dict:
    """Expose the signed-in user's credit account as ``credit_account`` (or None)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"credit_account": None}
    account = CreditAccount.objects.filter(user=user).first()
    return {"credit_account": account}
