"""Browser: frames by drop and paste, Ctrl+Enter, and variations (issue #15 items 7 and 8).

A synthetic ``drop`` (DragEvent) and ``paste`` (ClipboardEvent) carrying a DataTransfer with a
File put the image into the slot's own file input, with a preview, and the form submits it as
if chosen; Ctrl+Enter in the prompt submits the form; "3 variations" shows the total in the
price box and makes three jobs that the gallery shows as one group.
"""

import base64

import pytest

from generations.models import CreditEntry, Generation
from generations.services.ledger import credits_grant

from ..media import image_bytes
from .browser import ARTIFACTS, log_in, requires_chromium

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Build a File from base64 bytes and hand it to the slot as a drop or a paste.
HAND_OVER = """([selector, how, b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  const target = document.querySelector(selector);
  const init = { bubbles: true, cancelable: true };
  if (how === 'drop') {
    target.dispatchEvent(new DragEvent('dragenter', { ...init, dataTransfer: transfer }));
    const over = target.closest('.frame-slot').classList.contains('drop-over');
    target.dispatchEvent(new DragEvent('drop', { ...init, dataTransfer: transfer }));
    return over;
  }
  target.focus();
  return target.dispatchEvent(new ClipboardEvent('paste', { ...init, clipboardData: transfer }));
}"""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_drop_and_paste_frames_then_ctrl_enter_submits(
    live_server, browser_page, member, simulator, settings
):
    settings.PUBLIC_BASE_URL = live_server.url  # uploads need a public address
    page = browser_page
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    credits_grant(user=member, amount=1000, actor=None)
    log_in(page, live_server.url, member.username)
    page.goto(f"{live_server.url}/new/?mode=image-to-video")
    start_slot = ".frame-slot[data-drop-for=id_start_image]"
    # The drop zones are visible; their buttons take the keyboard focus for a paste.
    assert "drop-zone" in page.get_attribute(start_slot, "class")
    assert page.is_visible("#id_start_image_drop")
    page.focus("#id_end_image_drop")
    assert page.evaluate("document.activeElement.id") == "id_end_image_drop"

    png = image_bytes("PNG", size=(320, 180), color=(20, 120, 200))
    was_over = page.evaluate(HAND_OVER, [start_slot, "drop", b64(png), "start.png", "image/png"])
    assert was_over is True  # the drop zone says so while an image is over it
    assert "drop-over" not in page.get_attribute(start_slot, "class")
    jpeg = image_bytes("JPEG", size=(320, 180), color=(220, 180, 40))
    paste_target = "#id_end_image_drop"
    page.evaluate(HAND_OVER, [paste_target, "paste", b64(jpeg), "image.jpg", "image/jpeg"])
    assert page.evaluate("document.getElementById('id_start_image').files[0].name") == "start.png"
    assert page.evaluate("document.getElementById('id_end_image').files[0].name") == "image.jpg"
    page.wait_for_function(
        "[...document.querySelectorAll('img[data-preview-for]')].every(i => i.naturalWidth > 0)"
    )
    assert "image.jpg" in page.text_content("#id_end_image_dropstatus")
    # A pasted file that is not an image is refused with a reason; the frame stays.
    page.evaluate(HAND_OVER, [paste_target, "paste", b64(b"hello"), "notes.txt", "text/plain"])
    assert "Only a JPG, PNG or WebP" in page.text_content("#id_end_image_dropstatus")
    assert page.evaluate("document.getElementById('id_end_image').files[0].name") == "image.jpg"

    page.fill("textarea[name=prompt]", "the sky turns from blue to golden")
    page.select_option("select[name=resolution]", "480p")
    page.check("input[name=provider][value=apixo]")
    page.fill("input[name=duration]", "4")
    page.wait_for_function("document.getElementById('price-credits').textContent.trim() === '40'")
    page.screenshot(path=str(ARTIFACTS / "frames_drop_paste.png"), full_page=True)
    page.focus("textarea[name=prompt]")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("[data-testid=state]")
    job = Generation.objects.get()
    assert job.mode == "image-to-video"
    assert [i.content_type for i in job.inputs.order_by("position")] == [
        "image/png",
        "image/jpeg",
    ]
    assert errors == []


def test_variations_show_the_total_and_land_grouped_in_the_gallery(
    live_server, browser_page, member, simulator
):
    page = browser_page
    credits_grant(user=member, amount=300, actor=None)
    log_in(page, live_server.url, member.username)
    page.goto(f"{live_server.url}/new/")
    page.fill("textarea[name=prompt]", "a lighthouse at dusk, waves rolling in")
    page.select_option("select[name=resolution]", "480p")
    page.check("input[name=provider][value=apixo]")
    page.check("input[name=sound][value=on]")
    page.fill("input[name=duration]", "4")  # 80 credits a job
    page.select_option("select[name=variations]", "4")
    page.wait_for_function("document.getElementById('price-credits').textContent.trim() === '320'")
    assert "4 variations \u00d7 80 credits" in page.text_content("#price-note")
    # 320 is over the 300 available: Submit waits, and Ctrl+Enter does not get past it.
    page.wait_for_function("document.getElementById('submit-button').disabled")
    assert "4 variations cost 320 credits" in page.text_content("#price-blocked-reason")
    page.focus("input[name=duration]")
    page.keyboard.press("Control+Enter")
    page.wait_for_timeout(300)
    assert Generation.objects.count() == 0

    page.select_option("select[name=variations]", "3")
    page.wait_for_function("document.getElementById('price-credits').textContent.trim() === '240'")
    page.wait_for_function("!document.getElementById('submit-button').disabled")
    page.focus("textarea[name=prompt]")
    page.keyboard.press("Meta+Enter")
    page.wait_for_selector("#variation-filter")
    assert Generation.objects.count() == 3
    assert CreditEntry.objects.filter(kind=CreditEntry.Kind.HOLD).count() == 3
    badges = page.locator("[data-variation]").all_inner_texts()
    assert sorted(b.split(":")[0].strip() for b in badges) == [
        "Variation 1 of 3",
        "Variation 2 of 3",
        "Variation 3 of 3",
    ]
    page.screenshot(path=str(ARTIFACTS / "variations_gallery.png"), full_page=True)
