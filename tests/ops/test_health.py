"""``/healthz`` and ``/readyz``: no login, JSON, 200 when every dependency works, else 503."""

from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from generations import health
from generations.models import WorkerHeartbeat, WorkerLease
from generations.tasks import DISPATCHER_LEASE
from generations.workers import heartbeat_beat

# A port nothing listens on: a real connection refused, not a mock.
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def alive(db, settings):
    """A worker node that just beat and a dispatcher that just ran: everything ready."""
    settings.WORKER_HEARTBEAT_SECONDS = 10
    heartbeat_beat(node="node-a", tasks_done=0)
    WorkerLease.objects.create(
        name=DISPATCHER_LEASE, holder="loop-1", expires_at=timezone.now() + timedelta(seconds=20)
    )


def checks(response) -> dict:
    return {name: check["ok"] for name, check in response.json()["checks"].items()}


def test_healthz_answers_without_login_or_database(client):
    # No db fixture: any query would raise "Database access not allowed".
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_200_with_every_check_when_all_is_well(client, alive):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert checks(response) == {
        "database": True,
        "migrations": True,
        "cache": True,
        "broker": True,
        "dispatcher": True,
        "workers": True,
        "provider": True,
    }
    assert body["checks"]["workers"]["detail"] == "1 node(s): node-a"
    assert body["checks"]["dispatcher"]["detail"] == "running"


def test_readyz_without_any_worker_heartbeat_is_503(client, alive):
    WorkerHeartbeat.objects.all().delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert checks(response)["workers"] is False
    assert checks(response)["database"] is True


def test_readyz_with_a_stale_heartbeat_is_503(client, alive, settings):
    WorkerHeartbeat.objects.update(last_seen_at=timezone.now() - timedelta(seconds=31))
    assert client.get("/readyz").status_code == 503
    settings.WORKER_HEARTBEAT_SECONDS = 11  # 3 beats = 33 s: 31 s is fresh again
    assert client.get("/readyz").status_code == 200


def test_readyz_when_the_dispatcher_never_ran_or_stopped_long_ago_is_503(client, alive):
    WorkerLease.objects.update(holder="", expires_at=timezone.now() - timedelta(seconds=30))
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["dispatcher"]["detail"] == "idle, ran recently"

    WorkerLease.objects.update(expires_at=timezone.now() - health.DISPATCHER_STALE_AFTER * 2)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert checks(response)["dispatcher"] is False

    WorkerLease.objects.all().delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["dispatcher"]["detail"] == "the dispatcher has never run"


def test_readyz_with_an_unapplied_migration_is_503(client, alive, monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)
    MigrationRecorder.Migration.objects.filter(
        app="generations", name="0011_ops_heartbeat_metrics"
    ).delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    migrations = response.json()["checks"]["migrations"]
    assert migrations == {
        "ok": False,
        "detail": "1 unapplied: generations.0011_ops_heartbeat_metrics",
        "seconds": migrations["seconds"],
    }


def test_readyz_with_an_unreachable_cache_is_503(client, alive, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 503
    assert checks(response)["cache"] is False
    # The public page names the error's type, never its text (addresses, names).
    assert response.json()["checks"]["cache"]["detail"] == "ConnectionError (see the log)"
    assert checks(response)["database"] is True


def test_readyz_with_an_unreachable_redis_broker_is_503(client, alive, settings):
    settings.Q_BROKER = "redis"
    settings.REDIS_URL = DEAD_REDIS
    response = client.get("/readyz")
    assert response.status_code == 503
    assert checks(response)["broker"] is False
    assert checks(response)["cache"] is True


def test_readyz_with_a_reachable_redis_broker_is_200(client, alive, settings, redis_url):
    settings.Q_BROKER = "redis"
    settings.REDIS_URL = redis_url
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["broker"]["detail"] == "redis"


def test_readyz_when_the_database_is_down_is_503_and_skips_what_needs_it(
    client, alive, monkeypatch
):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", refuse)
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()["checks"]
    assert body["database"]["ok"] is False
    for name in ("migrations", "dispatcher", "workers"):
        assert body[name] == {
            "ok": False,
            "detail": "skipped: the database is unreachable",
            "seconds": 0.0,
        }


@pytest.fixture
def production_host(settings):
    """What a production node has: one public host name, DEBUG off, HTTP redirected to HTTPS."""
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["studio.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.METRICS_TOKEN = "probe-token"


@pytest.mark.parametrize("host", ["10.0.0.11:8000", "studio.example.com"])
def test_probes_answer_on_a_nodes_own_address_over_plain_http(client, alive, production_host, host):
    # docs/deploy.md "Health, metrics and logs": the balancer and Prometheus call each node.
    assert client.get("/healthz", HTTP_HOST=host).status_code == 200
    response = client.get("/readyz", HTTP_HOST=host)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"
    assert response["X-Content-Type-Options"] == "nosniff"
    metrics = client.get("/metrics", HTTP_HOST=host, HTTP_AUTHORIZATION="Bearer probe-token")
    assert metrics.status_code == 200
    assert b"seedance_jobs" in metrics.content
    # The token is still wanted.
    assert client.get("/metrics", HTTP_HOST=host).status_code == 401
    # Only GET and HEAD, as before.
    assert client.post("/readyz", HTTP_HOST=host).status_code == 405


def test_other_paths_still_validate_the_host_and_redirect(client, db, production_host):
    assert client.get("/accounts/login/", HTTP_HOST="10.0.0.11:8000").status_code == 400
    response = client.get("/accounts/login/", HTTP_HOST="studio.example.com")
    assert response.status_code == 301
    assert response["Location"].startswith("https://studio.example.com/")
    # A look-alike path is not a probe.
    assert client.get("/readyz/", HTTP_HOST="10.0.0.11:8000").status_code == 400


def test_readyz_names_the_simulator_and_warns_when_production_runs_on_it(client, alive, settings):
    settings.USE_SIMULATOR = True  # no APIXO_API_KEY
    settings.DEBUG = True
    provider = client.get("/readyz").json()["checks"]["provider"]
    assert provider["ok"] is True and provider["detail"] == "simulator (no APIXO_API_KEY)"

    settings.DEBUG = False
    settings.SIMULATOR_IN_PRODUCTION = False
    response = client.get("/readyz")
    # Informational: the page stays 200 (a balancer or an alert is not the place to decide).
    assert response.status_code == 200
    detail = response.json()["checks"]["provider"]["detail"]
    assert detail.startswith("WARNING (seedance.W001)") and "simulator" in detail

    settings.SIMULATOR_IN_PRODUCTION = True  # a demo on purpose
    detail = client.get("/readyz").json()["checks"]["provider"]["detail"]
    assert detail == "simulator (no APIXO_API_KEY)"


def test_readyz_names_the_real_providers(client, alive, settings):
    settings.DEBUG = False
    settings.USE_SIMULATOR = False
    settings.AIVIDEOAPI_API_KEY = ""
    assert client.get("/readyz").json()["checks"]["provider"]["detail"] == "apixo"
    settings.AIVIDEOAPI_API_KEY = "sk-real"
    settings.AIVIDEOAPI_USES_SIMULATOR = False
    assert client.get("/readyz").json()["checks"]["provider"]["detail"] == "apixo, aivideoapi"
