"""Issue #16 "Done when": a script holding only a token creates a job in each mode, waits for
it, downloads the video and reads its statement; and a webhook receiver verifies the events.

The script is the README's own Python example, run as written against a live portal and the
simulator (only its addresses, its token and its poll interval are swapped in; while it waits,
the dispatcher runs a pass, as the worker cluster would). The webhook check is the README's
``verify`` function, fed by a real endpoint.
"""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from generations.models import Generation
from generations.selectors.ledger import ledger_mismatches
from generations.services.api_tokens import api_token_create
from generations.services.dispatch import dispatch_pass
from generations.services.ledger import credits_grant
from generations.services.webhooks import webhook_endpoint_create

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(django_settings.BASE_DIR) / "README.md"


def readme_python_blocks() -> list[str]:
    """Return the README's ```python blocks in the "API" section, in order."""
    text = README.read_text()
    section = text[text.index("## API\n") : text.index("## Running the team\n")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


class _Receiver:
    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_the_readme_script_creates_waits_downloads_and_reads_its_statement(
    member, simulator, portal, settings, tmp_path, monkeypatch
):
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    credits_grant(user=member, amount=5000, actor=None)
    token = api_token_create(user=member, name="readme").secret
    receiver = _Receiver()
    endpoint = webhook_endpoint_create(
        user=member, url=receiver.url, events=["generation.succeeded", "generation.failed"]
    )
    script, verifier = readme_python_blocks()
    script = (
        script.replace("http://127.0.0.1:8000", portal.url)
        .replace("http://127.0.0.1:8765", simulator.base_url)
        .replace("sds_...", token)
        .replace("time.sleep(5)", "_tick()")
    )

    def tick():
        dispatch_pass(interval_seconds=0.1)
        import time

        time.sleep(0.1)

    monkeypatch.chdir(tmp_path)
    namespace = {"_tick": tick}
    try:
        exec(compile(script, "README.md", "exec"), namespace)
    finally:
        # The script's keep-alive connection holds a server thread (and its database
        # connection) open until it is closed.
        if "api" in namespace:
            namespace["api"].close()

    jobs = [namespace[name] for name in ("boat", "lantern", "longer")]
    assert [job["mode"] for job in jobs] == ["text-to-video", "image-to-video", "video-extend"]
    assert [job["state"] for job in jobs] == ["succeeded"] * 3, [j["fail_message"] for j in jobs]
    for job in jobs:
        video = (tmp_path / f"seedance-{job['id']}.mp4").read_bytes()
        assert video[4:8] == b"ftyp" and len(video) > 1000
    assert Generation.objects.get(pk=jobs[2]["id"]).source_generation_id == jobs[0]["id"]
    kinds = [entry["kind"] for entry in namespace["statement"]]
    assert kinds.count("capture") == 3 and kinds.count("hold") == 3
    assert ledger_mismatches() == []

    # The webhooks went out (the dispatcher's passes ran the queued notices) and the README's
    # verify() accepts each of them, and refuses a tampered one.
    verify_namespace: dict = {}
    exec(compile(verifier, "README.md", "exec"), verify_namespace)
    verify = verify_namespace["verify"]
    assert len(receiver.requests) == 3
    for headers, body in receiver.requests:
        assert verify(endpoint.secret, headers, body)
    headers, body = receiver.requests[0]
    assert not verify(endpoint.secret, headers, body.replace(b"succeeded", b"failed"))
    receiver.server.shutdown()
