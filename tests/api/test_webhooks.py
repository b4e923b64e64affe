"""Outbound webhooks (docs/api.md "Webhooks"): signed by Standard Webhooks and checked here by
an independent implementation (the ``standardwebhooks`` package, and the spec's few lines by
hand), retried on 500 and on timeouts, given up after a day, the endpoint disabled with an
e-mail after repeated failures, and private targets refused.

A real HTTP server on 127.0.0.1 receives the events (``WEBHOOK_ALLOW_LOOPBACK`` lets the guard
pass it, as only tests may).
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from generations import tasks
from generations.models import WebhookDelivery, WebhookEndpoint
from generations.services.lifecycle import Outcome, generation_finalize
from generations.services.webhooks import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    WebhookTargetRefused,
    webhook_deliveries_due,
    webhook_endpoint_create,
    webhook_events_create,
)

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db


class Receiver:
    """A local endpoint that answers with the next of ``statuses`` (then 200), after
    ``delay`` seconds, and records every request (headers and body)."""

    def __init__(self):
        self.statuses: list[int] = []
        self.delay = 0.0
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def owner(db):
    return UserFactory(credits=1000)


@pytest.fixture
def endpoint(owner, receiver):
    return webhook_endpoint_create(
        user=owner,
        url=receiver.url,
        events=["generation.succeeded", "generation.failed", "generation.canceled"],
    )


def announce(generation, capture) -> list[int]:
    """Make the job's deliveries and run their first attempts (the on-commit queueing)."""
    with capture(execute=True):
        return webhook_events_create(generation_id=generation.pk)


def failed_job(owner):
    return GenerationFactory(user=owner, state="failed", fail_message="The provider refused.")


def test_a_finished_job_is_announced_signed_and_verified_independently(
    owner, endpoint, receiver, django_capture_on_commit_callbacks
):
    job = GenerationFactory(user=owner, state="succeeded", result_state="stored")
    job.result_file.name = "results/x.mp4"
    job.save()
    (delivery_id,) = announce(job, django_capture_on_commit_callbacks)
    (request,) = receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    # The standardwebhooks package (the spec's reference implementation) accepts it ...
    payload = Webhook(endpoint.secret).verify(request["body"], headers)
    assert payload["type"] == "generation.succeeded"
    assert payload["data"]["id"] == job.pk and payload["data"]["state"] == "succeeded"
    assert payload["data"]["video_url"].endswith(f"/api/v1/generations/{job.pk}/video")
    # ... and so do the spec's few lines, written out here.
    key = base64.b64decode(endpoint.secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request["body"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("succeeded", 1, 200)
    assert delivery.message_id == headers["webhook-id"]


def test_a_tampered_body_fails_verification(
    owner, endpoint, receiver, django_capture_on_commit_callbacks
):
    announce(failed_job(owner), django_capture_on_commit_callbacks)
    (request,) = receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    body = request["body"].replace(b"failed", b"succeeded", 1)
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(endpoint.secret).verify(body, headers)


def test_a_job_ending_goes_out_through_the_lifecycle(
    owner, endpoint, receiver, django_capture_on_commit_callbacks
):
    job = GenerationFactory(user=owner, state="submitted")
    with django_capture_on_commit_callbacks(execute=True):
        generation_finalize(
            generation_id=job.pk,
            outcome=Outcome("failed", fail_code="X", fail_message="The provider refused."),
        )
    (request,) = receiver.requests
    body = json.loads(request["body"])
    assert body["type"] == "generation.failed" and body["data"]["state"] == "failed"
    assert body["data"]["fail_message"] == "The provider refused."


def test_events_are_sent_once_and_only_those_subscribed(
    owner, receiver, django_capture_on_commit_callbacks
):
    webhook_endpoint_create(user=owner, url=receiver.url, events=["generation.succeeded"])
    job = failed_job(owner)
    assert announce(job, django_capture_on_commit_callbacks) == []  # not subscribed
    wants_failures = webhook_endpoint_create(
        user=owner, url=receiver.url, events=["generation.failed"]
    )
    assert len(announce(job, django_capture_on_commit_callbacks)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        tasks.notify_generation_finished(job.pk)  # a repeated notice
    assert WebhookDelivery.objects.filter(endpoint=wants_failures).count() == 1
    assert len(receiver.requests) == 1
    theirs = GenerationFactory(user=UserFactory(), state="failed")
    assert announce(theirs, django_capture_on_commit_callbacks) == []  # not the owner's


def test_a_500_is_retried_with_backoff_and_the_same_message_id(
    owner, endpoint, receiver, django_capture_on_commit_callbacks
):
    receiver.statuses = [500]
    (delivery_id,) = announce(failed_job(owner), django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    wait = delivery.next_attempt_at - timezone.now()
    assert RETRY_DELAYS[0] * 0.9 <= wait <= RETRY_DELAYS[0] * 1.1
    assert webhook_deliveries_due() == []  # not due yet
    with time_machine.travel(timezone.now() + RETRY_DELAYS[0] * 1.2):
        assert webhook_deliveries_due() == [delivery_id]  # queued and run (sync queue)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("succeeded", 2, 200)
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert len(receiver.requests) == 2 and len(ids) == 1
    endpoint.refresh_from_db()
    assert endpoint.failure_count == 0  # a success clears the streak


def test_a_timeout_is_retried(
    owner, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.delay = 1.0
    (delivery_id,) = announce(failed_job(owner), django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.state == "pending" and "too long" in delivery.last_error
    assert delivery.last_status is None
    receiver.delay = 0
    with time_machine.travel(timezone.now() + RETRY_DELAYS[0] * 1.2):
        webhook_deliveries_due()
    delivery.refresh_from_db()
    assert delivery.state == "succeeded"


def test_a_delivery_is_given_up_after_about_a_day(
    owner, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 1000  # this test is about one delivery
    receiver.statuses = [503] * MAX_ATTEMPTS
    (delivery_id,) = announce(failed_job(owner), django_capture_on_commit_callbacks)
    start = timezone.now()
    elapsed = timedelta()
    for delay in RETRY_DELAYS:
        elapsed += delay * 1.11
        with time_machine.travel(start + elapsed):
            webhook_deliveries_due()
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert (delivery.state, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(receiver.requests) == MAX_ATTEMPTS
    assert timedelta(hours=23) < sum(RETRY_DELAYS, timedelta()) < timedelta(hours=25)


def test_repeated_failures_disable_the_endpoint_and_email_its_owner(
    owner, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 0
    receiver.statuses = [500] * 10
    jobs = [failed_job(owner) for _ in range(4)]
    for job in jobs[:2]:
        announce(job, django_capture_on_commit_callbacks)
    later = timezone.now() + RETRY_DELAYS[0] * 1.2
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        webhook_deliveries_due()  # the third failure in a row
    endpoint.refresh_from_db()
    assert endpoint.is_active is False and "3 failed attempts" in endpoint.disabled_reason
    assert set(WebhookDelivery.objects.values_list("state", flat=True)) == {"failed"}
    (message,) = mail.outbox
    assert message.to == [owner.email] and endpoint.url in message.body
    sent = len(receiver.requests)
    assert announce(jobs[3], django_capture_on_commit_callbacks) == []  # a disabled endpoint
    assert len(receiver.requests) == sent


def test_the_disable_rule_also_wants_a_long_enough_streak(
    owner, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 2
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 24
    receiver.statuses = [500] * 10
    for _ in range(3):
        announce(failed_job(owner), django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failure_count == 3  # a burst, not a day of failures


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/hook",
        "ftp://93.184.215.14/hook",
        "http://user:pass@93.184.215.14/hook",
    ],
)
def test_private_and_bad_targets_are_refused(owner, url):
    with pytest.raises(WebhookTargetRefused):
        webhook_endpoint_create(user=owner, url=url, events=["generation.failed"])
    assert WebhookEndpoint.objects.count() == 0


def test_loopback_is_allowed_only_by_the_setting_and_private_never(owner, settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    webhook_endpoint_create(user=owner, url="http://127.0.0.1:9/hook", events=["generation.failed"])
    with pytest.raises(WebhookTargetRefused):
        webhook_endpoint_create(user=owner, url="http://10.0.0.5/h", events=["generation.failed"])


def test_a_target_is_checked_again_at_every_attempt(
    owner, endpoint, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_LOOPBACK = False  # as if its name now resolved to a local address
    (delivery_id,) = announce(failed_job(owner), django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.state == "pending" and "private or local" in delivery.last_error
    assert receiver.requests == []


def test_a_redirect_is_not_followed(owner, endpoint, receiver, django_capture_on_commit_callbacks):
    receiver.statuses = [307]
    (delivery_id,) = announce(failed_job(owner), django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.state == "pending" and "redirects are not followed" in delivery.last_error


# --- The profile -------------------------------------------------------------------------------


def test_the_profile_adds_an_endpoint_shows_its_secret_once_and_logs_deliveries(
    client, owner, receiver, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    response = client.post(
        reverse("webhook_create"), {"url": receiver.url, "events": ["generation.failed"]}
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()
    announce(failed_job(owner), django_capture_on_commit_callbacks)
    page = client.get(reverse("profile")).content.decode()
    assert endpoint.secret not in page
    assert "generation.failed" in page and "Delivered" in page


def test_the_profile_refuses_a_private_endpoint(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("webhook_create"), {"url": "http://192.168.1.10/h", "events": ["generation.failed"]}
    )
    assert response.status_code == 400
    assert "private or local" in response.context["webhook_form"].errors["url"][0]
    assert WebhookEndpoint.objects.count() == 0


def test_the_profile_turns_a_disabled_endpoint_on_and_deletes_only_ones_own(
    client, owner, endpoint
):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False, failure_count=9)
    other = webhook_endpoint_create(
        user=UserFactory(), url=endpoint.url, events=["generation.failed"]
    )
    client.force_login(owner)
    assert client.post(reverse("webhook_enable", args=[endpoint.pk])).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failure_count == 0
    assert client.post(reverse("webhook_delete", args=[other.pk])).status_code == 404
    assert client.post(reverse("webhook_enable", args=[other.pk])).status_code == 404
    assert client.post(reverse("webhook_delete", args=[endpoint.pk])).status_code == 302
    assert list(WebhookEndpoint.objects.all()) == [other]
