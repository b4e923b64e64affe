"""``manage.py ledger_check``: recompute every account from the ledger; exit 1 on a mismatch."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils.translation import ngettext

from generations.metrics import LEDGER_CHECK_MISMATCHES, metric_set
from generations.selectors.ledger import ledger_mismatches
from generations.services.ledger import spend_days_rebuild


def _consistent(check):
    """Run ``check`` on one snapshot of the database: on PostgreSQL in a REPEATABLE READ,
    READ ONLY transaction, so a settlement committed while it streams the ledger and then
    reads the rollups is either in both or in neither (no false mismatch on a busy portal).
    SQLite runs it as is, and so does a caller already inside a transaction (a test)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return check()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return check()


class Command(BaseCommand):
    help = "Recompute every credit account from its ledger entries. Exits 1 on any mismatch."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--rebuild-spend-days",
            action="store_true",
            help="First rewrite the team's spend per local day from the ledger (after a "
            "change of TIME_ZONE, or a spend-day mismatch), then check.",
        )

    def handle(self, *args, **options) -> None:
        if options["rebuild_spend_days"]:
            rows = spend_days_rebuild()
            self.stdout.write(f"Rewrote {rows} spend-day rows from the ledger.")
        problems = _consistent(ledger_mismatches)
        # Kept for /metrics (seedance_ledger_check_mismatches and its time).
        metric_set(LEDGER_CHECK_MISMATCHES, len(problems))
        for problem in problems:
            self.stderr.write(f"MISMATCH {problem}")
        if problems:
            raise CommandError(
                ngettext(
                    "%(count)d ledger mismatch.", "%(count)d ledger mismatches.", len(problems)
                )
                % {"count": len(problems)},
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS("Ledger OK: every account matches its entries."))
