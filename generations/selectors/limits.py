"""What a member may still spend: the available balance and what the monthly cap leaves.

Read-only and no network: the new-generation page and its live price (``QuoteView``) show
these figures before submit. The rules are the ledger's (``services.ledger``: a hold needs
the available balance, and captured-this-month plus reserved may not pass the cap;
docs/architecture.md "Money", docs/prices.md "Credits"); this module only reads them, and the
ledger still refuses on submit.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext

from ..i18n import credits_text
from ..models import CreditAccount, User
from ..services.ledger import month_used
from .users import managers


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
        if count == 1:
            cost = gettext("This costs %(credits)s") % {"credits": credits_text(total)}
        else:
            cost = ngettext(
                "%(count)s variation costs %(total)s (%(each)s each)",
                "%(count)s variations cost %(total)s (%(each)s each)",
                count,
            ) % {
                "count": count,
                "total": credits_text(total),
                "each": number_format(credits, force_grouping=True),
            }
        if total > self.available:
            return gettext("%(cost)s; you have %(available)s available.") % {
                "cost": cost,
                "available": number_format(self.available, force_grouping=True),
            }
        if self.cap_left is not None and total > self.cap_left:
            return gettext("%(cost)s; your monthly cap leaves %(left)s this month.") % {
                "cost": cost,
                "left": number_format(self.cap_left, force_grouping=True),
            }
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


def can_ask_managers(*, user: User) -> bool:
    """Return True when some active manager other than ``user`` has an e-mail address, so
    "Ask a manager" can reach someone (docs/architecture.md "Asking a manager for credits").

    The addresses themselves never leave the server. One query.
    """
    return managers().exclude(email="").exclude(pk=user.pk).exists()
