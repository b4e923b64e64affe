"""Browser: a member logs in, prices and submits a text-to-video job, and watches it play."""

import time

import pytest

from generations.models import Generation
from generations.services.dispatch import dispatch_pass
from generations.services.ledger import credits_grant

from .browser import ARTIFACTS, requires_chromium

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def test_member_generates_a_video_that_plays(live_server, browser_page, member, simulator):
    page = browser_page
    credits_grant(user=member, amount=1000, actor=None)
    log_in(page, live_server.url, member.username)
    assert page.text_content("[data-testid=balance]") == "1,000"

    page.click("text=New video")
    page.fill("textarea[name=prompt]", "a lighthouse at dusk, waves rolling in, slow pan")
    page.select_option("select[name=resolution]", "480p")
    page.fill("input[name=duration]", "4")
    page.check("input[name=sound][value=on]")
    page.wait_for_function("document.getElementById('price-credits').textContent.trim() === '80'")
    assert "US$0.080" in page.text_content("#price-usd")
    assert page.text_content("#prompt-count").startswith("48 /")
    page.click("#submit-button")

    page.wait_for_selector("[data-testid=state]")
    assert Generation.objects.count() == 1
    assert page.text_content("[data-testid=held]") == "80"
    assert page.locator("progress").count() == 1  # progress while the job runs

    deadline = time.monotonic() + 60
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
    duration = page.evaluate("document.getElementById('result-video').duration")
    assert 3.5 < duration < 4.5
    page.wait_for_function(
        "document.querySelector('[data-testid=balance]').textContent.trim() === '920'"
    )
    assert page.text_content("[data-testid=held]") == "0"
    page.screenshot(path=str(ARTIFACTS / "text_to_video_detail.png"), full_page=True)

    page.goto(f"{live_server.url}/")
    assert page.locator("video").count() == 1
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "gallery_phone.png"), full_page=True)
