"""Shared fixtures: factories, users with credits, and the SQLite ledger-guard flush hook."""

import importlib

import pytest
import responses
from django.apps import apps
from django.db import connection

from generations.db import ledger_guard_disabled

from .factories import GenerationFactory, ManagerFactory, UserFactory

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (row locks and real concurrency); set DATABASE_URL=postgres://...",
)


@pytest.fixture(scope="session", autouse=True)
def _sqlite_flush_passes_ledger_guard():
    """Let the test database's flush empty the append-only ledger table on SQLite.

    Transactional tests end with a flush, which on SQLite is a DELETE the ledger trigger would
    refuse (see ``generations.db``). Only this flush is let through; application writes are not.
    """
    if connection.vendor != "sqlite":
        yield
        return
    operations = type(connection.ops)
    original = operations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with ledger_guard_disabled():
            return original(self, sql_list)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(operations, "execute_sql_flush", execute_sql_flush)
        yield


@pytest.fixture(autouse=True)
def _migration_data(request):
    """Restore the data migrations' rows (price table, Managers group) for database tests.

    Transactional tests end with a flush that empties every table, data migrations' rows
    included; the tests after them still expect the defaults a migrated database has.
    """
    if request.node.get_closest_marker("django_db") is None and not any(
        name in request.fixturenames for name in ("db", "transactional_db")
    ):
        return
    request.getfixturevalue("db")
    migration = importlib.import_module("generations.migrations.0003_default_prices_and_managers")
    migration.load(apps, None)
    # The Managers group's admin permissions (issue #12 item 7).
    importlib.import_module("generations.migrations.0009_admin_permissions").grant(apps, None)


@pytest.fixture
def member(db):
    return UserFactory()


@pytest.fixture
def manager(db):
    return ManagerFactory()


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def api(settings):
    """Point the portal at a faked APIXO (``tests/fake_apixo.py``); yield the ``responses`` mock."""
    from .fake_apixo import BASE

    settings.APIXO_BASE_URL = BASE
    settings.APIXO_API_KEY = "test-key"
    settings.PUBLIC_BASE_URL = ""
    settings.CALLBACK_ALLOW_HTTP = False
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def payer(db):
    """A member with 1,000 credits."""
    return UserFactory(credits=1000)


@pytest.fixture
def make_job(payer):
    """Create a 40-credit job of ``payer`` with its hold, in any state (fields as kwargs).

    The factory writes the hold (and settles it for a final state), see ``GenerationFactory``.
    """

    def make(**fields):
        return GenerationFactory(user=payer, **fields)

    return make


@pytest.fixture(autouse=True)
def _empty_cache():
    """Start every test with an empty cache (the provider balance is cached for 60 s)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# --- The ledger is consistent after every database test (issue #12 "Done when") ------------


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "broken_ledger(reason): the test leaves an inconsistent ledger on purpose, so the "
        "after-test ledger_check is skipped",
    )


@pytest.fixture(autouse=True)
def _ledger_consistent_after_each_test(request):
    """Fail a database test that leaves ``ledger_mismatches()`` non-empty.

    The test database is emptied between tests, so a check at the end of the session would
    see nothing: each test is checked before its data goes (four aggregate queries, about
    1 ms on the small test database). ``@pytest.mark.broken_ledger`` opts a test out.
    """
    uses_db = request.node.get_closest_marker("django_db") is not None or any(
        name in request.fixturenames for name in ("db", "transactional_db")
    )
    if not uses_db or request.node.get_closest_marker("broken_ledger"):
        yield
        return
    request.getfixturevalue("db")
    # Set up before the test can use it, so the check runs under the test's own settings
    # (its TIME_ZONE decides the local days of SpendDay) before they are restored.
    request.getfixturevalue("settings")
    yield
    from generations.selectors.ledger import ledger_mismatches

    problems = ledger_mismatches()
    if problems:
        pytest.fail("ledger_check fails after this test:\n" + "\n".join(map(str, problems)))
