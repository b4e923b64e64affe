"""Every limit before submit (issue #15 item 6): the live price carries the member's own
balance, what their monthly cap leaves, and why the ledger would refuse, in the portal's words.
"""

import pytest
from django.urls import reverse

from generations.forms.generation import DURATION_MESSAGE
from generations.models import Generation
from generations.services.ledger import MonthlyCapExceeded, credits_grant, credits_hold
from tests.factories import GenerationFactory, ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db

# APIXO, 720p with sound: 40 credits a second (docs/prices.md), so 320 credits.
PRICE_320 = {"mode": "text-to-video", "resolution": "720p", "duration": "8", "sound": "on"}


def quote(client, **changes):
    return client.get(reverse("generations:quote"), {**PRICE_320, **changes})


def set_cap(user, cap):
    user.monthly_cap_credits = cap
    user.save(update_fields=["monthly_cap_credits"])


def test_a_price_that_fits_shows_the_balance_and_no_cap(member_client, member):
    credits_grant(user=member, amount=1000, actor=None)
    data = quote(member_client).json()
    assert (data["credits"], data["balance"], data["cap_left"]) == (320, 1000, None)
    assert (data["blocked"], data["ask_manager"]) == ("", False)


def test_a_short_balance_blocks_with_the_reason_and_offers_to_ask_a_manager(member_client, member):
    ManagerFactory(email="boss@example.com")
    ManagerFactory(email="deputy@example.com", is_active=False)
    credits_grant(user=member, amount=200, actor=None)
    response = quote(member_client)
    data = response.json()
    assert data["blocked"] == "This costs 320 credits; you have 200 available."
    assert data["ask_manager"] is True
    # The portal writes to the managers itself: no address reaches the member.
    assert b"@example.com" not in response.content


def test_ask_a_manager_is_not_offered_when_no_manager_can_be_reached(member_client, member):
    ManagerFactory(email="")
    ManagerFactory(email="deputy@example.com", is_active=False)
    data = quote(member_client).json()
    assert data["blocked"] and data["ask_manager"] is False


def test_the_balance_reason_is_exact_at_the_boundary(member_client, member):
    credits_grant(user=member, amount=319, actor=None)
    data = quote(member_client).json()
    assert data["blocked"] == "This costs 320 credits; you have 319 available."
    credits_grant(user=member, amount=1, actor=None)
    assert quote(member_client).json()["blocked"] == ""


def test_the_cap_left_counts_captured_and_reserved_as_the_ledger_does(member_client, member):
    credits_grant(user=member, amount=5000, actor=None)
    GenerationFactory(user=member, state=Generation.State.SUCCEEDED, price_credits=100)
    GenerationFactory(user=member, price_credits=40)  # queued: 40 held
    set_cap(member, 400)
    data = quote(member_client).json()
    assert data["cap_left"] == 260
    assert data["blocked"] == "This costs 320 credits; your monthly cap leaves 260 this month."
    # The ledger refuses exactly where the page says the cap ends.
    probe = GenerationFactory(user=member, hold=False)
    with pytest.raises(MonthlyCapExceeded):
        credits_hold(user=member, amount=261, generation=probe)
    probe.delete()
    credits_hold(user=member, amount=260, generation=GenerationFactory(user=member, hold=False))
    data = quote(member_client, duration="4", resolution="480p").json()
    assert data["cap_left"] == 0
    assert (
        data["blocked"]
        == f"This costs {data['credits']:,} credits; your monthly cap leaves 0 this month."
    )


def test_the_balance_reason_comes_before_the_cap(member_client, member):
    credits_grant(user=member, amount=100, actor=None)
    set_cap(member, 50)
    data = quote(member_client).json()
    assert data["blocked"] == "This costs 320 credits; you have 100 available."


def test_another_members_figures_are_never_shown(member_client, member):
    other = UserFactory(email="other@example.com")
    credits_grant(user=other, amount=9000, actor=None)
    set_cap(other, 700)
    GenerationFactory(user=other, state=Generation.State.SUCCEEDED, price_credits=100)
    ManagerFactory(email="boss@example.com")
    data = quote(member_client).json()
    assert (data["balance"], data["cap_left"]) == (0, None)
    assert data["ask_manager"] is True
    assert data["blocked"] == "This costs 320 credits; you have 0 available."


def test_the_page_shows_the_limits_without_javascript(member_client, member):
    credits_grant(user=member, amount=1500, actor=None)
    set_cap(member, 1200)
    html = member_client.get(reverse("generations:new")).content.decode()
    assert '<span id="limit-balance">1,500</span>' in html
    assert '<span id="limit-cap-left">1,200 credits</span>' in html


def test_a_bad_duration_is_reported_in_the_portals_words(member_client):
    response = quote(member_client, duration="40")
    assert response.status_code == 400
    assert response.json()["errors"] == {"duration": DURATION_MESSAGE}
    assert "Ensure" not in DURATION_MESSAGE
