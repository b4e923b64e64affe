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
    refuses CONCURRENTLY inside a transaction) and hold nothing else that needs one.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"Create index {self.index.name} on {self.model_name} (concurrently on PostgreSQL)"
