"""The webhook answers within a few seconds whatever the provider does (issue #12 item 14).

The confirming status read inside the request has a short total budget
(``WEBHOOK_STATUS_CONNECT_TIMEOUT`` + ``WEBHOOK_STATUS_READ_TIMEOUT``), far under the 30 s APIXO
gives the receiver (docs/providers/apixo.md "Webhooks"). When the status endpoint stalls, the view
still answers 200 within that budget and hands the job to the queue at once.

The provider here is a real local socket that stalls (``responses`` cannot make time pass).
These are bounds on behaviour (the call is cut off), not speed measurements: the margins are
seconds wide, and the stall is long enough that the old 30 s read timeout could never pass.
"""

import socket
import threading
import time

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generations.models import Generation
from generations.services import callbacks
from generations.services.dispatch import JOB_LEASE
from tests.fake_apixo import callback_body, give_token, settlements

pytestmark = pytest.mark.django_db
State = Generation.State
STALL_S = 8.0  # how long the fake provider stalls; the budget below is 1.5 s


class StallingProvider:
    """A TCP server on 127.0.0.1 that reads each request and then stalls.

    ``mode`` "silent": no answer at all until released; "drip": the status line and headers
    at once, then one body byte every 0.2 s. Every connection is released (closed) after
    ``STALL_S`` or at :meth:`stop`.
    """

    def __init__(self, mode: str):
        self.mode = mode
        self.requests = 0
        self._released = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        self._sock.settimeout(0.2)
        while not self._released.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            conn.recv(65536)
            self.requests += 1
            if self.mode == "drip":
                head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                conn.sendall(head + b"Content-Length: 400\r\n\r\n")
                for _ in range(int(STALL_S / 0.2)):
                    if self._released.wait(0.2):
                        return
                    try:
                        conn.sendall(b" ")
                    except OSError:
                        return
            else:
                self._released.wait(STALL_S)

    def stop(self):
        self._released.set()
        self._thread.join(timeout=2)
        self._sock.close()


@pytest.fixture(params=["silent", "drip"])
def stalling(request, settings):
    provider = StallingProvider(request.param)
    settings.APIXO_BASE_URL = f"http://127.0.0.1:{provider.port}/api/v1"
    settings.APIXO_API_KEY = "test-key"
    settings.WEBHOOK_STATUS_CONNECT_TIMEOUT = 0.5
    settings.WEBHOOK_STATUS_READ_TIMEOUT = 1.0
    yield provider
    provider.stop()


def test_a_stalled_status_read_is_cut_off_and_the_job_is_polled_at_once(
    stalling, make_job, monkeypatch, django_capture_on_commit_callbacks
):
    generation = make_job(state=State.SUBMITTED, provider_task_id="task_1")
    token = give_token(generation)
    queued = []
    monkeypatch.setattr(callbacks, "enqueue", lambda task, *args, **kw: queued.append((task, args)))
    url = reverse("generation_webhook", kwargs={"generation_id": generation.pk, "token": token})

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            url, data=callback_body("task_1", "success"), content_type="application/json"
        )
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert stalling.requests == 1
    assert elapsed < 3.0, f"the webhook took {elapsed:.1f} s with a 1.5 s budget"
    generation.refresh_from_db()
    assert generation.state == State.SUBMITTED
    assert settlements(generation) == ["hold"]
    assert queued == [("poll_generations", ([generation.pk],))]
    assert generation.next_action_at <= timezone.now() + JOB_LEASE


def test_the_budget_settings_default_to_two_plus_three_seconds():
    """The documented defaults (README "Configuration"); their sum stays far under 30 s."""
    from django.conf import settings

    assert settings.WEBHOOK_STATUS_CONNECT_TIMEOUT == 2.0
    assert settings.WEBHOOK_STATUS_READ_TIMEOUT == 3.0
