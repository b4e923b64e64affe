"""Live regions (issue #19 item 5): a job's new state is announced once, politely; polls that
change nothing are not; the credits bar is a named region and the live price a polite one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generations.models import Generation
from generations.services.lifecycle import Outcome, generation_finalize
from tests.e2e.browser import log_in, requires_chromium

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANNOUNCER = "document.getElementById('live-announcer').textContent"


@pytest.fixture
def page(live_server, world, chromium):
    context = chromium.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(20_000)
    page = context.new_page()
    log_in(page, live_server.url, "ana")
    yield page
    context.close()


def test_the_gallery_announces_a_state_change_once(live_server, page):
    queued = Generation.objects.get(state="queued", variation_group__isnull=True)
    page.goto(f"{live_server.url}/")
    assert page.get_attribute("#live-announcer", "role") == "status"
    page.wait_for_timeout(4500)  # several polls that change nothing
    assert page.evaluate(ANNOUNCER) == ""

    Generation.objects.filter(pk=queued.pk).update(state="submitted", updated_at=timezone.now())
    page.wait_for_function(f"{ANNOUNCER} !== ''")
    assert page.evaluate(ANNOUNCER) == f"Generation #{queued.pk}: In progress"
    # The next polls bring the same text: it is not written again.
    page.evaluate(
        "window.writes = 0; new MutationObserver(() => window.writes++)"
        ".observe(document.getElementById('live-announcer'), {childList: true, subtree: true})"
    )
    page.wait_for_timeout(4500)
    assert page.evaluate("window.writes") == 0


def test_the_detail_page_announces_the_change_after_it_reloads(live_server, page):
    queued = Generation.objects.get(state="queued", variation_group__isnull=True)
    page.goto(f"{live_server.url}/g/{queued.pk}/")
    Generation.objects.filter(pk=queued.pk).update(state="submitted", updated_at=timezone.now())
    page.wait_for_function(f"{ANNOUNCER} === 'Generation #{queued.pk}: In progress'")
    assert page.text_content("[data-testid=state]") == "In progress"


def test_a_focused_card_keeps_the_focus_when_it_is_refreshed(live_server, page):
    queued = Generation.objects.get(state="queued", variation_group__isnull=True)
    page.goto(f"{live_server.url}/")
    details = f"#generation-{queued.pk} a[href='/g/{queued.pk}/']"
    page.focus(details)
    Generation.objects.filter(pk=queued.pk).update(state="submitted", updated_at=timezone.now())
    page.wait_for_function(f"{ANNOUNCER} !== ''")
    assert page.evaluate("document.activeElement.getAttribute('href')") == f"/g/{queued.pk}/"


def test_the_credits_bar_is_a_region_and_the_price_is_polite(live_server, page):
    page.goto(f"{live_server.url}/new/")
    bar = page.get_by_role("region", name="Your credits")
    assert bar.count() == 1
    assert page.get_attribute("#price-box", "aria-live") == "polite"
    page.wait_for_function("document.getElementById('price-credits').textContent !== '…'")
    page.evaluate(
        "window.writes = 0; new MutationObserver(() => window.writes++)"
        ".observe(document.getElementById('price-box'), {childList: true, subtree: true})"
    )
    # The same resolution chosen again: the price is fetched again, and nothing is rewritten.
    page.select_option("select[name=resolution]", page.input_value("select[name=resolution]"))
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.writes") == 0
    page.fill("input[name=duration]", "5")  # a new price: written, so read out
    page.wait_for_function("window.writes > 0")


def test_an_unchanged_gallery_fetches_no_card_only_the_cheap_update(live_server, page):
    """Issue #14 item 3: one small JSON request a second while jobs run, and a card is fetched
    again only when its job changed."""
    queued = Generation.objects.get(state="queued", variation_group__isnull=True)
    # The world was made a moment ago; its changes would fall in the server's overlap window
    # (changes from a few seconds before the page, fetched again to be sure).
    Generation.objects.update(updated_at=timezone.now() - timedelta(minutes=5))
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_server.url}/")
    page.wait_for_timeout(3500)
    assert not [url for url in requests if "/card/" in url]
    updates = [url for url in requests if "/updates/" in url]
    assert 2 <= len(updates) <= 5, updates
    Generation.objects.filter(pk=queued.pk).update(state="submitted", updated_at=timezone.now())
    page.wait_for_function(f"{ANNOUNCER} !== ''")
    assert [url for url in requests if "/card/" in url] == [
        f"{live_server.url}/g/{queued.pk}/card/"
    ]


def test_a_job_that_ends_elsewhere_shows_a_toast_and_the_title_counts_running_jobs(
    live_server, page
):
    running = Generation.objects.filter(state__in=Generation.State.in_flight()).count()
    assert running
    Generation.objects.update(updated_at=timezone.now() - timedelta(minutes=5))  # see above
    page.goto(f"{live_server.url}/usage/")  # no card of any job here
    page.wait_for_function(f"document.title.startsWith('({running} running) ')")
    queued = Generation.objects.get(state="queued", variation_group__isnull=True)
    generation_finalize(
        generation_id=queued.pk,
        outcome=Outcome(state="failed", fail_message="The video service refused the prompt."),
    )
    toast = page.locator(".toast")
    toast.wait_for()
    assert toast.text_content().startswith(f"Generation #{queued.pk}: failed, refunded.")
    assert toast.locator("a").get_attribute("href") == f"/g/{queued.pk}/"
    still = f"({running - 1} running) " if running > 1 else ""
    page.wait_for_function(f"document.title === '{still}Usage · Seedance Studio'")
    toast.get_by_role("button", name="Dismiss").click()
    assert page.locator(".toast").count() == 0


def test_a_failing_updates_endpoint_is_asked_less_and_less_often(live_server, page):
    """A tab whose asks fail (a struggling or restarting server) backs off, doubling the wait
    (1.5 s, 3 s, 6 s ...), instead of asking every 0.75 s; a good answer resets it."""
    asks = []

    def failing(route):
        asks.append(route.request.url)
        route.fulfill(status=503, body="busy")

    page.route("**/updates/**", failing)
    page.goto(f"{live_server.url}/")
    page.wait_for_timeout(7000)
    # At 0.75 s the tab would have asked about 9 times; backing off, at most 4.
    assert 1 <= len(asks) <= 4, asks
