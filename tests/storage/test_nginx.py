"""MEDIA_ACCEL=nginx through a real nginx: the owner's video answers Range from nginx.

nginx runs on a free local port in front of pytest-django's live server, with the internal
location docs/storage.md gives. Skipped where nginx is not installed.
"""

import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from ..factories import GenerationFactory, UserFactory
from ..net import free_port, wait_for_port
from .conftest import VIDEO

NGINX = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(NGINX is None, reason="needs nginx (Debian package nginx)"),
]

CONFIG = """
{user}
daemon off;
pid {run}/nginx.pid;
error_log {run}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    types {{ video/mp4 mp4; }}
    server {{
        listen 127.0.0.1:{port};
        location /protected-media/ {{
            internal;
            alias {media}/;
        }}
        location / {{
            proxy_pass {upstream};
            proxy_set_header Host $host;
        }}
    }}
}}
"""


@pytest.fixture
def nginx(live_server, local_media, settings, tmp_path):
    """Start nginx in front of the live server; yield its base URL."""
    settings.MEDIA_ACCEL = "nginx"
    settings.MEDIA_ACCEL_PREFIX = "/protected-media/"
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    local_media.mkdir(parents=True, exist_ok=True)
    run = tmp_path / "nginx"
    run.mkdir()
    port = free_port()
    config = run / "nginx.conf"
    config.write_text(
        CONFIG.format(
            # As root, nginx's workers would run as nobody, who cannot enter pytest's 0700
            # temporary directories.
            user="user root;" if os.geteuid() == 0 else "",
            run=run,
            port=port,
            media=local_media.resolve(),
            upstream=live_server.url,
        )
    )
    process = subprocess.Popen(
        [NGINX, "-e", str(run / "error.log"), "-p", str(run), "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=10)
    except AssertionError:
        process.kill()
        process.wait()
        log = (run / "error.log").read_text() if (run / "error.log").exists() else ""
        pytest.skip(f"nginx did not start: {log[-400:]}")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def get(url: str, **headers) -> tuple[int, object, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def session_cookie(client, user) -> str:
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def test_nginx_answers_the_owners_range_request(nginx, client):
    owner = UserFactory()
    generation = GenerationFactory(user=owner, state="succeeded", result_state="stored")
    generation.result_file.save("видео clip.mp4", ContentFile(VIDEO))
    url = nginx + reverse("generations:video", args=[generation.pk])

    status, headers, data = get(url, Range="bytes=0-99", Cookie=session_cookie(client, owner))

    assert status == 206
    assert data == VIDEO[:100]
    assert headers["Content-Range"] == f"bytes 0-99/{len(VIDEO)}"
    assert headers["Content-Type"] == "video/mp4"
    assert headers["Content-Disposition"] == f'inline; filename="seedance-{generation.pk}.mp4"'
    assert "X-Accel-Redirect" not in headers


def test_through_nginx_others_get_a_404_and_the_location_is_internal(nginx, client):
    generation = GenerationFactory(user=UserFactory(), state="succeeded", result_state="stored")
    generation.result_file.save("clip.mp4", ContentFile(VIDEO))

    cookie = session_cookie(client, UserFactory())
    url = nginx + reverse("generations:video", args=[generation.pk])
    status, _, data = get(url, Cookie=cookie)
    assert status == 404 and VIDEO[:100] not in data

    status, _, data = get(f"{nginx}/protected-media/{generation.result_file.name}")
    assert status == 404 and VIDEO[:100] not in data
