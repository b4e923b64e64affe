"""A trigram index on the upper-cased prompt, PostgreSQL only (docs/architecture.md "Admin lists
at scale").

The admin's search matches ``prompt__icontains``, which PostgreSQL writes as
``UPPER(prompt::text) LIKE UPPER('%term%')``; a GIN index with ``gin_trgm_ops`` on
``UPPER(prompt)`` answers it without reading every generation. The ``pg_trgm`` extension is
created first (``TrigramExtension``; it needs a role allowed to create extensions, as the
deployment guide's migrate step has). On SQLite both operations do nothing: the index is not
part of the model state, so ``makemigrations`` never sees it.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX = "generation_prompt_upper_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON generations_generation "
        "USING gin ((UPPER(prompt)) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("generations", "0020_ledger_figures")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index, elidable=False),
    ]
