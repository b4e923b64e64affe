"""Browser: image-to-video with an uploaded PNG start frame and JPEG end frame, then Extend
from the finished video's page; both end with a playing video."""

import pytest

from generations.models import Generation
from generations.services.ledger import credits_grant

from ..media import image_bytes
from .browser import ARTIFACTS, log_in, requires_chromium, wait_for_playing_video

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_frames_then_extend(live_server, browser_page, member, simulator, settings, tmp_path):
    settings.PUBLIC_BASE_URL = live_server.url
    page = browser_page
    credits_grant(user=member, amount=1000, actor=None)
    start, end = tmp_path / "start.png", tmp_path / "end.jpg"
    start.write_bytes(image_bytes("PNG", size=(320, 180), color=(20, 120, 200)))
    end.write_bytes(image_bytes("JPEG", size=(320, 180), color=(220, 180, 40)))
    log_in(page, live_server.url, member.username)

    page.click("text=New video")
    page.fill("textarea[name=prompt]", "the sky turns from blue to golden")
    page.click("[role=tab][data-mode=image-to-video]")  # the typed prompt is kept
    assert page.input_value("textarea[name=prompt]") == "the sky turns from blue to golden"
    # 1080p image-to-video is aivideoapi.ai's only: choosing it leaves APIXO unavailable.
    page.select_option("select[name=resolution]", "1080p")
    assert page.is_disabled("input[name=provider][value=apixo]")
    assert page.is_checked("input[name=provider][value=aivideoapi]")
    page.set_input_files("input[name=start_image]", str(start))
    page.set_input_files("input[name=end_image]", str(end))
    page.wait_for_function(
        "[...document.querySelectorAll('img[data-preview-for]')].every(i => i.naturalWidth > 0)"
    )
    page.select_option("select[name=resolution]", "480p")
    page.check("input[name=provider][value=apixo]")
    page.fill("input[name=duration]", "4")
    page.wait_for_function("document.getElementById('price-credits').textContent.trim() === '40'")
    page.screenshot(path=str(ARTIFACTS / "image_to_video_form.png"), full_page=True)
    page.click("#submit-button")
    page.wait_for_selector("[data-testid=state]")
    frames = Generation.objects.get()
    assert frames.mode == "image-to-video"
    assert [i.content_type for i in frames.inputs.order_by("position")] == [
        "image/png",
        "image/jpeg",
    ]
    assert page.locator(".inputs img.thumb").count() == 2
    assert 3.5 < wait_for_playing_video(page) < 4.5

    page.click("#extend-button")
    page.wait_for_selector("#source-preview")
    assert page.get_attribute("[role=tab][aria-selected=true]", "data-mode") == "video-extend"
    # docs/providers/apixo.md "Parameters": camera_fixed defaults to true
    assert page.is_checked("input[name=camera_fixed]")
    assert not page.locator("select[name=aspect_ratio]").is_visible()
    page.fill("textarea[name=prompt]", "the sun sets and the stars come out")
    page.select_option("select[name=resolution]", "480p")
    page.fill("input[name=duration]", "4")
    page.wait_for_function("document.getElementById('price-credits').textContent.trim() === '48'")
    page.click("#submit-button")
    page.wait_for_selector("[data-testid=state]")
    extension = Generation.objects.exclude(pk=frames.pk).get()
    assert extension.source_generation_id == frames.pk
    assert 7.5 < wait_for_playing_video(page) < 8.5  # the 4 s source plus 4 s
    assert page.locator("#chain").inner_text().startswith(f"Extends #{frames.pk}")
    page.screenshot(path=str(ARTIFACTS / "video_extend_detail.png"), full_page=True)
    page.wait_for_function(
        "document.querySelector('[data-testid=balance]').textContent.trim() === '912'"
    )
