"""``manage.py ledger_check``: recompute every account from the ledger; exit 1 on a mismatch."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from generations.metrics import LEDGER_CHECK_MISMATCHES, metric_set
from generations.selectors.ledger import ledger_mismatches


class Command(BaseCommand):
    help = "Recompute every credit account from its ledger entries. Exits 1 on any mismatch."

    def handle(self, *args, **options) -> None:
        problems = ledger_mismatches()
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
