"""MEDIA_STORAGE, MEDIA_ACCEL and the AWS_* names are parsed strictly at start-up."""

import runpy
from pathlib import Path

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured

import seedance_site

SETTINGS = Path(seedance_site.__file__).parent / "settings.py"
NAMES = (
    "MEDIA_STORAGE",
    "MEDIA_ACCEL",
    "MEDIA_ACCEL_PREFIX",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_ADDRESSING_STYLE",
    "AWS_QUERYSTRING_EXPIRE",
    "AWS_LOCATION",
)


def load(monkeypatch, **environment) -> dict:
    """Run the settings module afresh with ``environment``; return its names.

    A developer's ``.env`` is not read: it would add to the environment for good.
    """
    monkeypatch.setattr(environ.Env, "read_env", staticmethod(lambda *args, **kwargs: None))
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    # Development basics, so that only the media names decide the outcome.
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("SECRET_KEY", "settings-parsing-test-key")
    monkeypatch.setenv("ENV_FILE", "")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_local_storage_is_the_default(monkeypatch):
    loaded = load(monkeypatch)

    assert loaded["MEDIA_STORAGE"] == "local"
    assert loaded["STORAGES"]["default"]["BACKEND"].endswith("FileSystemStorage")
    assert loaded["MEDIA_ACCEL"] == "none"
    assert "AWS_STORAGE_BUCKET_NAME" not in loaded


def test_s3_uses_django_storages_with_the_aws_names(monkeypatch):
    loaded = load(
        monkeypatch,
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="seedance-media",
        AWS_S3_ENDPOINT_URL="https://acc0unt.r2.cloudflarestorage.com/",
        AWS_S3_REGION_NAME="auto",
        AWS_ACCESS_KEY_ID="key-id",
        AWS_SECRET_ACCESS_KEY="secret",
        AWS_S3_ADDRESSING_STYLE="path",
    )

    assert loaded["STORAGES"]["default"] == {"BACKEND": "storages.backends.s3.S3Storage"}
    assert loaded["AWS_STORAGE_BUCKET_NAME"] == "seedance-media"
    assert loaded["AWS_S3_ENDPOINT_URL"] == "https://acc0unt.r2.cloudflarestorage.com"
    assert loaded["AWS_S3_REGION_NAME"] == "auto"
    assert loaded["AWS_S3_ADDRESSING_STYLE"] == "path"
    assert loaded["AWS_S3_SIGNATURE_VERSION"] == "s3v4"
    assert loaded["AWS_QUERYSTRING_AUTH"] is True
    assert loaded["AWS_QUERYSTRING_EXPIRE"] == 300
    assert loaded["AWS_DEFAULT_ACL"] is None
    assert loaded["AWS_S3_FILE_OVERWRITE"] is False


def test_s3_on_aws_itself_needs_only_a_bucket(monkeypatch):
    loaded = load(monkeypatch, MEDIA_STORAGE="S3", AWS_STORAGE_BUCKET_NAME="b")

    assert loaded["AWS_S3_ENDPOINT_URL"] is None  # boto3's own AWS endpoint
    assert loaded["AWS_ACCESS_KEY_ID"] is None  # boto3's credential chain (roles, ~/.aws)
    assert loaded["AWS_S3_ADDRESSING_STYLE"] is None


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"MEDIA_STORAGE": "gcs"}, "MEDIA_STORAGE must be one of local, s3"),
        ({"MEDIA_STORAGE": "s3"}, "needs AWS_STORAGE_BUCKET_NAME"),
        ({"MEDIA_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": " "}, "needs AWS_STORAGE_BUCKET"),
        (
            {"MEDIA_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "AWS_S3_ENDPOINT_URL": "x"},
            "AWS_S3_ENDPOINT_URL must be an absolute",
        ),
        (
            {"MEDIA_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "AWS_QUERYSTRING_EXPIRE": "0"},
            "AWS_QUERYSTRING_EXPIRE must be",
        ),
        (
            {
                "MEDIA_STORAGE": "s3",
                "AWS_STORAGE_BUCKET_NAME": "b",
                "AWS_S3_ADDRESSING_STYLE": "subdomain",
            },
            "AWS_S3_ADDRESSING_STYLE must be one of",
        ),
        (
            {"MEDIA_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "MEDIA_ACCEL": "nginx"},
            "MEDIA_STORAGE=local only",
        ),
        ({"MEDIA_ACCEL": "lighttpd"}, "MEDIA_ACCEL must be one of none, nginx, apache"),
        ({"MEDIA_ACCEL_PREFIX": "/"}, "MEDIA_ACCEL_PREFIX must be"),
        ({"MEDIA_ACCEL_PREFIX": "/a/../b/"}, "MEDIA_ACCEL_PREFIX must be"),
        ({"MEDIA_ACCEL_PREFIX": "/a?b/"}, "MEDIA_ACCEL_PREFIX must be"),
    ],
)
def test_bad_values_stop_start_up(monkeypatch, environment, message):
    with pytest.raises(ImproperlyConfigured, match=message.replace("?", r"\?")):
        load(monkeypatch, **environment)


def test_the_nginx_prefix_is_normalised(monkeypatch):
    loaded = load(monkeypatch, MEDIA_ACCEL="nginx", MEDIA_ACCEL_PREFIX="internal/media")

    assert loaded["MEDIA_ACCEL_PREFIX"] == "/internal/media/"
