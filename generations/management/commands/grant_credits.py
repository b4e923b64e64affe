"""``manage.py grant_credits USERNAME AMOUNT [--memo TEXT] [--by MANAGER]``: add credits.

Goes through ``services.team.team_credits_grant``, so the grant is audited like one made on
the team page. ``--by`` names the person on whose word the operator acts: they are recorded
as the actor on the ledger entry and the audit row, and the team's hierarchy rule applies
(a manager who is not a superuser cannot grant to themselves or to another manager).
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from generations.models import User
from generations.models.ledger import credits_to_usd
from generations.services.team import TeamPermissionDenied, team_credits_grant


class Command(BaseCommand):
    help = "Grant credits (1 credit = US$0.001) to a user through the ledger."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("amount", type=int, help="Whole credits, > 0.")
        parser.add_argument("--memo", default="Granted from the command line")
        parser.add_argument(
            "--by",
            metavar="MANAGER",
            help="User name of the manager on whose word this is granted (recorded as actor).",
        )

    def handle(self, *args, username: str, amount: int, memo: str, by: str | None, **options):
        if amount <= 0:
            raise CommandError(_("AMOUNT must be a positive whole number of credits."))
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(gettext("No user named %(name)r.") % {"name": username})
        actor = None
        if by is not None:
            actor = User.objects.filter(username=by).first()
            if actor is None:
                raise CommandError(gettext("No user named %(name)r (--by).") % {"name": by})
        try:
            team_credits_grant(users=[user], amount=amount, actor=actor, memo=memo)
        except TeamPermissionDenied as error:
            raise CommandError(str(error)) from error
        user.credit_account.refresh_from_db()
        balance = user.credit_account.balance
        self.stdout.write(
            f"Granted {amount:,} credits to {username}; available now {balance:,} "
            f"(US${credits_to_usd(balance)})."
        )
