"""Browser: a member picks aivideoapi.ai at 1080p, sees each price, and the video plays."""

import pytest

from generations.models import Generation
from generations.services.ledger import credits_grant

from .browser import ARTIFACTS, log_in, requires_chromium, wait_for_playing_video

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_member_chooses_aivideoapi_at_1080p_and_gets_a_playing_video(
    live_server, browser_page, member, simulator
):
    page = browser_page
    credits_grant(user=member, amount=1000, actor=None)
    log_in(page, live_server.url, member.username)
    page.click("text=New video")
    page.fill("textarea[name=prompt]", "a paper lantern rising over a night market, slow tilt up")
    page.fill("input[name=duration]", "4")
    page.check("input[name=sound][value=off]")

    # At 720p both providers are offered, each with its price (20/s and 35/s silent).
    page.select_option("select[name=resolution]", "720p")
    page.wait_for_function(
        "document.querySelector('[data-price-for=aivideoapi]').textContent.includes('140')"
    )
    assert "80 credits" in page.text_content("[data-price-for=apixo]")
    assert page.is_checked("input[name=provider][value=apixo]")  # the operator's default

    # 1080p is aivideoapi.ai's only: APIXO is disabled and the choice moves over.
    page.select_option("select[name=resolution]", "1080p")
    page.wait_for_function("document.getElementById('price-credits').textContent.trim() === '300'")
    assert page.is_disabled("input[name=provider][value=apixo]")
    assert page.is_checked("input[name=provider][value=aivideoapi]")
    assert "US$0.30" in page.text_content("#price-usd")
    page.screenshot(path=str(ARTIFACTS / "provider_choice.png"), full_page=True)
    page.click("#submit-button")

    page.wait_for_selector("[data-testid=state]")
    generation = Generation.objects.get()
    assert (generation.provider, generation.resolution) == ("aivideoapi", "1080p")
    assert page.text_content("[data-testid=held]") == "300"
    duration = wait_for_playing_video(page)
    assert 3.5 < duration < 4.5
    page.wait_for_function(
        "document.querySelector('[data-testid=balance]').textContent.trim() === '700'"
    )
    assert "aivideoapi.ai" in page.text_content("main")

    # Extend is APIXO's only: on that tab aivideoapi.ai is not offered at all.
    page.goto(f"{live_server.url}/new/?mode=video-extend")
    assert page.is_hidden("label[data-provider=aivideoapi]")
    assert page.is_checked("input[name=provider][value=apixo]")
