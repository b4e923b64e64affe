"""Keyboard: Tab reaches every control in DOM order, and the focus can always be seen (issue #19).

On the New video page and the gallery, in the light and the dark theme, the test presses Tab
from the top of the page and records where the focus goes. It must visit every visible,
enabled control in document order (one stop per radio group, one for the tab list, as
browsers and the tabs pattern have it), starting with the skip link; at each stop the
focused element must match ``:focus-visible`` and draw a solid outline at least 2 px wide
with 3:1 contrast against the background around it (WCAG 2.4.7, 1.4.11).
"""

import re

import pytest

from tests.e2e.browser import log_in, requires_chromium

from .conftest import World

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Describe an element by what stays the same when live.js swaps a card for a fresh copy.
DESCRIBE = """(el) => {
  if (!el || el === document.body) return "body";
  const tag = el.tagName.toLowerCase();
  if (el.name && (el.type === "radio" || el.type === "checkbox")) {
    return `${tag} ${el.name}=${el.value}`;
  }
  const key = el.id || el.getAttribute("name") || el.getAttribute("href")
    || el.getAttribute("src") || el.getAttribute("aria-label")
    || el.textContent.trim().slice(0, 40);
  return `${tag} ${key}`;
}"""

# Every control a Tab should reach, in document order.
TAB_STOPS = f"""() => {{
  const describe = {DESCRIBE};
  const candidates = document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, summary, video[controls],"
    + " [tabindex]");
  const stops = Array.from(candidates).filter((el) =>
    el.tabIndex >= 0 && !el.disabled && !el.closest("[inert], fieldset[disabled]")
    && el.checkVisibility({{visibilityProperty: true}}));
  // A radio group is one stop: its checked radio, else its first.
  return stops.filter((el) => {{
    if (el.type !== "radio") return true;
    const group = stops.filter(
      (r) => r.type === "radio" && r.name === el.name && r.form === el.form);
    return el === (group.find((r) => r.checked) || group[0]);
  }}).map(describe);
}}"""

FOCUSED = f"""() => {{
  const el = document.activeElement;
  const style = getComputedStyle(el);
  // The outline is drawn around the element, over its parent's background.
  let behind = el.parentElement, background = "rgba(0, 0, 0, 0)";
  while (behind) {{
    background = getComputedStyle(behind).backgroundColor;
    if (!/rgba\\(.*, 0\\)$/.test(background) && background !== "transparent") break;
    behind = behind.parentElement;
  }}
  const same = el === window.lastTabStop;
  window.lastTabStop = el;
  return {{
    same: same,
    name: ({DESCRIBE})(el),
    focusVisible: el.matches(":focus-visible"),
    outlineStyle: style.outlineStyle,
    outlineWidth: parseFloat(style.outlineWidth),
    outlineColor: style.outlineColor,
    background: background,
  }};
}}"""


def luminance(css_color: str) -> float:
    """Relative luminance (WCAG) of an ``rgb()``/``rgba()`` colour, alpha ignored."""
    red, green, blue = (float(v) / 255 for v in re.findall(r"[\d.]+", css_color)[:3])

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def tab_through(page) -> list[dict]:
    """Press Tab from the top of the page until the focus leaves it; return each new stop."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    stops: list[dict] = []
    for _ in range(200):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["name"] == "body":
            break
        # A video's own controls are several stops on one element: count it once.
        if not focused["same"]:
            stops.append(focused)
    return stops


def assert_keyboard_accessible(page, where: str) -> list[str]:
    expected = page.evaluate(TAB_STOPS)
    stops = tab_through(page)
    assert stops[0]["name"] == "a #main", f"{where}: the skip link is not the first stop"
    assert [s["name"] for s in stops] == expected, f"{where}: Tab order differs from the DOM"
    for stop in stops:
        assert stop["focusVisible"], f"{where}: {stop['name']} is focused but not :focus-visible"
        assert stop["outlineStyle"] == "solid" and stop["outlineWidth"] >= 2, (
            f"{where}: {stop['name']} shows no solid focus outline: {stop}"
        )
        ratio = contrast(stop["outlineColor"], stop["background"])
        assert ratio >= 3, f"{where}: {stop['name']}'s focus ring is {ratio:.1f}:1: {stop}"
    return [s["name"] for s in stops]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_tab_reaches_every_control_with_a_visible_focus(
    live_server, world: World, chromium, scheme
):
    context = chromium.new_context(viewport={"width": 1366, "height": 768}, color_scheme=scheme)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "ana")
        page.goto(f"{live_server.url}/new/")
        page.wait_for_function("document.getElementById('price-credits').textContent !== '…'")
        stops = assert_keyboard_accessible(page, f"New video ({scheme})")
        for control in ("a tab-text-to-video", "textarea id_prompt", "input provider=apixo"):
            assert control in stops
        assert stops[-1] == "button submit-button"

        page.goto(f"{live_server.url}/")
        page.wait_for_load_state("networkidle")
        stops = assert_keyboard_accessible(page, f"gallery ({scheme})")
        # A card's poster (the lightbox, or the detail page without JavaScript) and its
        # Details link.
        assert stops.count(f"a /g/{world.finished.pk}/") == 2
    finally:
        context.close()


def test_the_skip_link_and_the_mode_tabs_work_from_the_keyboard(live_server, world, chromium):
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "ana")
        page.goto(f"{live_server.url}/new/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        assert page.locator(".skip-link").is_visible()
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        page.keyboard.press("Tab")  # the first control of the content: the selected tab
        assert page.evaluate("document.activeElement.id") == "tab-text-to-video"

        # Arrows move between the tabs and switch the mode; the tab list stays one stop.
        page.keyboard.press("ArrowRight")
        assert page.evaluate("document.activeElement.id") == "tab-image-to-video"
        assert page.get_attribute("#tab-image-to-video", "aria-selected") == "true"
        assert page.get_attribute("#mode-panel", "aria-labelledby") == "tab-image-to-video"
        assert page.locator("input[name=start_image]").is_visible()
        page.keyboard.press("End")
        assert page.get_attribute("#tab-video-extend", "aria-selected") == "true"
        page.keyboard.press("Home")
        assert page.get_attribute("#tab-text-to-video", "aria-selected") == "true"
        page.keyboard.press("ArrowLeft")
        assert page.evaluate("document.activeElement.id") == "tab-video-extend"
        page.keyboard.press("Tab")  # out of the tab list, into the form
        assert page.evaluate("document.activeElement.closest('[role=tablist]')") is None
    finally:
        context.close()
