"""Redis settings (issue #13 item 4): REDIS_URL is Django's cache and, on demand, the broker.

The settings are read in a fresh interpreter per case, with only the variables given, as a
node starting up would read them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.core.cache.backends.redis import RedisCache

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = (
    "import json, seedance_site.settings as s; "
    "print(json.dumps({'cache': s.CACHES['default'], 'q': s.Q_CLUSTER}))"
)


def read_settings(**variables: str) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("Q_BROKER", "REDIS_URL")},
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_by_default_the_cache_is_per_process_and_the_broker_is_the_database():
    result = read_settings()
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["cache"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert loaded["q"]["orm"] == "default"
    assert "redis" not in loaded["q"]


def test_redis_broker_without_redis_url_refuses_to_start():
    result = read_settings(Q_BROKER="redis")
    assert result.returncode != 0
    assert "Q_BROKER=redis needs REDIS_URL" in result.stderr


def test_a_redis_url_that_is_not_redis_refuses_to_start():
    result = read_settings(REDIS_URL="http://127.0.0.1:6379/0")
    assert result.returncode != 0
    assert "REDIS_URL must be an absolute redis/rediss URL" in result.stderr


def test_redis_url_makes_redis_the_cache_and_with_q_broker_the_broker():
    url = "redis://127.0.0.1:6379/3"
    loaded = json.loads(read_settings(REDIS_URL=url, REDIS_KEY_PREFIX="site-b").stdout)
    assert loaded["cache"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert (loaded["cache"]["LOCATION"], loaded["cache"]["KEY_PREFIX"]) == (url, "site-b")
    assert loaded["q"]["orm"] == "default"  # REDIS_URL alone keeps the ORM broker

    loaded = json.loads(read_settings(REDIS_URL=url, Q_BROKER="redis").stdout)
    assert loaded["q"]["redis"] == url
    assert loaded["q"]["name"] == "seedance"
    assert "orm" not in loaded["q"]


def test_a_balance_refresh_is_asked_for_once_across_nodes_through_redis(
    settings, redis_url, monkeypatch
):
    """Two web nodes showing stale balances queue one refresh: the key is in Redis."""
    import redis

    from generations.services import provider_balances as service

    prefix = f"test-balance-{os.getpid()}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": prefix,
        }
    }
    queued = []
    monkeypatch.setattr(service, "enqueue", lambda task, **kw: queued.append(task))
    key = service.REFRESH_REQUESTED_KEY
    server = redis.Redis.from_url(redis_url)
    try:
        assert service.provider_balances_refresh_request()
        assert server.exists(f"{prefix}:1:{key}")  # Django's key format: prefix:version:key
        other_node = RedisCache(redis_url, {"KEY_PREFIX": prefix})
        assert not other_node.add(key, True, 60)  # the other node sees it asked for
        assert not service.provider_balances_refresh_request()
        assert queued == ["refresh_provider_balances"]
    finally:
        server.delete(f"{prefix}:1:{key}")
        server.close()
