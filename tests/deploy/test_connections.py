"""PostgreSQL connections stay bounded under runserver (issue #13 item 3).

runserver starts a thread per browser connection and keeps it for keep-alive. With persistent
connections (CONN_MAX_AGE > 0) every such thread kept its own PostgreSQL connection open, so a
handful of open tabs exhausted ``max_connections``. Under runserver the settings close each
connection at the end of its request; gunicorn and qcluster, with a fixed number of threads,
keep theirs (the README's sizing rule).
"""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.test import Client

from ..conftest import requires_postgres
from ..factories import UserFactory
from ..net import free_port, wait_for_port
from .conftest import ROOT, clean_env

pytestmark = [pytest.mark.slow, requires_postgres]

BROWSERS = 12  # open tabs, each on its own keep-alive connection
APP_NAME = "seedance-runserver-conn-test"


def runserver_connections() -> int:
    """Connections the server under test holds now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP_NAME]
        )
        return cursor.fetchone()[0]


def _server(command: list[str], tmp_path, port: int, **extra: str):
    """Start ``command`` on the test database; yield its URL; stop it."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    db = connection.settings_dict
    env = clean_env(
        ENV_FILE=str(empty),
        DEBUG="true",
        SECRET_KEY=settings.SECRET_KEY,  # the test client's session must decode there
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        PGAPPNAME=APP_NAME,  # libpq's application name, to count this server's connections
        **extra,
    )
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


@pytest.fixture
def runserver(transactional_db, tmp_path):
    """Run ``manage.py runserver`` as dev.py does, on the test database; yield its URL."""
    port = free_port()
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    yield from _server(command, tmp_path, port)


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """Run gunicorn (2 processes x 2 threads) on the test database; yield its URL."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "seedance_site.wsgi"]
    yield from _server(
        command,
        tmp_path,
        port,
        WEB_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        WEB_THREADS="2",
    )


def _member_cookie() -> str:
    client = Client()
    client.force_login(UserFactory())
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_open_tabs_do_not_each_hold_a_database_connection(runserver):
    cookie = _member_cookie()
    tabs = []
    for _ in range(BROWSERS):
        tab = requests.Session()
        tab.cookies.set(settings.SESSION_COOKIE_NAME, cookie)
        assert tab.get(runserver + "/", timeout=15).status_code == 200
        tabs.append(tab)  # its keep-alive connection stays open

    deadline = time.monotonic() + 3
    while (held := runserver_connections()) > 1 and time.monotonic() < deadline:
        time.sleep(0.1)

    print(f"{BROWSERS} open tabs hold {held} PostgreSQL connections")
    assert held <= 1
    for tab in tabs:
        tab.close()


def test_gunicorn_holds_at_most_one_connection_per_thread(gunicorn):
    cookie = _member_cookie()

    def browse(_):
        with requests.Session() as tab:
            tab.cookies.set(settings.SESSION_COOKIE_NAME, cookie)
            return [tab.get(gunicorn + "/", timeout=30).status_code for _ in range(5)]

    with ThreadPoolExecutor(max_workers=BROWSERS) as pool:
        statuses = [status for batch in pool.map(browse, range(BROWSERS)) for status in batch]
    held = runserver_connections()

    print(f"{BROWSERS} concurrent browsers on gunicorn 2x2 hold {held} PostgreSQL connections")
    assert statuses == [200] * BROWSERS * 5
    assert 1 <= held <= 2 * 2  # WEB_CONCURRENCY x WEB_THREADS: persistent, and bounded
