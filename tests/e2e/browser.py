"""Playwright with Debian's Chromium (a test tool's own browser download cannot work here)."""

import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
# Flags the machine needs: no sandbox as root, and no background calls to the closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]

requires_chromium = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="needs Debian's chromium (apt-get install chromium)"
)


@contextmanager
def playwright_session():
    """Start Playwright's sync API; close the Django connections made while it ran.

    Playwright runs an asyncio event loop in this thread, and while it runs Django keeps the
    thread's database connections in a context variable (asgiref's ``Local``), apart from the
    thread's ordinary ones. Those connections are closed here, inside the loop's context:
    left open, one of them kept PostgreSQL from dropping the test database at the end of
    the run (issue #18 item 3). ORM calls between browser steps stay synchronous and safe
    (``DJANGO_ALLOW_ASYNC_UNSAFE``).
    """
    from django.db import connections
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            try:
                yield playwright
            finally:
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def log_in(page, base_url: str, username: str) -> None:
    """Sign in through the login page (test users' password is "correct horse battery")."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def wait_for_playing_video(page) -> float:
    """Drive the dispatcher until the detail page shows the video, play it, return its length."""
    from generations.services.dispatch import dispatch_pass

    deadline = time.monotonic() + 90
    while page.locator("#result-video").count() == 0:
        assert time.monotonic() < deadline, "the video never appeared"
        dispatch_pass(interval_seconds=0.2)
        page.wait_for_timeout(300)
    page.wait_for_function(
        "(() => { const v = document.getElementById('result-video');"
        " return v.readyState >= 2 && v.duration > 0; })()"
    )
    page.evaluate("document.getElementById('result-video').muted = true")
    page.evaluate("document.getElementById('result-video').play()")
    page.wait_for_function("document.getElementById('result-video').currentTime > 0.3")
    return page.evaluate("document.getElementById('result-video').duration")


def stored_videos(user, tmp_path: Path, *, prompt: str, count: int = 3) -> list:
    """Make ``count`` succeeded jobs of ``user`` with a stored clip and a poster, newest first.

    The clip is a real 2 s MP4 from the simulator's renderer, so posters and previews decode.
    The caller points ``MEDIA_ROOT`` at a temporary directory first.
    """
    from django.core.files.base import ContentFile

    from generations.services.posters import generation_poster_make
    from generations.simulator.video import render
    from tests.factories import GenerationFactory

    clip = tmp_path / "clip.mp4"
    render(clip, width=256, height=144, duration_s=2, sound=False)
    made = []
    for n in range(count):
        generation = GenerationFactory(
            user=user, state="succeeded", result_state="stored", prompt=f"{prompt}, take {n}"
        )
        generation.result_file.save(
            f"generation-{generation.pk}.mp4", ContentFile(clip.read_bytes())
        )
        assert generation_poster_make(generation_id=generation.pk)
        made.append(generation)
    return list(reversed(made))


def open_gallery(browser, live_server, **options):
    """Open a 1366x900 context signed in as ``ana`` and return its page."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, **options)
    context.set_default_timeout(20_000)
    page = context.new_page()
    log_in(page, live_server.url, "ana")
    return page
