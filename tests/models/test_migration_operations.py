"""``AddIndexConcurrentlyWhereSupported``: CREATE INDEX CONCURRENTLY on PostgreSQL, a plain
CREATE INDEX on SQLite (docs/deploy.md "Upgrades")."""

import pytest
from django.db import connection, models
from django.db.migrations.loader import MigrationLoader

from generations.migration_operations import AddIndexConcurrentlyWhereSupported


@pytest.mark.django_db(transaction=True)  # CONCURRENTLY refuses to run inside a transaction
def test_the_index_is_built_concurrently_only_where_the_database_can():
    state = MigrationLoader(connection).project_state()
    operation = AddIndexConcurrentlyWhereSupported(
        "generation", models.Index(fields=["prompt"], name="test_concurrent_idx")
    )
    new_state = state.clone()
    operation.state_forwards("generations", new_state)
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        operation.database_forwards("generations", editor, state, new_state)
    sql = " ".join(editor.collected_sql)
    assert "CREATE INDEX" in sql and "test_concurrent_idx" in sql
    assert ("CONCURRENTLY" in sql) == (connection.vendor == "postgresql")
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        operation.database_backwards("generations", editor, new_state, state)
    assert "DROP INDEX" in " ".join(editor.collected_sql)
