"""``manage.py grant_credits USERNAME AMOUNT [--memo TEXT]``: add credits to a member."""

from django.core.management.base import BaseCommand, CommandError

from generations.models import User
from generations.models.ledger import credits_to_usd
from generations.services.ledger import credits_grant


class Command(BaseCommand):
    help = "Grant credits (1 credit = US$0.001) to a user through the ledger."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("amount", type=int, help="Whole credits, > 0.")
        parser.add_argument("--memo", default="Granted from the command line")

    def handle(self, *args, username: str, amount: int, memo: str, **options) -> None:
        if amount <= 0:
            raise CommandError("AMOUNT must be a positive whole number of credits.")
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        credits_grant(user=user, amount=amount, actor=None, memo=memo)
        user.credit_account.refresh_from_db()
        balance = user.credit_account.balance
        self.stdout.write(
            f"Granted {amount:,} credits to {username}; available now {balance:,} "
            f"(US${credits_to_usd(balance)})."
        )
