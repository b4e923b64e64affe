"""Variations (issue #15 item 7; docs/prices.md "Variations"): one submission, 1-4 jobs, each
held on its own through the ledger, distinct seeds where the provider takes one, all or
nothing in one transaction, and one group per one-time key."""

import pytest

from generations import catalog
from generations.models import CreditAccount, CreditEntry, Generation
from generations.services import generations as service
from generations.services.generations import (
    GenerationSpec,
    VariationsUnaffordable,
    generation_variations_create,
    variation_seeds,
)
from generations.services.ledger import InsufficientCredits
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# APIXO 480p with sound: 20 credits/s x 4 s = 80 credits (docs/prices.md "Default price table").
APIXO_TEXT = GenerationSpec(
    mode="text-to-video",
    prompt="a red kite over green hills",
    resolution="480p",
    duration=4,
    sound=True,
    aspect_ratio="16:9",
    provider="apixo",
)
PRICE = 80
# aivideoapi.ai 480p without sound: 15 credits/s x 4 s = 60 credits; its model takes a seed.
AIVIDEOAPI_TEXT = GenerationSpec(
    mode="text-to-video",
    prompt="a red kite over green hills",
    resolution="480p",
    duration=4,
    sound=False,
    aspect_ratio="16:9",
    provider="aivideoapi",
)


def account(user) -> tuple[int, int]:
    row = CreditAccount.objects.get(user=user)
    return row.balance, row.held


def test_each_variation_has_its_own_hold_and_the_group_shares_an_id():
    member = UserFactory(credits=1000)
    jobs = generation_variations_create(user=member, spec=APIXO_TEXT, count=3, client_token="t1")
    assert [j.variation_index for j in jobs] == [1, 2, 3]
    assert {j.variation_count for j in jobs} == {3}
    assert len({j.variation_group for j in jobs}) == 1 and jobs[0].variation_group is not None
    holds = CreditEntry.objects.filter(kind=CreditEntry.Kind.HOLD).order_by("generation_id")
    assert [(h.generation_id, h.amount) for h in holds] == [(j.pk, -PRICE) for j in jobs]
    assert account(member) == (1000 - 3 * PRICE, 3 * PRICE)
    # Only the first job carries the one-time key; APIXO's text model takes no seed.
    assert [j.client_token for j in jobs] == ["t1", "", ""]
    assert [j.seed for j in jobs] == [None, None, None]


def test_one_job_has_no_group_and_keeps_its_seed():
    member = UserFactory(credits=1000)
    (job,) = generation_variations_create(user=member, spec=AIVIDEOAPI_TEXT, count=1)
    assert (job.variation_group, job.variation_index, job.seed) == (None, None, None)


def test_variations_at_a_provider_that_takes_a_seed_get_distinct_seeds_in_range():
    member = UserFactory(credits=1000)
    jobs = generation_variations_create(user=member, spec=AIVIDEOAPI_TEXT, count=4)
    seeds = [j.seed for j in jobs]
    assert len(set(seeds)) == 4
    assert all(catalog.SEED_MIN <= s <= catalog.SEED_MAX for s in seeds)


def test_a_given_seed_counts_up_and_wraps_inside_the_documented_range():
    extend = GenerationSpec(
        mode="video-extend",
        prompt="the kite keeps climbing",
        resolution="720p",
        duration=4,
        sound=False,
        provider="apixo",
        seed=41,
    )
    assert variation_seeds(spec=extend, count=3) == [41, 42, 43]
    top = GenerationSpec(**{**extend.__dict__, "seed": catalog.SEED_MAX - 1})
    assert variation_seeds(spec=top, count=4) == [2_147_483_646, 2_147_483_647, 0, 1]
    # One job keeps the member's seed; APIXO's text model never gets one.
    assert variation_seeds(spec=extend, count=1) == [41]
    assert variation_seeds(spec=APIXO_TEXT, count=4) == [None] * 4


def test_a_short_balance_for_the_total_creates_nothing_and_says_so():
    member = UserFactory(credits=200)  # two jobs' worth, not three
    with pytest.raises(VariationsUnaffordable) as caught:
        generation_variations_create(user=member, spec=APIXO_TEXT, count=3, client_token="t")
    assert str(caught.value) == (
        "3 variations cost 240 credits (80 each); you have 200 available. "
        "Nothing was created: choose fewer variations or ask a manager."
    )
    assert Generation.objects.count() == 0
    assert not CreditEntry.objects.filter(kind=CreditEntry.Kind.HOLD).exists()
    assert account(member) == (200, 0)


def test_the_monthly_cap_counts_the_total():
    member = UserFactory(credits=5000)
    member.monthly_cap_credits = 200
    member.save(update_fields=["monthly_cap_credits"])
    with pytest.raises(VariationsUnaffordable) as caught:
        generation_variations_create(user=member, spec=APIXO_TEXT, count=3)
    assert "3 variations cost 240 credits (80 each); your monthly cap leaves 200 this month." in (
        str(caught.value)
    )
    assert Generation.objects.count() == 0
    assert account(member) == (5000, 0)
    assert len(generation_variations_create(user=member, spec=APIXO_TEXT, count=2)) == 2


def test_one_job_short_keeps_the_ledgers_own_error():
    member = UserFactory(credits=10)
    with pytest.raises(InsufficientCredits):
        generation_variations_create(user=member, spec=APIXO_TEXT, count=1)


def test_a_failure_half_way_rolls_back_every_job_and_hold(monkeypatch):
    member = UserFactory(credits=1000)
    real = service.inputs_create
    calls = []

    def fail_on_the_third(*, generation, inputs):
        calls.append(generation.pk)
        if len(calls) == 3:
            raise RuntimeError("storage went away")
        real(generation=generation, inputs=inputs)

    monkeypatch.setattr(service, "inputs_create", fail_on_the_third)
    with pytest.raises(RuntimeError):
        generation_variations_create(user=member, spec=APIXO_TEXT, count=4)
    assert len(calls) == 3  # two jobs and their holds were written before the failure
    assert Generation.objects.count() == 0
    assert not CreditEntry.objects.filter(kind=CreditEntry.Kind.HOLD).exists()
    assert account(member) == (1000, 0)


def test_the_same_one_time_key_returns_the_same_group_and_holds_nothing_more():
    member = UserFactory(credits=1000)
    first = generation_variations_create(user=member, spec=APIXO_TEXT, count=3, client_token="k")
    again = generation_variations_create(user=member, spec=APIXO_TEXT, count=3, client_token="k")
    assert [j.pk for j in again] == [j.pk for j in first]
    assert Generation.objects.count() == 3
    assert account(member) == (1000 - 3 * PRICE, 3 * PRICE)


def test_a_count_outside_one_to_four_is_refused():
    member = UserFactory(credits=1000)
    for count in (0, 5):
        with pytest.raises(ValueError, match="count must be 1-4"):
            generation_variations_create(user=member, spec=APIXO_TEXT, count=count)
    assert Generation.objects.count() == 0
