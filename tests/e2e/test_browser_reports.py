"""Browser: the spend charts draw with JavaScript, and the tables carry the figures without it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generations.services.ledger import credits_grant
from tests.factories import GenerationFactory, ManagerFactory

from .browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    log_in,
    playwright_session,
    requires_chromium,
)

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def manager_with_spend(settings, monkeypatch):
    from decimal import Decimal

    from generations import providers

    class Provider:
        """Either provider's client: APIXO answers in US$, aivideoapi.ai in its credits."""

        def account_balance(self):
            return Decimal("12.34")

        def account_credits(self):
            return 2468  # US$12.34 at US$0.005 a credit

    monkeypatch.setattr(providers, "get_provider", lambda name="apixo": Provider())
    manager = ManagerFactory(username="boss")
    credits_grant(user=manager, amount=50_000, actor=None)
    for days_ago in (1, 3, 8):
        # A succeeded job: the factory holds its price and captures it, as the lifecycle does.
        GenerationFactory(
            user=manager, state="succeeded", created_at=timezone.now() - timedelta(days=days_ago)
        )
    return manager


def test_charts_draw_and_fold_their_tables(live_server, browser_page, manager_with_spend):
    page = browser_page
    log_in(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/team/spend/")
    page.wait_for_selector("[data-chart=chart-periods] canvas")
    assert page.locator("[data-chart] canvas").count() == 3
    assert not page.locator("details.chart-table").first.evaluate("d => d.open")
    assert "Below US$20.00" in page.text_content("[data-testid=provider-balance]")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "team-spend-phone.png"), full_page=True)
    page.goto(f"{live_server.url}/usage/")
    page.wait_for_selector("[data-chart=chart-daily] canvas")
    page.screenshot(path=str(ARTIFACTS / "usage-phone.png"), full_page=True)


def test_without_javascript_the_tables_show_the_figures(
    live_server, manager_with_spend, monkeypatch
):
    with playwright_session() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(java_script_enabled=False)
        page = context.new_page()
        try:
            log_in(page, live_server.url, "boss")
            page.goto(f"{live_server.url}/team/spend/")
            assert page.locator("[data-chart] canvas").count() == 0
            assert page.locator("[data-chart]").first.is_hidden()
            assert page.locator("[data-testid=period-table]").is_visible()
            assert page.locator("[data-testid=member-table] [data-member=boss]").is_visible()
        finally:
            context.close()
            browser.close()


def test_a_manager_grants_credits_and_sees_the_members_spend(
    live_server, browser_page, manager_with_spend
):
    """Issue #6: grant from the team page, the member spends, the spend chart shows it."""
    from generations.models import CreditAccount
    from tests.factories import UserFactory

    member = UserFactory(username="ana")
    page = browser_page
    log_in(page, live_server.url, "boss")
    page.get_by_role("link", name="Team", exact=True).click()
    page.check("input[aria-label='Select ana']")
    page.fill("input[name=amount]", "2500")
    page.fill("input[name=memo]", "first budget")
    page.click("text=Apply to selected")
    page.wait_for_selector("text=Granted 2,500 credits to 1 member.")
    assert CreditAccount.objects.get(user=member).balance == 2500
    GenerationFactory(user=member, price_credits=400, state="succeeded")

    page.goto(f"{live_server.url}/team/spend/")
    page.wait_for_selector("[data-chart=chart-periods] canvas")
    assert "ana" in page.text_content("main")
    page.screenshot(path=str(ARTIFACTS / "team_spend.png"), full_page=True)
    page.goto(f"{live_server.url}/team/audit/")
    assert "first budget" in page.text_content("#audit-table")
