"""Worker heartbeats and the provider-request labels (issue #13 items 5, 7 and 8)."""

import json
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from generations import metrics, workers
from generations.models import OpsMetric, WorkerHeartbeat

pytestmark = pytest.mark.django_db


def test_a_beat_renews_the_node_and_adds_its_tasks(monkeypatch):
    monkeypatch.setattr(workers.os, "getppid", lambda: 4242)
    workers.heartbeat_beat(node="node-a", tasks_done=2)
    first = WorkerHeartbeat.objects.get(node="node-a")
    WorkerHeartbeat.objects.update(last_seen_at=timezone.now() - timedelta(seconds=30))
    workers.heartbeat_beat(node="node-a", tasks_done=3)
    beat = WorkerHeartbeat.objects.get(node="node-a")
    assert (beat.pid, beat.tasks_done, beat.started_at) == (4242, 5, first.started_at)
    assert timezone.now() - beat.last_seen_at < timedelta(seconds=5)


def test_the_same_node_name_run_again_is_a_new_start(monkeypatch):
    monkeypatch.setattr(workers.os, "getppid", lambda: 1000)
    workers.heartbeat_beat(node="node-a", tasks_done=7)
    WorkerHeartbeat.objects.update(started_at=timezone.now() - timedelta(hours=1))
    monkeypatch.setattr(workers.os, "getppid", lambda: 2000)
    workers.heartbeat_beat(node="node-a")
    beat = WorkerHeartbeat.objects.get(node="node-a")
    assert beat.pid == 2000
    assert timezone.now() - beat.started_at < timedelta(seconds=5)
    assert beat.tasks_done == 7  # a counter: it never goes down


def test_nodes_gone_for_a_day_are_forgotten_when_a_node_starts():
    workers.heartbeat_beat(node="old-node")
    WorkerHeartbeat.objects.update(last_seen_at=timezone.now() - timedelta(days=2))
    workers.heartbeat_beat(node="new-node")
    assert list(WorkerHeartbeat.objects.values_list("node", flat=True)) == ["new-node"]


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_counts_tasks_and_flushes_metrics(settings):
    settings.WORKER_NODE_NAME = "node-z"
    workers.on_task_executed()
    workers.on_task_executed()
    metrics.metric_add("test_counter", kind="worker")
    stop = threading.Event()
    stop.set()  # one beat, then return
    # Its own thread and database connection, as in a worker process.
    thread = threading.Thread(target=workers._beat_forever, args=(workers.node_name(), stop))
    thread.start()
    thread.join(timeout=30)
    assert WorkerHeartbeat.objects.get(node="node-z").tasks_done == 2
    assert OpsMetric.objects.get(name="test_counter").value == 1


@pytest.mark.parametrize(
    ("method", "path", "provider", "endpoint"),
    [
        ("POST", "apixo:/generateTask/seedance-1-5-pro", "apixo", "submit"),
        ("GET", "apixo:/statusTask/seedance-1-5-pro?taskId=t", "apixo", "status"),
        ("GET", "apixo:/apikeys/current-balance", "apixo", "balance"),
        ("POST", "aivideoapi:/videos/generations", "aivideoapi", "submit"),
        ("GET", "aivideoapi:/tasks/task_123", "aivideoapi", "status"),
        ("GET", "aivideoapi:/credits", "aivideoapi", "balance"),
        ("GET", "https://elsewhere.test/x", "other", "other"),
    ],
)
def test_provider_requests_are_labelled_by_provider_and_endpoint(
    settings, method, path, provider, endpoint
):
    settings.APIXO_BASE_URL = "https://api.apixo.test/api/v1"
    settings.AIVIDEOAPI_BASE_URL = "https://api.aivideoapi.test/v1"
    url = path.replace("apixo:", settings.APIXO_BASE_URL).replace(
        "aivideoapi:", settings.AIVIDEOAPI_BASE_URL
    )
    metrics.provider_request_observed(method, url, "2xx")
    metrics.metrics_flush()
    row = OpsMetric.objects.get(name=metrics.PROVIDER_REQUESTS)
    assert json.loads(row.labels) == {"provider": provider, "endpoint": endpoint, "outcome": "2xx"}


def test_a_sync_task_in_a_process_that_is_no_node_starts_no_heartbeat(settings, monkeypatch):
    """django-q2 sends post_spawn when it runs a ``sync`` task inline, e.g. in the tests."""
    from django_q.tasks import async_task

    started = []
    monkeypatch.setattr(workers, "heartbeat_start", lambda: started.append(True))
    assert settings.Q_CLUSTER["sync"] is True
    async_task("math.floor", 1.5, sync=True, save=False)
    assert started == []
    workers.on_worker_spawned()
    assert started == []
    monkeypatch.setattr(workers.multiprocessing, "parent_process", lambda: object())
    workers.on_worker_spawned()
    assert started == [True]
