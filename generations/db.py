"""Database-level guards of the ledger: append-only triggers for SQLite and PostgreSQL.

docs/architecture.md "Money": ledger rows are never updated or deleted. The database refuses it
with a trigger created by migration 0002, so even raw SQL cannot rewrite history.

On PostgreSQL the test database's flush uses TRUNCATE, which row triggers do not see. SQLite
has no TRUNCATE: its flush deletes rows, so its trigger consults ``ledger_guard_off()``, a
function this module registers on every connection. It returns 1 only inside
``ledger_guard_disabled()``, which the test suite wraps around the flush. A connection that
has not registered the function (the sqlite3 shell) fails the trigger too, which also refuses.
"""

import contextlib
import threading
from collections.abc import Iterator

TABLE = "generations_creditentry"
_state = threading.local()

SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER ledger_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END
    """,
    f"""
    CREATE TRIGGER ledger_no_delete BEFORE DELETE ON {TABLE}
    WHEN ledger_guard_off() = 0
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END
    """,
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS ledger_no_update",
    "DROP TRIGGER IF EXISTS ledger_no_delete",
]

POSTGRES_INSTALL = [
    """
    CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'ledger entries are append-only' USING ERRCODE = 'restrict_violation';
    END;
    $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()
    """,
]
POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS ledger_append_only ON {TABLE}",
    "DROP FUNCTION IF EXISTS ledger_refuse_change()",
]


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """Register ``ledger_guard_off()`` on each new SQLite connection."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "ledger_guard_off", 0, lambda: int(getattr(_state, "off", False)), deterministic=False
        )


@contextlib.contextmanager
def ledger_guard_disabled() -> Iterator[None]:
    """Let this thread's SQLite connection delete ledger rows (test database flush only)."""
    _state.off = True
    try:
        yield
    finally:
        _state.off = False
