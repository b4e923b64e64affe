"""Browser: the gallery's bulk selection and the opt-in desktop notification (issue #15
items 4 and 5; docs/storage.md "Bulk actions"), in Debian Chromium.

Every wait is for a condition in the page, never a fixed time.
"""

import pytest

from generations.models import Generation
from generations.services.lifecycle import Outcome, generation_finalize
from tests.factories import GenerationFactory, UserFactory

from .browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    open_gallery,
    playwright_session,
    requires_chromium,
)

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records the page's notifications and permission requests, and lets the test hide the tab
# (headless Chromium never hides one by itself).
FAKE_NOTIFICATIONS = """
window.__notes = [];
window.__asked = 0;
class FakeNotification {
  constructor(title, options) {
    this.title = title;
    this.options = options || {};
    window.__notes.push(this);
  }
  close() {}
}
FakeNotification.permission = "default";
FakeNotification.requestPermission = async () => {
  window.__asked += 1;
  FakeNotification.permission = "granted";
  return "granted";
};
window.Notification = FakeNotification;
let hidden = false;
window.__setHidden = (value) => {
  hidden = value;
  document.dispatchEvent(new Event("visibilitychange"));
};
Object.defineProperty(Document.prototype, "visibilityState", {
  configurable: true, get() { return hidden ? "hidden" : "visible"; },
});
"""


@pytest.fixture
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_session() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def jobs(settings, tmp_path):
    """``ana``'s five finished jobs, newest first (no files: the cards' previews never load)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    ana = UserFactory(username="ana")
    made = [
        GenerationFactory(
            user=ana,
            state="succeeded",
            result_state="stored",
            result_file=f"results/{n}.mp4",
            prompt=f"a paper boat, take {n}",
        )
        for n in range(5)
    ]
    return list(reversed(made))


def box(page, generation):
    return page.locator(f"#generation-{generation.pk} input[data-bulk-id]")


def checked_ids(page) -> list[int]:
    return page.eval_on_selector_all(
        "input[data-bulk-id]:checked", "boxes => boxes.map((b) => Number(b.value))"
    )


def test_shift_click_select_all_and_the_bar(live_server, browser, jobs):
    page = open_gallery(browser, live_server)
    count = page.locator("[data-bulk-count]")
    assert count.text_content() == "0 selected"

    box(page, jobs[0]).click()
    box(page, jobs[3]).click(modifiers=["Shift"])
    assert sorted(checked_ids(page)) == sorted(j.pk for j in jobs[:4])
    assert count.text_content() == "4 selected"
    assert page.locator("article[data-selected]").count() == 4
    assert page.locator("#bulk-form[data-selected]").count() == 1

    box(page, jobs[2]).click()  # a plain click clears one; shift-click from it clears a range
    box(page, jobs[1]).click(modifiers=["Shift"])
    assert sorted(checked_ids(page)) == sorted([jobs[0].pk, jobs[3].pk])

    select_all = page.get_by_label("Select all on this page")
    select_all.check()
    assert count.text_content() == "5 selected"
    select_all.uncheck()
    assert checked_ids(page) == [] and count.text_content() == "0 selected"

    # Applying with nothing selected says so and posts nothing.
    page.click("#bulk-form button[type=submit]")
    assert count.text_content() == "Select at least one video first."

    box(page, jobs[0]).click()
    box(page, jobs[1]).click(modifiers=["Shift"])
    page.select_option("#bulk-form select[name=action]", "hide")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_selector(".message-success")
    assert "Hid 2 videos" in page.text_content(".messages")
    assert page.locator(f"#generation-{jobs[0].pk}").count() == 0
    assert Generation.objects.filter(hidden_at__isnull=False).count() == 2
    page.screenshot(path=str(ARTIFACTS / "gallery-bulk-bar.png"))


def test_delete_asks_in_a_dialog(live_server, browser, jobs):
    page = open_gallery(browser, live_server)
    box(page, jobs[4]).click()
    page.select_option("#bulk-form select[name=action]", "delete")
    page.click("#bulk-form button[type=submit]")
    dialog = page.locator("#bulk-delete-dialog")
    dialog.wait_for(state="visible")
    assert dialog.locator("h2").text_content() == "Delete 1 video?"
    dialog.get_by_role("button", name="Keep them").click()
    dialog.wait_for(state="hidden")
    assert Generation.objects.get(pk=jobs[4].pk).deleted_at is None

    page.click("#bulk-form button[type=submit]")
    dialog.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_selector(".message-success")
    assert "Deleted 1 video from storage" in page.text_content(".messages")
    assert Generation.objects.get(pk=jobs[4].pk).result_state == "deleted"


def test_a_desktop_notification_when_a_job_ends_in_a_hidden_tab(live_server, browser):
    ana = UserFactory(username="ana")
    running = GenerationFactory(user=ana, state="submitted")
    page = open_gallery(browser, live_server, permissions=["notifications"])
    page.add_init_script(FAKE_NOTIFICATIONS)
    page.reload()
    assert page.evaluate("window.__asked") == 0  # never asked on page load

    page.click("nav summary:has-text('ana')")
    button = page.locator("[data-notify-optin]")
    assert button.text_content() == "Notify me on this device"
    button.click()
    page.wait_for_function("localStorage.getItem('notify-desktop') === '1'")
    assert page.evaluate("window.__asked") == 1
    assert button.get_attribute("aria-pressed") == "true"

    page.evaluate("window.__setHidden(true)")
    generation_finalize(
        generation_id=running.pk,
        outcome=Outcome(Generation.State.FAILED, fail_code="X", fail_message="Refused."),
    )
    page.wait_for_function("window.__notes.length > 0")
    note = page.evaluate("({title: __notes[0].title, tag: __notes[0].options.tag})")
    assert note == {
        "title": f"Generation #{running.pk}: failed; the credits were refunded",
        "tag": f"generation-{running.pk}",
    }
    page.evaluate("window.__notes[0].onclick()")
    page.wait_for_url(f"{live_server.url}/g/{running.pk}/")


def test_no_notification_while_the_tab_is_visible_or_not_opted_in(live_server, browser):
    ana = UserFactory(username="ana")
    running = GenerationFactory(user=ana, state="submitted")
    page = open_gallery(browser, live_server, permissions=["notifications"])
    page.add_init_script(FAKE_NOTIFICATIONS)
    page.reload()
    generation_finalize(
        generation_id=running.pk,
        outcome=Outcome(Generation.State.FAILED, fail_code="X", fail_message="Refused."),
    )
    # The visible gallery shows the new state on the card; no notification is made.
    page.wait_for_selector(f"#generation-{running.pk}[data-state=failed]")
    assert page.evaluate("window.__notes.length") == 0
