"""Browser: the gallery's toolbar and the team library (issue #15 items 3 and 9).

Chips change the URL and the cards, pagination keeps the filters, the toolbar works without
JavaScript and stays inside a phone's width; another member's shared video opens in the
library's lightbox. Every wait is for a condition in the page, never a fixed time.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from generations.simulator.video import render
from tests.factories import GenerationFactory, UserFactory

from .browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    log_in,
    playwright_session,
    requires_chromium,
)

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def jobs(db):
    """``ana``: 28 failed 480p jobs, 3 succeeded 720p ones; ``bob``: nothing."""
    ana = UserFactory(username="ana")
    UserFactory(username="bob")
    for n in range(28):
        GenerationFactory(user=ana, state="failed", prompt=f"a failed scene {n}")
    for n in range(3):
        GenerationFactory(user=ana, state="succeeded", resolution="720p", prompt=f"a kite {n}")
    return ana


@pytest.fixture
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_session() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def signed_in(browser, live_server, username="ana", width=1366, **options):
    context = browser.new_context(viewport={"width": width, "height": 900}, **options)
    context.set_default_timeout(20_000)
    page = context.new_page()
    log_in(page, live_server.url, username)
    return page


def params(page) -> dict:
    return parse_qs(urlsplit(page.url).query)


def states_shown(page) -> set[str]:
    return set(
        page.eval_on_selector_all("#gallery article", "els => els.map(e => e.dataset.state)")
    )


def assert_one_row(page) -> None:
    """At a laptop's width every control of the toolbar is on one row (tops within 8 px)."""
    tops = page.eval_on_selector_all(
        ".toolbar-row > :not([hidden]):not(.visually-hidden)",
        "els => els.map(e => e.getBoundingClientRect().top)",
    )
    assert max(tops) - min(tops) < 8, tops


def test_chips_change_the_url_and_the_cards_and_pagination_keeps_them(live_server, browser, jobs):
    page = signed_in(browser, live_server)
    toolbar = page.get_by_role("search", name="Filter videos")
    assert_one_row(page)
    assert not toolbar.get_by_role("button", name="Apply").is_visible()  # JavaScript sends it
    assert page.locator("#gallery article").count() == 24

    toolbar.locator("summary", has_text="State").click()
    with page.expect_navigation():
        toolbar.get_by_label("Failed").check()
    assert params(page) == {"state": ["failed"]}
    assert states_shown(page) == {"failed"}
    assert "Failed" in toolbar.locator("summary", has_text="State").text_content()
    assert_one_row(page)  # with a choice named in its summary too
    assert toolbar.get_by_label("Failed").is_checked()
    assert "28 generations matching these filters" in page.locator("hgroup").text_content()
    page.screenshot(path=str(ARTIFACTS / "gallery-filters.png"))

    with page.expect_navigation():
        toolbar.get_by_label("Sort").select_option("oldest")
    assert params(page) == {"state": ["failed"], "sort": ["oldest"]}
    with page.expect_navigation():
        page.get_by_role("link", name="Older").click()
    assert params(page) == {"state": ["failed"], "sort": ["oldest"], "page": ["2"]}
    assert page.locator("#gallery article").count() == 4
    assert states_shown(page) == {"failed"}
    assert page.get_by_label("Failed").is_checked()

    # A second group narrows further; nothing left: the empty state clears the filters.
    page.locator("summary", has_text="Resolution").click()
    with page.expect_navigation():
        page.get_by_label("720p").check()
    assert params(page)["resolution"] == ["720p"] and "page" not in params(page)
    assert page.get_by_text("No video matches these filters").is_visible()
    with page.expect_navigation():
        page.get_by_role("link", name="Clear filters").click()
    assert params(page) == {}
    assert page.locator("#gallery article").count() == 24
    page.context.close()


def test_without_javascript_apply_sends_the_chips_from_the_keyboard(live_server, browser, jobs):
    page = signed_in(browser, live_server, java_script_enabled=False)
    toolbar = page.get_by_role("search", name="Filter videos")
    toolbar.locator("summary", has_text="State").focus()
    page.keyboard.press("Enter")  # opens the dropdown
    page.keyboard.press("Tab")  # In progress
    page.keyboard.press("Tab")  # Succeeded
    assert page.evaluate("document.activeElement.value") == "succeeded"
    page.keyboard.press("Space")
    assert page.url.rstrip("/") == live_server.url  # no auto-submit without the script
    apply = toolbar.get_by_role("button", name="Apply")
    assert apply.is_visible()
    with page.expect_navigation():
        apply.click()
    assert params(page) == {"state": ["succeeded"], "sort": ["newest"]}  # the plain form's URL
    assert page.locator("#gallery article").count() == 3
    page.context.close()


def test_the_toolbar_fits_a_phone_and_its_chips_are_24_px_targets(live_server, browser, jobs):
    page = signed_in(browser, live_server, width=390)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    toolbar = page.locator("form.gallery-toolbar")
    assert toolbar.bounding_box()["width"] <= 390
    page.locator("summary", has_text="Mode").click()
    heights = page.eval_on_selector_all(
        ".gallery-toolbar summary, .gallery-toolbar .chip:not(details:not([open]) .chip)",
        "els => els.map(e => e.getBoundingClientRect().height)",
    )
    assert len(heights) >= 9 and min(heights) >= 24
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # open, too
    page.screenshot(path=str(ARTIFACTS / "gallery-filters-phone.png"), full_page=True)
    page.context.close()


def test_another_members_shared_video_plays_in_the_library(
    live_server, browser, jobs, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    clip = tmp_path / "clip.mp4"
    render(clip, width=256, height=144, duration_s=1, sound=False)
    shared = GenerationFactory(
        user=jobs,
        state="succeeded",
        result_state="stored",
        prompt="a lighthouse at dusk",
        shared_at=timezone.now(),
    )
    shared.result_file.save(f"generation-{shared.pk}.mp4", ContentFile(clip.read_bytes()))
    page = signed_in(browser, live_server, username="bob")
    page.get_by_role("link", name="Team library").first.click()
    page.wait_for_url(f"{live_server.url}/library/")
    card = page.locator(f"#generation-{shared.pk}")
    assert "Shared by ana" in card.text_content()
    assert card.get_by_role("link", name="Extend").get_attribute("href") == (
        f"/new/?extend={shared.pk}"
    )
    page.screenshot(path=str(ARTIFACTS / "team-library.png"), full_page=True)
    card.get_by_role("link", name=f"Open video #{shared.pk}").click()
    page.wait_for_function("document.getElementById('lightbox').open")
    page.wait_for_function("document.querySelector('#lightbox video').readyState >= 2")
    assert not page.locator("[data-lightbox-detail]").is_visible()  # ana's page stays hers
    page.context.close()
