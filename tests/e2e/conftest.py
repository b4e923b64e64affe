"""Fixtures for end-to-end tests: a live simulator and a way to drive the dispatcher."""

import time

import pytest
from django.utils import timezone

from generations.models import Generation
from generations.services.dispatch import dispatch_pass
from generations.simulator.config import AivideoapiConfig, SimulatorConfig
from generations.simulator.server import start_in_thread

from .browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, playwright_session


@pytest.fixture
def simulator(settings, tmp_path):
    """Run the simulator (APIXO and aivideoapi.ai) on a free port; point both clients at it."""
    config = SimulatorConfig(
        time_scale=0.01, allow_http_callbacks=True, media_dir=str(tmp_path / "sim-media"), seed=7
    )
    aivideoapi = AivideoapiConfig(
        time_scale=0.01, allow_http_callbacks=True, media_dir=str(tmp_path / "sim-media"), seed=7
    )
    server, _ = start_in_thread(config, aivideoapi_config=aivideoapi)
    settings.APIXO_BASE_URL = server.api_base_url
    settings.APIXO_API_KEY = config.api_key
    settings.AIVIDEOAPI_BASE_URL = server.aivideoapi_base_url
    settings.AIVIDEOAPI_API_KEY = aivideoapi.api_key
    settings.MEDIA_ROOT = str(tmp_path / "media")
    yield server
    server.stop()


@pytest.fixture
def portal(settings, live_server):
    """Serve the portal so the simulator can fetch public input URLs from it."""
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server


def drive_until_settled(
    generation: Generation, *, timeout: float = 30.0, skip_backoff: bool = False
) -> Generation:
    """Run dispatcher passes (as the scheduled loop does) until the job is final and stored.

    ``skip_backoff``: a job waiting out a submit backoff (``queued``, due later) is made
    due at once, so every retry runs without its real wait.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if skip_backoff:
            Generation.objects.filter(pk=generation.pk, state=Generation.State.QUEUED).update(
                next_action_at=timezone.now()
            )
        dispatch_pass(interval_seconds=0.1)
        generation.refresh_from_db()
        if generation.is_final and generation.result_state != Generation.ResultState.PENDING:
            return generation
        time.sleep(0.1)
    raise AssertionError(f"generation {generation.pk} still {generation.state} after {timeout} s")


@pytest.fixture
def browser_page():
    """Yield a Playwright page in headless Debian Chromium."""
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_session() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()
