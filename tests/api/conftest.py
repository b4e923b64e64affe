"""Fixtures of the REST API tests: members with tokens and a client that sends them."""

import pytest
from django.test import Client

from generations.services.api_tokens import api_token_create

from ..factories import ManagerFactory, UserFactory

PUBLIC_PNG = "http://93.184.215.14/frame.png"  # a public address literal: no DNS needed
PUBLIC_MP4 = "http://93.184.215.14/clip.mp4"


class ApiClient:
    """A Django test client that sends ``Authorization: Bearer <token>`` on every request."""

    def __init__(self, token: str | None):
        self.token = token
        self.client = Client()

    def _headers(self, headers: dict | None) -> dict:
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        return sent

    def get(self, path: str, data=None, headers: dict | None = None):
        return self.client.get(path, data, headers=self._headers(headers))

    def post(self, path: str, json=None, headers: dict | None = None, **kwargs):
        if json is not None:
            return self.client.post(
                path, json, content_type="application/json", headers=self._headers(headers)
            )
        return self.client.post(path, headers=self._headers(headers), **kwargs)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_BASE_URL = "https://studio.example.com"


@pytest.fixture
def rich(db):
    """A member with 10,000 credits."""
    return UserFactory(credits=10_000)


@pytest.fixture
def token(rich):
    return api_token_create(user=rich, name="script").secret


@pytest.fixture
def api_client(token):
    return ApiClient(token)


@pytest.fixture
def anonymous():
    return ApiClient(None)


def client_for(user) -> ApiClient:
    """Return an API client holding a fresh token of ``user``."""
    return ApiClient(api_token_create(user=user, name="test").secret)


@pytest.fixture
def manager_api(db):
    return client_for(ManagerFactory(credits=100))


TEXT = {
    "mode": "text-to-video",
    "prompt": "a paper boat drifting down a rainy street",
    "resolution": "480p",
    "duration": 4,
    "sound": False,
}
IMAGE = {
    "mode": "image-to-video",
    "prompt": "the lantern slowly lights up",
    "resolution": "720p",
    "duration": 5,
    "start_image_url": PUBLIC_PNG,
}
EXTEND = {
    "mode": "video-extend",
    "prompt": "the camera keeps rising above the city",
    "resolution": "720p",
    "duration": 4,
    "source_video_url": PUBLIC_MP4,
    "seed": 42,
}
