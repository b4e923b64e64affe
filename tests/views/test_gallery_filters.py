"""The gallery's toolbar: the filter form, the selector and the page (issue #15 item 3).

docs/gallery.md "Filters and sort": filters live in the URL, chips within a group are
alternatives and groups combine, invalid values are named and left out (never a 500), and
pagination keeps every filter.
"""

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from generations.forms import GalleryFilterForm
from generations.models import Generation
from generations.selectors.gallery import GalleryFilters, Sort, generations_filter

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db


def at(day: str, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(f"{day}T{hour:02d}:00:00"))


@pytest.fixture
def jobs(member):
    """Five of ``member``'s jobs across states, modes, resolutions, providers and days."""
    return {
        "kite": GenerationFactory(
            user=member, prompt="a red kite", state="succeeded", created_at=at("2026-11-01")
        ),
        "whale": GenerationFactory(
            user=member,
            prompt="a blue whale",
            state="failed",
            resolution="720p",
            price_credits=80,
            created_at=at("2026-11-02"),
        ),
        "fox": GenerationFactory(
            user=member,
            prompt="a fox in snow",
            state="submitted",
            mode="image-to-video",
            favourite=True,
            created_at=at("2026-11-03"),
        ),
        "city": GenerationFactory(
            user=member,
            prompt="a neon city",
            state="succeeded",
            provider="aivideoapi",
            resolution="1080p",
            price_credits=300,
            created_at=at("2026-11-04"),
        ),
        "boat": GenerationFactory(
            user=member,
            prompt="a boat",
            state="expired",
            mode="video-extend",
            price_credits=10,
            created_at=at("2026-11-05", hour=23),
        ),
    }


def listed(client, **params) -> list[str]:
    response = client.get(reverse("generations:list"), params)
    assert response.status_code == 200
    return [g.prompt for g in response.context["generations"]]


class TestForm:
    def test_choices_come_from_the_model_and_the_catalog(self):
        form = GalleryFilterForm()
        assert [v for v, _ in form.fields["mode"].choices] == [
            "text-to-video",
            "image-to-video",
            "video-extend",
        ]
        assert [v for v, _ in form.fields["resolution"].choices] == ["480p", "720p", "1080p"]
        assert [v for v, _ in form.fields["provider"].choices] == ["apixo", "aivideoapi"]
        assert [v for v, _ in form.fields["state"].choices] == [
            "running",
            *Generation.State.final(),
        ]

    def test_url_names_are_from_and_to(self):
        form = GalleryFilterForm(QueryDict("from=2026-11-02&to=2026-11-03"))
        assert form.is_valid()
        assert form.filters().date_from.isoformat() == "2026-11-02"
        assert 'name="from"' in str(form["date_from"])

    def test_invalid_values_are_named_and_left_out_the_rest_applies(self):
        form = GalleryFilterForm(
            QueryDict("mode=painting&resolution=720p&from=yesterday&sort=random&state=queued")
        )
        assert not form.is_valid()
        filters = form.filters()
        assert filters == GalleryFilters(resolutions=("720p",), states=("running",))
        reasons = " ".join(form.ignored())
        assert "Mode: “painting” is not one of the choices" in reasons
        assert "From: Enter a date as YYYY-MM-DD" in reasons
        assert "Sort:" in reasons

    def test_a_reversed_date_range_is_ignored_with_a_reason(self):
        form = GalleryFilterForm(QueryDict("from=2026-11-05&to=2026-11-01"))
        assert not form.is_valid()
        filters = form.filters()
        assert (filters.date_from, filters.date_to) == (None, None)
        assert "start date is after the end date" in " ".join(form.ignored())

    def test_the_library_has_no_state_or_favourite_chip(self):
        form = GalleryFilterForm(QueryDict("state=failed&favourite=1"), library=True)
        assert form.is_valid()
        assert "state" not in form.fields and "favourite" not in form.fields
        assert not form.filters().narrowed


class TestSelector:
    def test_groups_combine_and_chips_within_a_group_are_alternatives(self, jobs):
        mine = Generation.objects.filter(user=jobs["kite"].user)
        either = GalleryFilters(states=("succeeded", "expired"))
        assert {g.prompt for g in generations_filter(mine, filters=either)} == {
            "a red kite",
            "a neon city",
            "a boat",
        }
        both = GalleryFilters(states=("succeeded", "expired"), providers=("aivideoapi",))
        assert [g.prompt for g in generations_filter(mine, filters=both)] == ["a neon city"]

    def test_running_stands_for_every_in_flight_state(self, jobs, member):
        GenerationFactory(user=member, prompt="queued one", state="queued")
        mine = Generation.objects.filter(user=member)
        found = generations_filter(mine, filters=GalleryFilters(states=("running",)))
        assert {g.prompt for g in found} == {"a fox in snow", "queued one"}

    def test_date_range_takes_whole_days_both_ends_included(self, jobs, member):
        mine = Generation.objects.filter(user=member)
        days = GalleryFilters(
            date_from=datetime(2026, 11, 2).date(), date_to=datetime(2026, 11, 5).date()
        )
        found = [g.prompt for g in generations_filter(mine, filters=days)]
        # 23:00 on the last day is in; the first day is out.
        assert found == ["a boat", "a neon city", "a fox in snow", "a blue whale"]

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            (Sort.NEWEST, ["a boat", "a neon city", "a fox in snow", "a blue whale", "a red kite"]),
            (Sort.OLDEST, ["a red kite", "a blue whale", "a fox in snow", "a neon city", "a boat"]),
            (
                Sort.PRICE_HIGH,
                ["a neon city", "a blue whale", "a fox in snow", "a red kite", "a boat"],
            ),
            (
                Sort.PRICE_LOW,
                ["a boat", "a red kite", "a fox in snow", "a blue whale", "a neon city"],
            ),
        ],
    )
    def test_sorts(self, jobs, member, sort, expected):
        mine = Generation.objects.filter(user=member)
        assert [g.prompt for g in generations_filter(mine, filters=GalleryFilters(sort=sort))] == (
            expected
        )


class TestPage:
    def test_each_chip_filters_through_the_url(self, member_client, jobs):
        assert listed(member_client, mode="image-to-video") == ["a fox in snow"]
        assert listed(member_client, resolution="1080p") == ["a neon city"]
        assert listed(member_client, provider="aivideoapi") == ["a neon city"]
        assert listed(member_client, favourite="1") == ["a fox in snow"]
        assert listed(member_client, state=["failed", "expired"]) == ["a boat", "a blue whale"]
        assert listed(member_client, q="KITE") == ["a red kite"]
        assert listed(member_client, **{"from": "2026-11-04", "to": "2026-11-04"}) == [
            "a neon city"
        ]
        assert listed(member_client, sort="price-high")[0] == "a neon city"

    def test_chips_are_labelled_checkboxes_that_show_their_state(self, member_client, jobs):
        page = member_client.get(reverse("generations:list"), {"mode": "image-to-video"})
        html = page.content.decode()
        # The group's summary names the choice, so a closed dropdown still tells it.
        assert '<summary data-active>Mode<span class="chip-value">Image to video</span>' in html
        assert 'type="checkbox" name="mode" value="image-to-video"' in html
        chip = html.split('value="image-to-video"')[1].split(">")[0]
        assert "checked" in chip
        assert "data-filter-submit" in html  # the button that sends it without JavaScript
        assert "matching these filters" in html

    def test_invalid_params_give_a_message_and_an_honest_result_not_a_500(
        self, member_client, jobs
    ):
        response = member_client.get(
            reverse("generations:list"),
            {"mode": "painting", "from": "31/12/2026", "sort": "x", "page": "nine"},
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "were not understood and are not applied" in html
        assert "“painting” is not one of the choices" in html
        assert len(response.context["generations"]) == 5
        assert "matching these filters" not in html

    def test_a_page_past_the_end_shows_the_last_page(self, member_client, jobs):
        response = member_client.get(reverse("generations:list"), {"page": "99"})
        assert response.status_code == 200
        assert response.context["page_obj"].number == 1

    def test_empty_result_offers_to_clear_the_filters(self, member_client, jobs):
        response = member_client.get(reverse("generations:list"), {"q": "dragon"})
        html = response.content.decode()
        assert "No video matches these filters" in html
        assert f'<a href="{reverse("generations:list")}">Clear filters</a>' in html

    def test_pagination_keeps_every_filter_repeated_ones_too(self, member_client, member):
        for n in range(30):
            GenerationFactory(user=member, state="failed" if n % 2 else "expired")
        response = member_client.get(
            reverse("generations:list"), {"state": ["failed", "expired"], "sort": "oldest"}
        )
        html = response.content.decode()
        href = html.split('class="pagination"')[1].split('href="')[1].split('"')[0]
        params = parse_qs(urlsplit(href.replace("&amp;", "&")).query)
        assert params == {"state": ["failed", "expired"], "sort": ["oldest"], "page": ["2"]}
        second = member_client.get(reverse("generations:list") + href.replace("&amp;", "&"))
        assert len(second.context["generations"]) == 6
        assert {g.state for g in second.context["generations"]} <= {"failed", "expired"}

    def test_filters_never_show_another_members_jobs(self, member_client, jobs):
        GenerationFactory(user=UserFactory(), prompt="their kite", state="succeeded")
        assert listed(member_client, q="kite", state="succeeded") == ["a red kite"]

    def test_the_first_page_is_a_constant_number_of_queries(
        self, member_client, member, jobs, django_assert_max_num_queries
    ):
        params = {"state": ["succeeded", "failed"], "sort": "price-high", "favourite": "1"}
        GenerationFactory(user=member, state="failed", favourite=True)
        member_client.get(reverse("generations:list"), params)  # warm the session and caches
        with django_assert_max_num_queries(12) as few:
            member_client.get(reverse("generations:list"), params)
        for _ in range(20):
            GenerationFactory(user=member, state="succeeded", favourite=True)
        with django_assert_max_num_queries(len(few.captured_queries)):
            response = member_client.get(reverse("generations:list"), params)
        assert len(response.context["generations"]) == 21
