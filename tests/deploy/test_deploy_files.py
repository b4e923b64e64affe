"""The files in deploy/ do what docs/deploy.md says (issue #13 item 10: "ship only what is
exercised").

- The environment files name only variables the portal reads, and with their values the
  production settings load and ``manage.py check --deploy`` is clean.
- ``systemd-analyze verify`` accepts the units (skipped where systemd-analyze is missing).
- ``nginx -t`` accepts the site, and nginx really serves the app through it: TLS, HTTP redirected
  to HTTPS, ``X-Forwarded-Proto`` honoured by Django, static files from the collectstatic
  directory, the protected media location closed to clients, uploads over the default 1 MB
  allowed (skipped where nginx is missing: CI installs Debian's ``nginx-light``).
"""

import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV_FILES = sorted((DEPLOY / "env").glob("*.env"))
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
SITE = DEPLOY / "nginx" / "seedance.conf"
VENV_BIN = Path(sys.executable).parent
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None
)
requires_nginx = pytest.mark.skipif(
    NGINX is None, reason="needs nginx (Debian: apt-get install nginx-light)"
)
# A name in quotes as the first argument of a call: env.str("NAME", ...), _choice("NAME", ...),
# os.environ.get("NAME", ...).
READ_NAME = re.compile(r"""\(\s*["']([A-Z][A-Z0-9_]+)["']""")


def parse_env_file(path: Path) -> dict[str, str]:
    """Return the ``NAME=value`` lines of a systemd EnvironmentFile (comments skipped)."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"{path.name}:{number}: {line!r}"
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]  # systemd strips one pair of quotes
        values[name] = value
    return values


def names_the_portal_reads() -> set[str]:
    """Return the environment variables read by the settings and gunicorn.conf.py."""
    sources = [ROOT / "seedance_site" / "settings.py", ROOT / "gunicorn.conf.py"]
    return {
        name for path in sources if path.exists() for name in READ_NAME.findall(path.read_text())
    }


def production_environment(*files: str) -> dict[str, str]:
    """Return this process's environment plus the values of the named deploy/env files,
    with the placeholders a real deploy replaces (key, password) replaced."""
    values = {}
    for name in files:
        values |= parse_env_file(DEPLOY / "env" / name)
    values["SECRET_KEY"] = "k" + os.urandom(40).hex()
    # The settings read a local .env too (the real environment wins); read none here.
    return {**os.environ, **values, "ENV_FILE": ""}


# --- environment files ---------------------------------------------------------------------------


def test_env_files_name_only_variables_the_portal_reads():
    read = names_the_portal_reads()
    assert {"SECRET_KEY", "DATABASE_URL", "Q_BROKER"} <= read  # the parse itself works
    assert [p.name for p in ENV_FILES] == ["seedance.env", "web.env", "worker.env"]
    for path in ENV_FILES:
        unknown = set(parse_env_file(path)) - read
        assert not unknown, f"{path.name} sets variables nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_files_load_the_same_in_a_shell_as_in_systemd(path):
    """docs/deploy.md runs manage.py after ``set -a; . /etc/seedance/seedance.env``."""
    script = f'set -a; . "{path}"; set +a; env -0'
    result = subprocess.run(
        ["bash", "-c", script], env={}, capture_output=True, text=True, check=True
    )
    shell = dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)
    for name, value in parse_env_file(path).items():
        assert shell.get(name) == value, name


def test_env_files_do_not_repeat_a_variable_across_roles():
    shared = set(parse_env_file(DEPLOY / "env" / "seedance.env"))
    for role in ("web.env", "worker.env"):
        assert not shared & set(parse_env_file(DEPLOY / "env" / role)), role


@pytest.mark.parametrize("role", ["web.env", "worker.env"])
def test_production_settings_from_the_env_files_pass_the_deploy_check(role):
    """With each role's files, the settings load and ``check --deploy`` reports nothing."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            **production_environment("seedance.env", role),
            "DJANGO_SETTINGS_MODULE": "seedance_site.settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# --- systemd units -------------------------------------------------------------------------------


def installed_unit(unit: Path, tmp_path: Path) -> Path:
    """Copy ``unit`` to ``tmp_path`` with this checkout's paths in place of /srv and /etc."""
    etc = tmp_path / "etc-seedance"
    etc.mkdir(exist_ok=True)
    for env_file in ENV_FILES:
        shutil.copy(env_file, etc / env_file.name)
    text = unit.read_text()
    for old, new in (
        ("/srv/seedance/.venv/bin/", f"{VENV_BIN}/"),
        ("/srv/seedance", str(ROOT)),
        ("/etc/seedance", str(etc)),
    ):
        assert old in text, f"{unit.name} no longer mentions {old}"
        text = text.replace(old, new)
    copy = tmp_path / unit.name
    copy.write_text(text)
    return copy


def test_units_cover_web_and_worker_roles():
    assert [u.name for u in UNITS] == ["seedance-web.service", "seedance-worker.service"]
    web, worker = (u.read_text() for u in UNITS)
    assert "gunicorn" in web and "seedance_site.wsgi:application" in web
    assert "manage.py qcluster" in worker
    assert "EnvironmentFile=/etc/seedance/web.env" in web
    assert "EnvironmentFile=/etc/seedance/worker.env" in worker


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_verify_accepts_the_unit(unit, tmp_path):
    copy = installed_unit(unit, tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Lines about the host's own units (verify loads their dependencies) are not ours.
    ours = [line for line in result.stderr.splitlines() if unit.name in line]
    assert result.returncode == 0 and not ours, result.stderr


# --- nginx ---------------------------------------------------------------------------------------


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for studio.example.com and 127.0.0.1; return paths."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "studio.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("studio.example.com"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def nginx_config(tmp_path: Path, *, http_port: int, https_port: int, web_port: int) -> Path:
    """Write a main nginx.conf that includes the site with test paths and ports; return it."""
    cert, key = self_signed_certificate(tmp_path)
    static, media = tmp_path / "staticfiles", tmp_path / "media"
    static.mkdir(exist_ok=True)
    media.mkdir(exist_ok=True)
    site = SITE.read_text()
    for old, new in (
        ("server 127.0.0.1:8000", f"server 127.0.0.1:{web_port}"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("/etc/letsencrypt/live/studio.example.com/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/studio.example.com/privkey.pem", str(key)),
        ("/srv/seedance/staticfiles/", f"{static}/"),
        ("/var/lib/seedance/media/", f"{media}/"),
        ("/var/www/letsencrypt", str(tmp_path / "acme")),
        ("/var/log/nginx/seedance.access.log", str(tmp_path / "access.log")),
    ):
        assert old in site, f"the nginx site no longer has {old!r}"
        site = site.replace(old, new)
    (tmp_path / "site.conf").write_text(site)
    mime = Path("/etc/nginx/mime.types")
    temp = tmp_path / "nginx-temp"
    temp.mkdir(exist_ok=True)
    main = textwrap.dedent(
        f"""
        {"user root;" if os.geteuid() == 0 else ""}
        daemon off;
        worker_processes 1;
        pid {tmp_path}/nginx.pid;
        error_log {tmp_path}/error.log warn;
        events {{ worker_connections 256; }}
        http {{
            {f"include {mime};" if mime.exists() else ""}
            access_log {tmp_path}/access.log;
            client_body_temp_path {temp}/body;
            proxy_temp_path {temp}/proxy;
            fastcgi_temp_path {temp}/fastcgi;
            uwsgi_temp_path {temp}/uwsgi;
            scgi_temp_path {temp}/scgi;
            include {tmp_path}/site.conf;
        }}
        """
    )
    path = tmp_path / "nginx.conf"
    path.write_text(main)
    return path


@requires_nginx
def test_nginx_accepts_the_site(tmp_path):
    config = nginx_config(tmp_path, http_port=free_port(), https_port=free_port(), web_port=8000)
    result = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def _request(url: str, *, data: bytes | None = None, headers: dict | None = None):
    """GET (or POST ``data``) without following redirects; return (status, headers, body)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(url, data=data, headers={"Host": "studio.example.com"})
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def start_nginx(prefix: Path, config: Path) -> subprocess.Popen:
    """Start Debian's nginx on ``config`` with ``prefix`` as its prefix, in its own session
    (stop it with ``os.killpg(process.pid, signal.SIGTERM)``)."""
    return subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture
def served_through_nginx(tmp_path):
    """gunicorn with production settings (DEBUG off, behind a proxy) and nginx in front.

    Yields (http base URL, https base URL, static directory). The static directory holds the
    output of collectstatic; a settings module in ``tmp_path`` points STATIC_ROOT there.
    """
    if NGINX is None:
        pytest.skip("needs nginx (Debian: apt-get install nginx-light)")
    web_port, http_port, https_port = free_port(), free_port(), free_port()
    config = nginx_config(tmp_path, http_port=http_port, https_port=https_port, web_port=web_port)
    static = tmp_path / "staticfiles"
    (tmp_path / "deploy_test_settings.py").write_text(
        f"from seedance_site.settings import *  # noqa: F403\nSTATIC_ROOT = {str(static)!r}\n"
    )
    env = {
        **production_environment("seedance.env", "web.env"),
        "DJANGO_SETTINGS_MODULE": "deploy_test_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "ALLOWED_HOSTS": "studio.example.com",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "APIXO_API_KEY": "",
        "EMAIL_URL": "consolemail://",
    }
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=300,
        )
    command = [str(VENV_BIN / "gunicorn"), "seedance_site.wsgi:application"]
    gunicorn = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{web_port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "gunicorn.log").open("wb"),
        start_new_session=True,
    )
    nginx = start_nginx(tmp_path, config)
    try:
        wait_for_port(web_port, timeout=60)
        wait_for_port(https_port)
        yield f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}", static
    finally:
        for process in (nginx, gunicorn):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


@requires_nginx
@pytest.mark.slow
def test_nginx_serves_the_app_over_tls(served_through_nginx):
    http, https, static = served_through_nginx

    # Plain HTTP is redirected to HTTPS by nginx itself.
    status, headers, _ = _request(f"{http}/accounts/login/")
    assert status == 301
    assert headers["Location"] == "https://studio.example.com/accounts/login/"

    # Over TLS the page is served: Django saw X-Forwarded-Proto: https (otherwise its
    # SECURE_SSL_REDIRECT would answer 301 to https again) and set secure cookies.
    status, headers, body = _request(f"{https}/accounts/login/")
    assert status == 200, body[:500]
    assert "Strict-Transport-Security" in headers
    assert all("Secure" in c for c in headers.get_all("Set-Cookie") or []), headers
    assert headers["Set-Cookie"]
    # nginx's $request_id reaches the portal, which answers with it (and logs it).
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"] or ""), headers

    # Static files come from the collectstatic directory, served by nginx.
    only_on_disk = static / "served-by-nginx.txt"
    only_on_disk.write_text("from the collectstatic directory\n")
    status, headers, body = _request(f"{https}/static/served-by-nginx.txt")
    assert (status, body) == (200, b"from the collectstatic directory\n")
    assert headers.get_all("Cache-Control") == ["public, max-age=2592000"]
    hashed = next(static.glob("css/*.*.css"), None) or next(static.rglob("*.*.css"))
    status, _, body = _request(f"{https}/static/{hashed.relative_to(static)}")
    assert (status, body) == (200, hashed.read_bytes())

    # The media location answers only X-Accel-Redirect from the app, never a client.
    (static.parent / "media" / "secret.mp4").write_bytes(b"not for you")
    status, _, body = _request(f"{https}/protected-media/secret.mp4")
    assert status == 404 and b"not for you" not in body

    # A 20 MB upload passes nginx (its default limit is 1 MB); Django then refuses the
    # CSRF-less POST itself, with 403, not nginx with 413.
    status, _, _ = _request(
        f"{https}/accounts/login/",
        data=b"x" * (20 * 1024 * 1024),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert status == 403


@requires_nginx
@pytest.mark.slow
def test_nginx_access_log_redacts_secrets_in_paths(served_through_nginx):
    """docs/architecture.md "Secrets in addresses": nginx logs no callback, input, invite token."""
    http, https, static = served_through_nginx
    sent = [
        f"{https}/webhooks/generations/5/cb-secret-1111/",
        f"{https}/inputs/input-secret-2222/",
        f"{https}/accounts/invite/invite-secret-3333/",
        f"{http}/inputs/plain-http-secret-4444/",
        f"{https}/accounts/reset/MQ/set-password/",
    ]
    for url in sent:
        _request(url, headers={"Referer": "https://studio.example.com/inputs/ref-secret-5555/"})
    log = static.parent / "access.log"
    deadline = time.monotonic() + 5
    while log.read_text().count("\n") < len(sent) and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    for secret in ("cb-secret-1111", "input-secret-2222", "invite-secret-3333"):
        assert secret not in text
    assert "plain-http-secret-4444" not in text and "ref-secret-5555" not in text
    assert "GET /webhooks/generations/5/[redacted]/ HTTP/" in text
    assert "GET /accounts/reset/MQ/set-password/ HTTP/" in text  # no secret there: kept
    assert text.count("[redacted]") >= 2 * len(sent) - 1


@requires_nginx
def test_protected_media_keep_the_sandbox_policy_through_x_accel(tmp_path):
    """docs/deploy.md "The nginx site": a file sent by X-Accel-Redirect carries nginx's headers,
    not the app's, so the internal location itself forbids running or framing it."""
    import http.server
    import threading

    class App(http.server.BaseHTTPRequestHandler):
        """Stands in for the app after its permission check: hands the file to nginx."""

        def do_GET(self):
            self.send_response(200)
            self.send_header("X-Accel-Redirect", "/protected-media/page.html")
            self.send_header("Content-Type", "text/html")
            self.end_headers()

        def log_message(self, *args):
            pass

    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    http_port, https_port = free_port(), free_port()
    config = nginx_config(
        tmp_path, http_port=http_port, https_port=https_port, web_port=app.server_address[1]
    )
    (tmp_path / "media" / "page.html").write_text("<script>alert(1)</script>")
    nginx = start_nginx(tmp_path, config)
    try:
        wait_for_port(https_port)
        status, headers, body = _request(f"https://127.0.0.1:{https_port}/videos/1/file/")
    finally:
        os.killpg(nginx.pid, signal.SIGTERM)
        nginx.wait(timeout=30)
        app.shutdown()
    assert (status, body) == (200, b"<script>alert(1)</script>")
    assert headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
