"""Fixtures: a stored result video of known bytes, and a local S3-compatible server (moto)."""

import subprocess
import sys
import uuid

import pytest
from django.core.files.base import ContentFile

from ..factories import GenerationFactory
from ..net import free_port, wait_for_port

# An MP4 header, then bytes whose position can be told from their value.
VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(i % 251 for i in range(5000))


def stored_generation(user, **fields):
    """Return ``user``'s succeeded generation with ``VIDEO`` saved in the default storage."""
    generation = GenerationFactory(user=user, state="succeeded", result_state="stored", **fields)
    generation.result_file.save(f"generation-{generation.pk}.mp4", ContentFile(VIDEO))
    return generation


@pytest.fixture
def local_media(settings, tmp_path):
    """Keep media under a fresh MEDIA_ROOT, served by Django itself."""
    settings.MEDIA_STORAGE = "local"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MEDIA_ACCEL = "none"
    return tmp_path / "media"


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory):
    """Start moto's S3-compatible server on a free local port; yield its URL.

    moto runs in server mode, as a separate process speaking HTTP, so django-storages and
    boto3 talk to it exactly as to MinIO or R2. Skips when moto[server] is missing or the
    server does not come up.
    """
    pytest.importorskip("moto.server", reason="moto[server] is not installed (requirements-dev)")
    pytest.importorskip("flask", reason="moto[server] is not installed (requirements-dev)")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, timeout=30)
    except AssertionError:
        process.kill()
        process.wait()
        pytest.skip(f"moto's S3 server did not start: {log.read_text()[-500:]}")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def s3_media(settings, s3_endpoint):
    """Make the default storage django-storages' S3 backend on a new bucket; yield its name."""
    import boto3

    bucket = f"seedance-test-{uuid.uuid4().hex[:12]}"
    options = {
        "bucket_name": bucket,
        "endpoint_url": s3_endpoint,
        "region_name": "us-east-1",
        "access_key": "test-access-key",
        "secret_key": "test-secret-key",
        "addressing_style": "path",
        "signature_version": "s3v4",
        "querystring_expire": 300,
        "file_overwrite": False,
        "default_acl": None,
    }
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test-access-key",
        aws_secret_access_key="test-secret-key",
    )
    client.create_bucket(Bucket=bucket)
    settings.MEDIA_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    return client, bucket
