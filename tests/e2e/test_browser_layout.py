"""Browser: no portal page scrolls sideways, on a phone (390 px) or a laptop (1366 px).

Issue #15 item 10. Every page the accessibility audit loads (``tests/a11y/test_axe.py``
``PAGES``, so a new page is checked here as soon as it is audited there) is opened as its
user and ``document.documentElement.scrollWidth`` must not exceed ``window.innerWidth``:
the navigation collapses into a menu, wide tables scroll inside their own box.
"""

import pytest

from tests.a11y.conftest import chromium, world  # noqa: F401 (fixtures)
from tests.a11y.test_axe import PAGES, lock_out, log_out, settle
from tests.e2e.browser import ARTIFACTS, log_in, requires_chromium

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 768}}

# The measure, and for a failure the first elements that reach past the viewport (outside
# any box that scrolls on its own), to say what to fix.
OVERFLOW = """() => {
  const width = window.innerWidth;
  const right = (el) => Math.round(el.getBoundingClientRect().right);
  const wide = Array.from(document.querySelectorAll("body *"))
    .filter((el) => right(el) > width && !el.parentElement.closest(".overflow-auto")
      && !el.closest("dialog:not([open])"))
    .slice(0, 5).map((el) => `${el.tagName.toLowerCase()}.${el.className} ${right(el)}`);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, wide};
}"""


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_no_page_scrolls_sideways(live_server, world, chromium, settings, viewport):  # noqa: F811
    settings.AXES_ENABLED = True  # for the lockout page
    contexts, failures = {}, []
    try:
        for spec in PAGES:
            key = spec.user if spec.then not in (lock_out, log_out) else spec.label
            if key not in contexts:
                context = chromium.new_context(viewport=VIEWPORTS[viewport])
                context.set_default_timeout(20_000)
                contexts[key] = context.new_page()
                if spec.user:
                    log_in(contexts[key], live_server.url, spec.user)
            page = contexts[key]
            page.goto(live_server.url + spec.path(world))
            if spec.then:
                spec.then(page)
            settle(page)
            measured = page.evaluate(OVERFLOW)
            if measured["scrollWidth"] > measured["innerWidth"]:
                failures.append(f"{spec.label} ({page.url}): {measured}")
                ARTIFACTS.mkdir(exist_ok=True)
                shot = f"overflow-{viewport}-{spec.label.replace(' ', '_').replace(',', '')}.png"
                page.screenshot(path=str(ARTIFACTS / shot), full_page=True)
    finally:
        for page in contexts.values():
            page.context.close()
    width = VIEWPORTS[viewport]["width"]
    assert not failures, (
        f"{len(failures)} of {len(PAGES)} pages scroll sideways at {width} px:\n"
        + "\n".join(failures)
    )
    print(f"layout: {len(PAGES)} pages fit {width} px")
