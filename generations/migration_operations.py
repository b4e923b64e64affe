"""Migration operations of our own: an index built without blocking writes where the
database can (docs/deploy.md "Upgrades": indexes on big tables)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db.migrations.operations import AddIndex


class AddIndexConcurrentlyWhereSupported(AddIndexConcurrently):
    """``AddIndex`` built with ``CREATE INDEX CONCURRENTLY`` on PostgreSQL, plainly elsewhere.

    PostgreSQL then builds the index while the table keeps taking writes (a plain
    ``CREATE INDEX`` blocks every INSERT and UPDATE of the table until it is built: minutes on
    millions of rows). SQLite has no such form; its single-writer database gets a plain
    ``CREATE INDEX``. The migration that uses it must set ``atomic = False`` (PostgreSQL
    refuses CONCURRENTLY inside a transaction) and hold nothing else that needs one. On
    PostgreSQL an index a failed run left behind is skipped when valid and rebuilt when
    INVALID, so the migration can be run again (docs/deploy.md "Upgrades").
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            if self._valid_on_postgresql(schema_editor):
                return None  # built by an earlier run that failed on a later index
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def _valid_on_postgresql(self, schema_editor) -> bool:
        """Tell whether the index exists and is valid; drop it first when a failed build
        left it INVALID. So a migration of several such indexes that stopped half-way
        (a lock timeout, a cancel) can simply be run again."""
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
                "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
                [self.index.name],
            )
            row = cursor.fetchone()
        if row is None:
            return False
        if row[0]:
            return True
        schema_editor.execute(
            f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(self.index.name)}"
        )
        return False

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"Create index {self.index.name} on {self.model_name} (concurrently on PostgreSQL)"
