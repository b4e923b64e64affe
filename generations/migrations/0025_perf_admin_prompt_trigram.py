"""A trigram index on the upper-cased prompt, PostgreSQL only (docs/architecture.md "Admin lists
at scale").

The admin's search matches ``prompt__icontains``, which PostgreSQL writes as
``UPPER(prompt::text) LIKE UPPER('%term%')``; a GIN index with ``gin_trgm_ops`` on
``UPPER(prompt)`` answers it without reading every generation. The ``pg_trgm`` extension is
created first (``TrigramExtension``; it needs a role allowed to create extensions, as the
deployment guide's migrate step has). On SQLite both operations do nothing: the index is not
part of the model state, so ``makemigrations`` never sees it.

The index is built with ``CREATE INDEX CONCURRENTLY`` (outside a transaction: this migration
is not atomic), so the generations table keeps taking writes while it builds (docs/deploy.md
"Upgrades").
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX = "generation_prompt_upper_trgm"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON generations_generation "
        "USING gin ((UPPER(prompt)) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY refuses to run inside a transaction
    dependencies = [("generations", "0024_gallery_bulk_hidden_deleted")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_index, drop_index, elidable=False, atomic=False),
    ]
