"""MEDIA_ACCEL=apache through a real Apache with mod_xsendfile, in front of the live server.

Apache proxies to pytest-django's live server (mod_proxy_http, as docs/storage.md shows) and
sends the file named by X-Sendfile, answering Range itself. Skipped where Apache or
mod_xsendfile is not installed (Debian: apache2, libapache2-mod-xsendfile).
"""

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from ..factories import GenerationFactory, UserFactory
from ..net import free_port, wait_for_port
from .conftest import VIDEO
from .test_nginx import get, session_cookie

APACHE = shutil.which("apache2", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
MODULES = Path("/usr/lib/apache2/modules")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        APACHE is None or not (MODULES / "mod_xsendfile.so").exists(),
        reason="needs Apache with mod_xsendfile (Debian: apache2 libapache2-mod-xsendfile)",
    ),
]

CONFIG = """
ServerRoot {run}
PidFile {run}/httpd.pid
ErrorLog {run}/error.log
LogLevel warn
ServerName localhost
Listen 127.0.0.1:{port}
{user}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
LoadModule xsendfile_module {modules}/mod_xsendfile.so
XSendFile On
XSendFilePath {media}
ProxyPass / {upstream}/
"""


@pytest.fixture
def apache(live_server, settings):
    """Start Apache in front of the live server, media in a directory its workers can read."""
    # As root, Apache's workers switch to an unprivileged user: pytest's temporary
    # directories (0700) are out of its reach, so this one is world-readable.
    base = Path(tempfile.mkdtemp(prefix="seedance-apache-"))
    base.chmod(0o755)
    media, run = base / "media", base / "run"
    media.mkdir(mode=0o755)
    run.mkdir()
    settings.MEDIA_STORAGE = "local"
    settings.MEDIA_ROOT = str(media)
    settings.MEDIA_ACCEL = "apache"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    user = ""
    if os.geteuid() == 0:
        name = "www-data" if _user_exists("www-data") else "nobody"
        user = f"User {name}\nGroup {'www-data' if name == 'www-data' else 'nogroup'}"
    port = free_port()
    config = run / "httpd.conf"
    config.write_text(
        CONFIG.format(
            run=run,
            port=port,
            user=user,
            modules=MODULES,
            media=media,
            upstream=live_server.url,
        )
    )
    process = subprocess.Popen(
        [APACHE, "-f", str(config), "-DFOREGROUND"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=10)
    except AssertionError:
        process.kill()
        process.wait()
        log = (run / "error.log").read_text() if (run / "error.log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"Apache did not start: {log[-400:]}")
    yield f"http://127.0.0.1:{port}", media
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(base, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def stored(generation, name: str, media: Path):
    generation.result_file.save(name, ContentFile(VIDEO))
    (media / generation.result_file.name).chmod(0o644)
    for parent in (media / generation.result_file.name).parents:
        if parent == media:
            break
        parent.chmod(0o755)


def test_apache_answers_the_owners_range_request(apache, client):
    base, media = apache
    owner = UserFactory()
    generation = GenerationFactory(user=owner, state="succeeded", result_state="stored")
    stored(generation, "видео clip.mp4", media)
    url = base + reverse("generations:video", args=[generation.pk])

    status, headers, data = get(url, Range="bytes=0-99", Cookie=session_cookie(client, owner))

    assert status == 206
    assert data == VIDEO[:100]
    assert headers["Content-Range"] == f"bytes 0-99/{len(VIDEO)}"
    assert headers["Content-Type"] == "video/mp4"
    assert "X-Sendfile" not in headers


def test_through_apache_others_get_a_404(apache, client):
    base, media = apache
    generation = GenerationFactory(user=UserFactory(), state="succeeded", result_state="stored")
    stored(generation, "clip.mp4", media)

    url = base + reverse("generations:video", args=[generation.pk])
    status, _, data = get(url, Cookie=session_cookie(client, UserFactory()))

    assert status == 404 and VIDEO[:100] not in data
