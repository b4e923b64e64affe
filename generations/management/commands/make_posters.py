"""``manage.py make_posters``: give every stored result video without a poster its poster.

docs/storage.md "Posters". Safe to run again: only results without a poster are read, in
batches of ``--batch`` rows by ascending id, so a long backfill holds no transaction and
memory stays flat. A video whose poster cannot be made is counted, logged and skipped.
"""

from django.core.management.base import BaseCommand

from generations.models import Generation
from generations.services.posters import generation_poster_make


class Command(BaseCommand):
    help = "Make poster frames for stored result videos that have none (docs/storage.md)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--batch", type=int, default=100, help="Rows read per query (default 100)."
        )

    def handle(self, *args, batch: int, **options) -> None:
        batch = max(1, batch)
        made = failed = 0
        last_pk = 0
        while True:
            ids = list(
                Generation.objects.filter(
                    pk__gt=last_pk,
                    state=Generation.State.SUCCEEDED,
                    result_state=Generation.ResultState.STORED,
                    poster="",
                )
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                break
            for pk in ids:
                if generation_poster_make(generation_id=pk):
                    made += 1
                else:
                    failed += 1
                    self.stderr.write(f"No poster for generation #{pk} (see the log).")
            last_pk = ids[-1]
        self.stdout.write(f"Posters made: {made}; could not be made: {failed}.")
