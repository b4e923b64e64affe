"""DEBUG=false works behind gunicorn (issue #13 items 1, 2 and 9).

collectstatic into a temporary STATIC_ROOT, migrate a scratch database (SQLite, or a scratch
PostgreSQL database when DATABASE_URL points there), create the demo member and manager, start
``gunicorn seedance_site.wsgi`` from the repository root (so ``gunicorn.conf.py`` applies) with
production settings, log in through the login form and walk every page: all 200. A hashed
static file is served by whitenoise with far-future caching, and every log line gunicorn and
the portal write is one JSON object, the access lines carrying the request id.
"""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from django.urls import reverse

from ..net import free_port, wait_for_port
from ..url_walk import named_patterns
from .conftest import ROOT, clean_env, manage

pytestmark = pytest.mark.slow

DEMO_PASSWORD = "seedance-demo"  # seed_demo's default
IMMUTABLE = "max-age=315360000, public, immutable"
MAX_PAGES = 150  # per user; the crawl is bounded


class _Links(HTMLParser):
    """Collect href/src attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def _links(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.links


@pytest.fixture(scope="module")
def scratch_database(tmp_path_factory):
    """Yield a DATABASE_URL of an empty database of the kind the suite runs on."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.sqlite3'}"
        return
    import psycopg

    parts = urlsplit(url)
    name = f"seedance_gunicorn_{os.getpid()}_{secrets.token_hex(3)}"
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield parts._replace(path=f"/{name}").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def production_portal(tmp_path_factory, scratch_database):
    """Start gunicorn with DEBUG=false; yield (base URL, path of its log file)."""
    tmp_path = tmp_path_factory.mktemp("portal")
    (tmp_path / "empty.env").write_text("")
    port = free_port()
    env = clean_env(
        ENV_FILE=str(tmp_path / "empty.env"),
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        ALLOW_PLAIN_HTTP="true",
        EMAIL_URL="consolemail://",  # required with DEBUG off; no mail leaves the test
        DATABASE_URL=scratch_database,
        STATIC_ROOT=str(tmp_path / "static"),
        MEDIA_ROOT=str(tmp_path / "media"),
        Q_BROKER="orm",
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        WEB_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        WEB_THREADS="2",
    )
    for args in (
        ("collectstatic", "--no-input"),
        ("migrate", "--no-input"),
        ("seed_demo", "--allow-production"),
    ):
        result = manage(*args, env=env, timeout=300)
        assert result.returncode == 0, f"{args}: {result.stderr[-2000:]}"
    # A job of the member's, so the pages about one generation are walked too (no worker
    # runs: it stays queued).
    result = manage(
        "generate", "--user", "member", "--prompt", "A paper boat on a rainy street", env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "seedance_site.wsgi"],
            cwd=ROOT,  # gunicorn.conf.py is read from here
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _log_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    login = base + reverse("login")
    page = session.get(login, timeout=10)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        login,
        data={"username": username, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 302, f"{username} could not log in: {response.status_code}"
    return session


# Named URLs that are not pages: fragments the form fetches with its fields.
# /readyz answers 503 here on purpose (no worker runs) and /metrics 404 without its token:
# both are operations endpoints, tested in tests/ops. /healthz is walked like a page. /favicon.ico
# redirects to a static file (test_the_favicon_redirects_to_its_hashed_static_file).
# set_language takes a POST (a GET redirects back, as Django's view does; tests/i18n).
NOT_PAGES = {"generations:quote", "readyz", "metrics", "favicon", "set_language"}
MANAGER_ONLY = ("team:", "generations:team_spend")
API = "api-v1:"  # bearer tokens, not pages (tests/api/)


def _get_pages(*, manager: bool) -> list[str]:
    """Paths of every named page without URL arguments that answers GET."""
    paths = []
    for name, pattern in named_patterns():
        view_class = getattr(pattern.callback, "view_class", None)
        if getattr(pattern.pattern, "converters", {}) or name in NOT_PAGES or name.startswith(API):
            continue  # pages about one object are reached by following links
        if view_class is not None and not (
            hasattr(view_class, "get") and "get" in view_class.http_method_names
        ):
            continue  # POST-only (logout, webhooks, ...)
        if not manager and name.startswith(MANAGER_ONLY):
            continue
        paths.append(reverse(name))
    return paths


def _walk(base: str, session: requests.Session, start: list[str]) -> dict[str, int]:
    """GET ``start`` and every same-site page linked from them; return {path: status}."""
    statuses: dict[str, int] = {}
    queue = list(dict.fromkeys(start))
    while queue and len(statuses) < MAX_PAGES:
        path = queue.pop(0)
        if path in statuses:
            continue
        response = session.get(base + path, timeout=15, allow_redirects=False)
        statuses[path] = response.status_code
        if "text/html" not in response.headers.get("Content-Type", ""):
            continue
        for link in _links(response.text):
            target = urlsplit(urljoin(base + path, link))
            if target.netloc != urlsplit(base).netloc or target.query:
                continue
            # /admin/r/: the admin's "view on site" redirect to a page walked anyway.
            if target.path.startswith(("/static/", "/inputs/", "/admin/r/")):
                continue
            if target.path not in statuses:
                queue.append(target.path)
    return statuses


@pytest.mark.parametrize("username", ["member", "manager"])
def test_every_page_answers_200_with_debug_off(production_portal, username):
    base, _ = production_portal
    session = _log_in(base, username)

    statuses = _walk(base, session, ["/", *_get_pages(manager=username == "manager")])
    jobs = [path for path in statuses if re.fullmatch(r"/g/\d+/", path)]
    for job in jobs:  # the live fragments of a job's page
        for fragment in ("card/", "status/"):
            statuses[job + fragment] = session.get(base + job + fragment, timeout=10).status_code

    failures = {path: status for path, status in statuses.items() if status != 200}
    assert not failures, f"pages not 200 for {username}: {failures}"
    assert len(statuses) >= 12
    if username == "member":
        assert jobs, "the member's generation page was not reached"
    if username == "manager":
        assert "/team/spend/" in statuses
        assert "/admin/" in statuses


def test_hashed_static_files_are_cached_far_ahead(production_portal):
    base, _ = production_portal
    session = _log_in(base, "member")
    page = session.get(base + "/usage/", timeout=10)  # loads the vendored Chart.js too
    static = [link for link in _links(page.text) if link.startswith("/static/")]
    chart = [link for link in static if "chart.umd.min." in link]
    assert chart and re.search(r"\.[0-9a-f]{12}\.js$", chart[0]), static

    for link in static:
        response = requests.get(base + link, timeout=10)
        assert response.status_code == 200, link
        assert response.headers["Cache-Control"] == IMMUTABLE, link


def test_the_favicon_redirects_to_its_hashed_static_file(production_portal):
    """docs/formats.md "Favicon": pages link the hashed SVG; /favicon.ico, asked without a
    login, redirects there for a day; whitenoise serves the SVG with DEBUG off."""
    base, _ = production_portal
    login_page = requests.get(base + reverse("login"), timeout=10).text
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', login_page)
    assert icon and re.fullmatch(r"/static/favicon\.[0-9a-f]{12}\.svg", icon.group(1)), icon

    redirect = requests.get(base + "/favicon.ico", timeout=10, allow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["Location"] == icon.group(1)
    assert "max-age=86400" in redirect.headers["Cache-Control"]

    svg = requests.get(base + "/favicon.ico", timeout=10)  # following the redirect
    assert svg.status_code == 200
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    assert svg.headers["Cache-Control"] == IMMUTABLE
    assert svg.text.lstrip().startswith("<svg")


def test_logs_are_json_lines_with_the_request_id(production_portal):
    base, log_path = production_portal
    session = _log_in(base, "member")
    mine = session.get(base + "/", headers={"X-Request-ID": "walk-test-0001"}, timeout=10)
    forged = session.get(base + "/", headers={"X-Request-ID": "bad id <script>"}, timeout=10)
    missing = session.get(base + "/no-such-page/", timeout=10)

    assert mine.headers["X-Request-ID"] == "walk-test-0001"
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])
    assert missing.status_code == 404
    deadline = time.monotonic() + 5
    while True:
        lines = [line for line in log_path.read_text().splitlines() if line.strip()]
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        ids = {record.get("request_id") for record in records}
        wanted = {"walk-test-0001", forged.headers["X-Request-ID"]}
        wanted.add(missing.headers["X-Request-ID"])
        if wanted <= ids or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert wanted <= ids
    access = [r for r in records if r.get("request_id") == "walk-test-0001"]
    assert access[0]["path"] == "/" and access[0]["status"] == 200
    # The portal's own line about the 404 (django.request, logged after the middleware has
    # returned) carries the same request id as the response and its access line.
    not_found = [r for r in records if r.get("logger") == "django.request"]
    assert not_found[-1]["request_id"] == missing.headers["X-Request-ID"]
    assert not_found[-1]["message"] == "Not Found: /no-such-page/"


def test_secrets_in_paths_never_reach_the_logs(production_portal):
    """Callback, input and invitation tokens are redacted in gunicorn's and Django's lines."""
    base, log_path = production_portal
    secrets_sent = {
        "/webhooks/generations/987/cb-secret-1111/": "cb-secret-1111",
        "/inputs/input-secret-2222/": "input-secret-2222",
        "/accounts/invite/invite-secret-3333/": "invite-secret-3333",
    }
    ids = []
    for path in secrets_sent:
        response = requests.get(
            base + path, headers={"Referer": base + "/inputs/referer-secret-4444/"}, timeout=10
        )
        assert response.status_code in (200, 302, 404, 405), (path, response.status_code)
        ids.append(response.headers["X-Request-ID"])
    deadline = time.monotonic() + 5
    while True:
        text = log_path.read_text()
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        if {r.get("request_id") for r in records} >= set(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    lines = [r for r in records if r.get("request_id") in ids]
    paths = {r["path"] for r in lines if "path" in r}
    assert "/webhooks/generations/987/[redacted]/" in paths
    assert "/inputs/[redacted]/" in paths and "/accounts/invite/[redacted]/" in paths
    for secret in [*secrets_sent.values(), "referer-secret-4444"]:
        assert secret not in text, [ln for ln in text.splitlines() if secret in ln]
