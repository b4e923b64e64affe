"""What a member may still spend: the available balance and what the monthly cap leaves.

Read-only and no network: the new-generation page and its live price (``QuoteView``) show
these figures before submit. The rules are the ledger's (``services.ledger``: a hold needs
the available balance, and captured-this-month plus reserved may not pass the cap;
docs/architecture.md "Money", docs/prices.md "Credits"); this module only reads them, and the
ledger still refuses on submit.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from ..models import CreditAccount, User
from ..services.ledger import month_used
from .users import manager_emails


@dataclass(frozen=True)
class SpendingLimits:
    """A member's limits now, in credits.

    Attributes:
        available: the available balance (not counting reserved credits).
        cap: the monthly cap, or None when the member has none.
        cap_left: what the cap leaves this month (>= 0), or None when there is no cap.
    """

    available: int
    cap: int | None
    cap_left: int | None

    def refusal(self, credits: int, count: int = 1) -> str:
        """Return why ``count`` jobs of ``credits`` each would be refused, in the portal's
        words, or "".

        The total (``count * credits``) must fit both the balance and what the cap leaves:
        variations are all or nothing (docs/prices.md "Variations"). The balance is checked
        first, as the ledger's hold does.
        """
        total = credits * count
        cost = (
            f"This costs {total:,} credits"
            if count == 1
            else f"{count} variations cost {total:,} credits ({credits:,} each)"
        )
        if total > self.available:
            return f"{cost}; you have {self.available:,} available."
        if self.cap_left is not None and total > self.cap_left:
            return f"{cost}; your monthly cap leaves {self.cap_left:,} this month."
        return ""


def spending_limits(*, user: User) -> SpendingLimits:
    """Return ``user``'s available balance and what their monthly cap leaves this month.

    Uses ``services.ledger.month_used`` (captured since ``month_start`` plus held), the same
    figure the hold's cap check uses. Two or three queries; no lock.
    """
    account, _ = CreditAccount.objects.get_or_create(user=user)
    cap = User.objects.values_list("monthly_cap_credits", flat=True).get(pk=user.pk)
    cap_left = None if cap is None else max(cap - month_used(account=account), 0)
    return SpendingLimits(available=account.balance, cap=cap, cap_left=cap_left)


def ask_manager_link(*, user: User) -> str:
    """Return a ``mailto:`` address to the active managers asking for credits or a higher cap.

    Managers are the only ones who grant credits and set caps (docs/architecture.md "Users
    and their jobs"), and the team page is theirs only, so the member is sent to write to
    them. "" when no manager has an e-mail address.
    """
    emails = manager_emails()
    if not emails:
        return ""
    subject = quote(f"Credits for {user.username} on Seedance Studio")
    body = quote(
        "Hello,\n\nI need more credits (or a higher monthly cap) to create a video.\n\n"
        f"{user.username}"
    )
    return f"mailto:{','.join(quote(e, safe='@') for e in emails)}?subject={subject}&body={body}"
