"""Fixtures for the accessibility checks: a portal with something on every page, and Chromium."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from generations.models import Generation, GenerationInput, ProviderAlert
from generations.models.users import MANAGERS_GROUP
from generations.services.ledger import credits_grant
from generations.services.team import invitation_create
from tests.e2e.browser import CHROMIUM, CHROMIUM_ARGS, playwright_session
from tests.factories import GenerationFactory, ManagerFactory, UserFactory

AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"


@dataclass
class World:
    """What the pages are about: who signs in and which jobs they show."""

    finished: Generation
    failed: Generation
    invitation_path: str
    extension: Generation | None = None


@pytest.fixture
def world(settings, live_server, monkeypatch, tmp_path) -> World:
    """Members with and without jobs, a manager, a superuser, an alert and an invitation.

    Users (password "correct horse battery"): ``ana`` (jobs in every state), ``newbie`` (no
    jobs), ``boss`` (manager), ``root`` (superuser). The finished job has a real, playable
    MP4, so the pages show the video player as they do in use.
    """
    from generations import providers
    from generations.simulator.video import render

    class Provider:
        """Both providers' balance, low enough for the team spend page's warning."""

        def account_balance(self):
            return Decimal("12.34")

        def account_credits(self):
            return 2468

    monkeypatch.setattr(providers, "get_provider", lambda name="apixo": Provider())
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_BASE_URL = live_server.url

    boss = ManagerFactory(username="boss", first_name="Bo", last_name="Boss")
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    root.groups.add(Group.objects.get(name=MANAGERS_GROUP))
    ana = UserFactory(username="ana")
    UserFactory(username="newbie")
    credits_grant(user=ana, amount=20_000, actor=boss, memo="monthly budget")

    video = Path(settings.MEDIA_ROOT) / "results" / "a11y.mp4"
    video.parent.mkdir(parents=True)
    render(video, width=256, height=144, duration_s=1, sound=False)
    finished = GenerationFactory(
        user=ana,
        state="succeeded",
        result_state="stored",
        result_file="results/a11y.mp4",
        prompt="a lighthouse at dusk, waves rolling in",
        finished_at=timezone.now(),
        shared_at=timezone.now(),  # in the team library (issue #15 item 9)
    )
    failed = GenerationFactory(
        user=ana,
        state="failed",
        fail_code="content_policy",
        fail_message="The provider refused the prompt.",
        finished_at=timezone.now(),
    )
    GenerationFactory(user=ana, state="queued", prompt="a fox running through snow")
    # Two variations of one submission (issue #15 item 7): the gallery's group badges.
    group = uuid.uuid4()
    for index in (1, 2):
        GenerationFactory(
            user=ana,
            prompt="a paper boat on a rainy street",
            variation_group=group,
            variation_index=index,
            variation_count=2,
        )
    # An extension of the finished job: "Generate again" shows the clip it extends (item 8).
    extension = GenerationFactory(
        user=ana,
        mode="video-extend",
        model_id="seedance-1-5-pro-extend",
        source_generation=finished,
        state="failed",
        finished_at=timezone.now(),
    )
    GenerationInput.objects.create(
        generation=extension, kind="video", file="results/a11y.mp4", original_name="a11y.mp4"
    )
    GenerationFactory(user=ana, state="expired", mode="image-to-video")
    GenerationFactory(user=boss, state="succeeded", result_state="stored", resolution="720p")
    ProviderAlert.objects.create(
        provider="apixo", kind="http_402", message="The APIXO account is out of credit."
    )
    sent = invitation_create(email="new@example.com", actor=boss, base_url=live_server.url)
    # Changed a minute ago, not just now: a live page's second poll would otherwise list them
    # as changes (UPDATES_OVERLAP) and refresh their cards while a test walks the page. Tests
    # that change a job set updated_at themselves.
    Generation.objects.update(updated_at=timezone.now() - timedelta(minutes=1))
    return World(
        finished=finished,
        failed=failed,
        extension=extension,
        invitation_path=sent.url.removeprefix(live_server.url.rstrip("/")),
    )


@pytest.fixture
def chromium():
    """Yield a headless Debian Chromium (Playwright); contexts are the test's to open."""
    with playwright_session() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
