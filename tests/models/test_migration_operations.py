"""``AddIndexConcurrentlyWhereSupported``: CREATE INDEX CONCURRENTLY on PostgreSQL, a plain
CREATE INDEX on SQLite (docs/deploy.md "Upgrades")."""

import pytest
from django.db import connection, models
from django.db.migrations.loader import MigrationLoader

from generations.migration_operations import AddIndexConcurrentlyWhereSupported
from tests.conftest import requires_postgres


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


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_run_that_stopped_half_way_can_be_run_again():
    """An index an earlier run built is skipped; one it left INVALID is dropped and built
    again (review: 0031 raised 'relation already exists' after a partial failure)."""
    state = MigrationLoader(connection).project_state()
    built = AddIndexConcurrentlyWhereSupported(
        "generation", models.Index(fields=["prompt"], name="test_rerun_built")
    )
    broken = AddIndexConcurrentlyWhereSupported(
        "generation", models.Index(fields=["seed"], name="test_rerun_invalid")
    )
    new_state = state.clone()
    for operation in (built, broken):
        operation.state_forwards("generations", new_state)
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX test_rerun_built ON generations_generation (prompt)")
        cursor.execute("CREATE INDEX test_rerun_invalid ON generations_generation (seed)")
        cursor.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = "
            "'test_rerun_invalid'::regclass"
        )
    try:
        with connection.schema_editor(atomic=False) as editor:
            for operation in (built, broken):
                operation.database_forwards("generations", editor, state, new_state)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname, i.indisvalid FROM pg_class c JOIN pg_index i "
                "ON i.indexrelid = c.oid WHERE c.relname LIKE 'test_rerun_%%' ORDER BY 1"
            )
            assert cursor.fetchall() == [("test_rerun_built", True), ("test_rerun_invalid", True)]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS test_rerun_built, test_rerun_invalid")
