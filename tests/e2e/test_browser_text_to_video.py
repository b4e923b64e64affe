"""Browser: a member logs in, prices and submits a text-to-video job, and watches it play."""

import pytest

from generations.models import Generation
from generations.services.ledger import credits_grant

from .browser import ARTIFACTS, log_in, requires_chromium, wait_for_playing_video

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
    assert "US$0.08" in page.text_content("#price-usd")
    assert page.text_content("#prompt-count").startswith("48 /")
    page.click("#submit-button")

    page.wait_for_selector("[data-testid=state]")
    assert Generation.objects.count() == 1
    assert page.text_content("[data-testid=held]") == "80"
    assert page.locator("progress").count() == 1  # progress while the job runs

    duration = wait_for_playing_video(page)
    assert 3.5 < duration < 4.5
    page.wait_for_function(
        "document.querySelector('[data-testid=balance]').textContent.trim() === '920'"
    )
    assert page.text_content("[data-testid=held]") == "0"
    page.screenshot(path=str(ARTIFACTS / "text_to_video_detail.png"), full_page=True)

    page.goto(f"{live_server.url}/")
    assert page.locator("#gallery video").count() == 1
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "gallery_phone.png"), full_page=True)
