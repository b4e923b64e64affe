"""Browser: the gallery's posters, hover and focus previews, and lightbox (issue #15 item 1).

Real MP4s from the simulator's renderer and posters made by the service, in Debian
Chromium; every wait is for a condition in the page, never a fixed time.
"""

import pytest

from tests.factories import GenerationFactory, UserFactory

from .browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    open_gallery,
    playwright_session,
    requires_chromium,
    stored_videos,
)

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def videos(settings, tmp_path):
    """``ana``'s three stored videos with posters (newest first) and one failed job."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    ana = UserFactory(username="ana")
    GenerationFactory(user=ana, state="failed", fail_message="The provider refused the prompt.")
    return stored_videos(ana, tmp_path, prompt="a red kite")


@pytest.fixture
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_session() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def card(page, generation):
    return page.locator(f"#generation-{generation.pk}")


def is_playing(page, generation) -> str:
    return f"!document.querySelector('#generation-{generation.pk} video').paused"


def test_cards_show_posters_and_preview_on_hover_and_focus(live_server, browser, videos):
    page = open_gallery(browser, live_server)
    first, second = videos[0], videos[1]
    for generation in videos:
        poster = card(page, generation).locator("video").get_attribute("poster")
        assert poster == f"/g/{generation.pk}/poster/"
        assert card(page, generation).locator("video").get_attribute("preload") == "none"
        answer = page.request.get(live_server.url + poster)
        assert answer.status == 200 and answer.headers["content-type"] == "image/webp"
    page.screenshot(path=str(ARTIFACTS / "gallery.png"), full_page=True)

    card(page, first).locator("video").hover()
    page.wait_for_function(is_playing(page, first))
    assert page.evaluate(f"document.querySelector('#generation-{first.pk} video').muted")
    page.mouse.move(1, 1)
    page.wait_for_function(f"!({is_playing(page, first)})")

    card(page, second).get_by_role("link", name=f"Open video #{second.pk}").focus()
    page.wait_for_function(is_playing(page, second))
    page.locator("input[type=search]").focus()
    page.wait_for_function(f"!({is_playing(page, second)})")
    page.context.close()


def test_the_lightbox_moves_with_the_arrow_keys_and_closes_with_escape(
    live_server, browser, videos
):
    page = open_gallery(browser, live_server)
    opener = card(page, videos[0]).get_by_role("link", name=f"Open video #{videos[0].pk}")
    opener.click()
    dialog = page.locator("#lightbox")
    page.wait_for_function("document.getElementById('lightbox').open")
    src = "document.querySelector('#lightbox video').getAttribute('src')"
    assert page.evaluate(src) == f"/g/{videos[0].pk}/video/"
    assert dialog.get_by_role("link", name="Download").get_attribute("href") == (
        f"/g/{videos[0].pk}/video/?download=1"
    )
    page.wait_for_function("document.querySelector('#lightbox video').readyState >= 2")
    page.screenshot(path=str(ARTIFACTS / "lightbox.png"))

    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"{src} === '/g/{videos[1].pk}/video/'")
    assert dialog.get_by_role("heading").text_content().startswith(f"#{videos[1].pk}:")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"{src} === '/g/{videos[2].pk}/video/'")
    assert dialog.get_by_role("button", name="Next").is_disabled()
    page.keyboard.press("ArrowRight")  # the last one: stays
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"{src} === '/g/{videos[1].pk}/video/'")

    page.keyboard.press("Escape")
    page.wait_for_function("!document.getElementById('lightbox').open")
    # Focus is on the card last shown.
    page.wait_for_function(
        f"document.activeElement.closest('article')?.id === 'generation-{videos[1].pk}'"
    )
    page.context.close()


def test_without_javascript_the_poster_opens_the_detail_page_to_play_and_download(
    live_server, browser, videos
):
    page = open_gallery(browser, live_server, java_script_enabled=False)
    first = card(page, videos[0])
    assert first.get_by_role("link", name="Details").get_attribute("href") == f"/g/{videos[0].pk}/"
    poster = first.get_by_role("link", name=f"Open video #{videos[0].pk}")
    assert poster.get_attribute("href") == f"/g/{videos[0].pk}/"
    with page.expect_navigation():
        poster.click()
    assert page.url == f"{live_server.url}/g/{videos[0].pk}/"
    assert page.locator("#result-video[controls]").count() == 1
    download = page.get_by_role("button", name="Download").or_(
        page.get_by_role("link", name="Download")
    )
    assert download.get_attribute("href") == f"/g/{videos[0].pk}/video/?download=1"
    page.context.close()


def test_card_actions_copy_the_prompt_and_toggle_the_favourite_in_place(
    live_server, browser, videos
):
    page = open_gallery(browser, live_server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    first = card(page, videos[0])
    first.get_by_role("button", name="Copy prompt").click()
    page.wait_for_function(
        "document.getElementById('live-announcer').textContent === 'Prompt copied.'"
    )
    assert page.evaluate("navigator.clipboard.readText()") == "a red kite, take 2"

    star = first.get_by_role("button", name="Favourite")
    assert star.get_attribute("aria-pressed") == "false"
    url = page.url
    star.click()
    page.wait_for_function(
        f"document.querySelector('#generation-{videos[0].pk} [aria-pressed]')"
        ".getAttribute('aria-pressed') === 'true'"
    )
    assert page.url == url  # no page load
    videos[0].refresh_from_db()
    assert videos[0].favourite
    star.click()
    page.wait_for_function(
        f"document.querySelector('#generation-{videos[0].pk} [aria-pressed]')"
        ".getAttribute('aria-pressed') === 'false'"
    )
    videos[0].refresh_from_db()
    assert not videos[0].favourite
    page.context.close()


def test_a_running_card_counts_its_time_and_the_title_its_jobs(live_server, browser, videos):
    from datetime import timedelta

    from django.utils import timezone

    running = GenerationFactory(
        user=videos[0].user, state="submitted", created_at=timezone.now() - timedelta(seconds=75)
    )
    page = open_gallery(browser, live_server)
    page.wait_for_function("document.title === '(1 running) My videos · Seedance Studio'")
    elapsed = f"#generation-{running.pk} [data-elapsed-since]"
    page.wait_for_function(
        f"/^1 min \\d\\d s$/.test(document.querySelector('{elapsed}').textContent)"
    )
    page.context.close()
