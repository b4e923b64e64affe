"""``/metrics``: the bearer token, and the figures for known jobs, requests and checks."""

import contextlib
from datetime import timedelta

import pytest
import requests
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from generations import metrics
from generations.models import Generation, OpsMetric
from generations.providers.errors import ProviderError
from generations.providers.http import request_json
from generations.workers import heartbeat_beat
from tests.factories import GenerationFactory
from tests.fake_apixo import (
    BASE,
    STATUS_URL,
    callback_body,
    envelope,
    give_token,
    task_data,
)

pytestmark = pytest.mark.django_db
State = Generation.State
TOKEN = "metrics-test-token-0123456789"


@pytest.fixture
def scrape(client, settings):
    """Return a function that GETs /metrics with the token; it returns {name: {labels: value}}."""
    settings.METRICS_TOKEN = TOKEN

    def get() -> dict:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        samples: dict = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                key = tuple(sorted(sample.labels.items()))
                samples.setdefault(sample.name, {})[key] = sample.value
        return samples

    return get


def value(samples: dict, name: str, **labels) -> float:
    return samples[name][tuple(sorted(labels.items()))]


def test_metrics_is_404_while_the_token_is_unset(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "authorization",
    ["", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer"],
)
def test_metrics_is_401_without_the_right_bearer_token(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"seedance_" not in response.content


def test_metrics_with_the_token_needs_no_login(scrape):
    samples = scrape()
    assert "seedance_jobs" in samples


def test_jobs_by_state_and_the_oldest_job_in_flight(scrape, member):
    now = timezone.now()
    GenerationFactory.create_batch(2, user=member, state=State.QUEUED)
    GenerationFactory(user=member, state=State.SUBMITTED, created_at=now - timedelta(seconds=300))
    GenerationFactory(user=member, state=State.SUCCEEDED, result_state="stored")
    GenerationFactory(user=member, state=State.SUCCEEDED, result_state="pending")
    GenerationFactory(user=member, state=State.FAILED)
    GenerationFactory(user=member, state=State.FAILED, created_at=now - timedelta(days=2))

    samples = scrape()

    assert value(samples, "seedance_jobs", state="queued") == 2
    assert value(samples, "seedance_jobs", state="submitted") == 1
    assert value(samples, "seedance_jobs", state="succeeded") == 2
    assert value(samples, "seedance_jobs", state="failed") == 2
    assert value(samples, "seedance_jobs", state="expired") == 0
    # The old failed job is final: the oldest in flight is the 300 s old submitted one.
    age = value(samples, "seedance_jobs_in_flight_oldest_age_seconds")
    assert 300 <= age < 330
    assert value(samples, "seedance_result_downloads", state="stored") == 1
    assert value(samples, "seedance_result_downloads", state="pending") == 1
    assert value(samples, "seedance_result_downloads", state="failed") == 0


def test_no_job_in_flight_reports_age_zero_and_due_work(scrape, member):
    GenerationFactory(user=member, state=State.SUCCEEDED, result_state="stored")
    samples = scrape()
    assert value(samples, "seedance_jobs_in_flight_oldest_age_seconds") == 0
    GenerationFactory(user=member, state=State.QUEUED, next_action_at=timezone.now())
    GenerationFactory(
        user=member, state=State.QUEUED, next_action_at=timezone.now() + timedelta(hours=1)
    )
    assert value(scrape(), "seedance_jobs_due", state="queued") == 1


def test_provider_requests_by_provider_endpoint_and_outcome(scrape, api, member):
    api.get(STATUS_URL, json=envelope(task_data("t1", "processing")))
    api.get(STATUS_URL, status=503, body="busy")
    api.get(STATUS_URL, status=429, json={"code": 429, "message": "slow down"})
    api.get(STATUS_URL, body=requests.ConnectionError("refused"))
    api.post(f"{BASE}/generateTask/seedance-1-5-pro", json=envelope({"taskId": "t2"}))
    send = {"headers": {}, "connect_timeout": 1, "read_timeout": 1}
    for _ in range(4):
        with contextlib.suppress(ProviderError):  # the dropped connection
            request_json("GET", f"{STATUS_URL}?taskId=t1", **send)
    request_json("POST", f"{BASE}/generateTask/seedance-1-5-pro", json={}, **send)
    for state in (State.SUCCEEDED, State.FAILED):
        GenerationFactory(user=member, state=state)

    samples = scrape()

    name = "seedance_provider_requests_total"
    status = {"provider": "apixo", "endpoint": "status"}
    assert value(samples, name, **status, outcome="2xx") == 1
    assert value(samples, name, **status, outcome="5xx") == 1
    assert value(samples, name, **status, outcome="429") == 1
    assert value(samples, name, **status, outcome="outcome_unknown") == 1
    assert value(samples, name, provider="apixo", endpoint="submit", outcome="2xx") == 1
    # Four status requests for two finished jobs.
    assert value(samples, "seedance_status_requests_per_finished_job") == 2.0


def test_webhook_deliveries_by_result(scrape, api, make_job, client):
    generation = make_job(state=State.SUBMITTED, provider_task_id="task_1")
    token = give_token(generation)
    api.get(STATUS_URL, json=envelope(task_data("task_1", "success")))
    url = reverse("generation_webhook", args=[generation.pk, token])
    wrong = reverse("generation_webhook", args=[generation.pk, "x" * 43])
    body = callback_body("task_1", "success")
    assert client.post(url, body, content_type="application/json").status_code == 200
    assert client.post(url, body, content_type="application/json").status_code == 200
    assert client.post(wrong, body, content_type="application/json").status_code == 404

    samples = scrape()

    assert value(samples, "seedance_webhook_deliveries_total", result="accepted") == 2
    assert value(samples, "seedance_webhook_deliveries_total", result="not_found") == 1


def test_finalize_latency_histogram_from_the_providers_completion_time(scrape, member):
    done = timezone.now() - timedelta(minutes=5)
    for seconds in (0.4, 1.5, 7.0, 45.0):
        GenerationFactory(
            user=member,
            state=State.SUCCEEDED,
            provider_completed_at=done,
            finished_at=done + timedelta(seconds=seconds),
        )
    GenerationFactory(user=member, state=State.FAILED, finished_at=done)  # no provider time

    samples = scrape()

    buckets = samples["seedance_finalize_latency_seconds_bucket"]
    assert buckets[(("le", "0.5"),)] == 1
    assert buckets[(("le", "2.0"),)] == 2
    assert buckets[(("le", "10.0"),)] == 3
    assert buckets[(("le", "30.0"),)] == 3
    assert buckets[(("le", "60.0"),)] == 4
    assert buckets[(("le", "+Inf"),)] == 4
    assert value(samples, "seedance_finalize_latency_seconds_count") == 4
    assert value(samples, "seedance_finalize_latency_seconds_sum") == pytest.approx(53.9)


def test_a_final_status_records_the_providers_completion_time(api, make_job):
    from generations.services.lifecycle import generation_poll

    generation = make_job(state=State.SUBMITTED, provider_task_id="task_9")
    api.get(STATUS_URL, json=envelope(task_data("task_9", "success")))
    generation_poll(generation_id=generation.pk)
    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED
    # fake_apixo's completeTime: 1767965695412 ms.
    assert generation.provider_completed_at.timestamp() == 1767965695.412


def test_queue_depth_reads_the_broker(scrape):
    from django_q.brokers import get_broker

    broker = get_broker()
    before = value(scrape(), "seedance_queue_depth")
    broker.enqueue("a signed task")
    broker.enqueue("another")
    assert value(scrape(), "seedance_queue_depth") == before + 2


def test_the_last_ledger_check_is_reported(scrape, payer):
    assert "seedance_ledger_check_mismatches" not in scrape()
    call_command("ledger_check")
    samples = scrape()
    assert value(samples, "seedance_ledger_check_mismatches") == 0
    ran = value(samples, "seedance_ledger_check_last_run_timestamp_seconds")
    assert abs(ran - timezone.now().timestamp()) < 60


def test_a_ledger_mismatch_is_reported(scrape, payer):
    from generations.models import CreditAccount

    CreditAccount.objects.filter(user=payer).update(balance=5)
    with pytest.raises(CommandError):
        call_command("ledger_check")
    assert value(scrape(), "seedance_ledger_check_mismatches") == 1


def test_worker_nodes_report_their_tasks_and_heartbeat_age(scrape):
    heartbeat_beat(node="node-a", tasks_done=3)
    heartbeat_beat(node="node-a", tasks_done=2)
    heartbeat_beat(node="node-b", tasks_done=1)
    samples = scrape()
    assert value(samples, "seedance_worker_tasks_total", node="node-a") == 5
    assert value(samples, "seedance_worker_tasks_total", node="node-b") == 1
    assert value(samples, "seedance_worker_heartbeat_age_seconds", node="node-a") < 5


def test_counts_are_buffered_then_added_in_one_update(django_assert_num_queries):
    metrics.metrics_flush()
    for _ in range(3):
        metrics.metric_add("test_counter", kind="a")
    metrics.metric_add("test_counter", 2, kind="b")
    # Per label set: the UPDATE, then the first INSERT in a savepoint (SAVEPOINT, RELEASE).
    with django_assert_num_queries(8):
        metrics.metrics_flush()
    metrics.metric_add("test_counter", kind="a")
    with django_assert_num_queries(1):
        metrics.metrics_flush()
    stored = dict(OpsMetric.objects.filter(name="test_counter").values_list("labels", "value"))
    assert stored == {'{"kind":"a"}': 4, '{"kind":"b"}': 2}


def test_automatic_flushes_wait_for_the_end_of_a_transaction(monkeypatch):
    monkeypatch.setattr(metrics, "FLUSH_SECONDS", 0.0)  # every add is due for a flush
    metrics.metrics_flush()
    with transaction.atomic():
        metrics.metric_add("test_counter", kind="in-atomic")
        assert not OpsMetric.objects.filter(name="test_counter").exists()
    # The test itself runs in a transaction: a forced flush (as /metrics does) writes.
    metrics.metrics_flush()
    assert OpsMetric.objects.get(name="test_counter").value == 1
