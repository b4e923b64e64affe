"""Fixtures for the operations tests: a reachable Redis, or a skip saying why."""

import os

import pytest


@pytest.fixture
def redis_url():
    """The Redis of ``REDIS_URL`` when it answers PING; skip otherwise (CI's Redis run sets it)."""
    import redis

    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs Redis: set REDIS_URL=redis://127.0.0.1:6379/N (CI's Redis run does)")
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {url} is not reachable: {exc!r}")
    finally:
        client.close()
    return url
