"""Browser: every limit before submit (issue #15 item 6).

The price box shows the member's balance and what the monthly cap leaves; Submit waits,
described by the reason and with a button that asks the managers by e-mail, while the price
is over either; a prompt pasted past 2,500 characters is kept whole, counted and flagged,
and Submit waits.
"""

import pytest
from django.core import mail

from generations.services.ledger import credits_grant
from tests.factories import ManagerFactory

from .browser import ARTIFACTS, log_in, requires_chromium

pytestmark = [requires_chromium, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SUBMIT_WAITS_FOR = """(id) => {
  const button = document.getElementById('submit-button');
  return button.disabled && (button.getAttribute('aria-describedby') || '').split(' ').includes(id);
}"""
SUBMIT_FREE = """() => {
  const button = document.getElementById('submit-button');
  return !button.disabled && !button.hasAttribute('aria-describedby');
}"""


def price_is(page, credits: str) -> None:
    page.wait_for_function(
        "(c) => document.getElementById('price-credits').textContent.trim() === c", arg=credits
    )


def test_submit_waits_for_the_balance_the_cap_and_a_long_prompt(
    live_server, browser_page, member, simulator
):
    page = browser_page
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    ManagerFactory(email="boss@example.com")
    credits_grant(user=member, amount=100, actor=None)
    member.monthly_cap_credits = 1000
    member.save(update_fields=["monthly_cap_credits"])
    log_in(page, live_server.url, member.username)
    page.goto(f"{live_server.url}/new/")

    page.fill("textarea[name=prompt]", "a lighthouse at dusk, waves rolling in")
    page.select_option("select[name=resolution]", "480p")
    page.check("input[name=provider][value=apixo]")
    page.check("input[name=sound][value=on]")
    page.fill("input[name=duration]", "4")
    price_is(page, "80")  # 20 credits a second
    page.wait_for_function(SUBMIT_FREE)
    assert page.text_content("#limit-balance") == "100"
    assert page.text_content("#limit-cap-left") == "1,000 credits"
    assert page.is_hidden("#price-blocked")

    # Over the balance: the reason, a mail to the managers, and Submit waits.
    page.fill("input[name=duration]", "8")
    price_is(page, "160")
    page.wait_for_function(SUBMIT_WAITS_FOR, arg="price-blocked")
    assert page.text_content("#price-blocked-reason") == (
        "This costs 160 credits; you have 100 available."
    )
    assert page.is_visible("#ask-manager")
    assert "boss@example.com" not in page.content()  # the portal writes to the managers
    page.screenshot(path=str(ARTIFACTS / "form_blocked_by_balance.png"), full_page=True)
    # Asking sends the e-mail from the server and answers in place; what was typed stays.
    page.click("#ask-manager")
    page.wait_for_function(
        "document.getElementById('ask-manager-sent').textContent.includes('have been asked')"
    )
    assert page.is_hidden("#ask-manager")
    assert page.input_value("textarea[name=prompt]") == "a lighthouse at dusk, waves rolling in"
    assert [m.to for m in mail.outbox] == [["boss@example.com"]]
    assert "160 credits" in mail.outbox[0].body

    # Back within the balance: Submit is free again.
    page.fill("input[name=duration]", "4")
    price_is(page, "80")
    page.wait_for_function(SUBMIT_FREE)

    # Over what the cap leaves this month (read afresh at each price).
    member.monthly_cap_credits = 60
    member.save(update_fields=["monthly_cap_credits"])
    page.check("input[name=sound][value=off]")
    page.check("input[name=sound][value=on]")
    page.wait_for_function(
        "document.getElementById('price-blocked-reason').textContent === "
        "'This costs 80 credits; your monthly cap leaves 60 this month.'"
    )
    page.wait_for_function(SUBMIT_WAITS_FOR, arg="price-blocked")
    assert page.text_content("#limit-cap-left") == "60 credits"
    member.monthly_cap_credits = None
    member.save(update_fields=["monthly_cap_credits"])
    page.check("input[name=sound][value=off]")
    price_is(page, "40")
    page.wait_for_function(SUBMIT_FREE)
    assert page.text_content("#limit-cap-left") == "no cap"

    # A prompt pasted past 2,500 characters is kept whole, counted and flagged.
    long_prompt = ("a misty harbour at dawn, " * 110)[:2612]
    page.fill("textarea[name=prompt]", long_prompt)
    assert len(page.input_value("textarea[name=prompt]")) == 2612  # nothing was cut
    page.wait_for_function(
        "document.getElementById('prompt-count').textContent === '2,612 / 2,500'"
    )
    assert "over" in page.get_attribute("#prompt-count", "class")
    assert page.is_visible("#prompt-over")
    assert "shorten it to submit" in page.text_content("#prompt-over")
    assert page.get_attribute("textarea[name=prompt]", "aria-invalid") == "true"
    assert "prompt-over" in page.get_attribute("textarea[name=prompt]", "aria-describedby")
    page.wait_for_function(SUBMIT_WAITS_FOR, arg="prompt-over")
    page.screenshot(path=str(ARTIFACTS / "form_prompt_too_long.png"), full_page=True)

    page.fill("textarea[name=prompt]", long_prompt[:2500])
    page.wait_for_function(SUBMIT_FREE)
    assert page.is_hidden("#prompt-over")
    assert page.get_attribute("textarea[name=prompt]", "aria-invalid") is None
    assert "prompt-over" not in page.get_attribute("textarea[name=prompt]", "aria-describedby")
    assert errors == []
