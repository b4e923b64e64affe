"""``manage.py ledger_check``: recompute every account from the ledger; exit 1 on a mismatch."""

from django.core.management.base import BaseCommand, CommandError

from generations.selectors.ledger import ledger_mismatches


class Command(BaseCommand):
    help = "Recompute every credit account from its ledger entries. Exits 1 on any mismatch."

    def handle(self, *args, **options) -> None:
        problems = ledger_mismatches()
        for problem in problems:
            self.stderr.write(f"MISMATCH {problem}")
        if problems:
            raise CommandError(f"{len(problems)} ledger mismatch(es).", returncode=1)
        self.stdout.write(self.style.SUCCESS("Ledger OK: every account matches its entries."))
