"""Variations on the page (issue #15 item 7; docs/prices.md "Variations"): the form makes the
group or nothing with the reason beside the field, the live price weighs the total, the
gallery groups them, and the duplicate question counts the group. Item 8: "Generate again"
on an extend shows the clip it will extend."""

import re

import pytest
from django.urls import reverse

from generations.models import CreditAccount, CreditEntry, Generation, GenerationInput
from tests.factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db

POST = {
    "mode": "text-to-video",
    "prompt": "a red kite over green hills",
    "resolution": "480p",
    "duration": "4",
    "sound": "on",
    "aspect_ratio": "16:9",
    "provider": "apixo",
}
PRICE = 80  # APIXO 480p with sound: 20 credits/s x 4 s


def post(client, token: str, **fields):
    return client.post(reverse("generations:new"), {**POST, "client_token": token, **fields})


def quote(client, **fields):
    return client.get(reverse("generations:quote"), {**POST, **fields}).json()


def account(user) -> tuple[int, int]:
    row = CreditAccount.objects.get(user=user)
    return row.balance, row.held


def test_the_form_makes_the_group_and_lands_on_the_gallery_filtered_to_it(client):
    member = UserFactory(credits=1000)
    client.force_login(member)
    response = post(client, "tok-1", variations="3")
    jobs = list(Generation.objects.order_by("variation_index"))
    assert len(jobs) == 3
    group = jobs[0].variation_group
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('generations:list')}?group={group}"
    assert account(member) == (1000 - 3 * PRICE, 3 * PRICE)
    assert CreditEntry.objects.filter(kind=CreditEntry.Kind.HOLD).count() == 3

    GenerationFactory(user=member, prompt="a lone job outside the group")
    page = client.get(response["Location"])
    html = page.content.decode()
    assert [g.pk for g in page.context["generations"]] == [j.pk for j in reversed(jobs)]
    assert "a lone job outside the group" not in html
    assert 'id="variation-filter"' in html
    for index in (1, 2, 3):
        assert f"Variation {index} of 3" in html
    assert html.count(f'href="/?group={group}"') == 3  # each card's badge links to the group


def test_a_double_submit_of_the_group_makes_one_group(client):
    member = UserFactory(credits=1000)
    client.force_login(member)
    first = post(client, "tok-2", variations="2")
    second = post(client, "tok-2", variations="2")
    assert first["Location"] == second["Location"]
    assert Generation.objects.count() == 2
    assert account(member) == (1000 - 2 * PRICE, 2 * PRICE)


def test_a_group_the_member_cannot_afford_creates_nothing_and_says_so_beside_the_field(client):
    member = UserFactory(credits=200)
    client.force_login(member)
    response = post(client, "tok-3", variations="3")
    assert response.status_code == 200
    assert response.context["form"].errors["variations"] == [
        "3 variations cost 240 credits (80 each); you have 200 available. "
        "Nothing was created: choose fewer variations or ask a manager."
    ]
    html = response.content.decode()
    assert 'id="id_variations_error"' in html
    assert Generation.objects.count() == 0
    assert account(member) == (200, 0)


def test_a_count_outside_one_to_four_is_refused_beside_the_field(client):
    member = UserFactory(credits=1000)
    client.force_login(member)
    response = post(client, "tok-4", variations="5")
    assert response.context["form"].errors["variations"] == ["Choose 1 to 4 variations."]
    assert Generation.objects.count() == 0


def test_the_duplicate_question_counts_the_group_and_a_group_is_a_repeat(client):
    member = UserFactory(credits=1000)
    client.force_login(member)
    post(client, "tok-5", variations="2")
    asked = post(client, "tok-6", variations="3")
    assert asked.status_code == 200
    question = asked.context["duplicate"]["question"]
    assert re.fullmatch(
        r"You submitted this less than a minute ago \(#\d+\)\. "
        r"Submit again for 3 variations for 240 credits\?",
        question,
    )
    assert Generation.objects.count() == 2  # nothing more held until confirmed
    confirmed = client.post(
        reverse("generations:new"),
        {
            **POST,
            "client_token": "tok-6",
            "variations": "3",
            "confirm_duplicate": asked.context["duplicate"]["generation"].pk,
        },
    )
    assert confirmed.status_code == 302
    assert Generation.objects.count() == 5


def test_the_quote_weighs_the_total_against_the_balance_and_the_cap(member_client, member):
    from generations.services.ledger import credits_grant

    credits_grant(user=member, amount=300, actor=None)
    one = quote(member_client)
    assert (one["credits"], one["total_credits"], one["variations"], one["blocked"]) == (
        80,
        80,
        1,
        "",
    )
    four = quote(member_client, variations="4")
    assert (four["credits"], four["total_credits"], four["total_usd"]) == (80, 320, "0.320")
    assert four["blocked"] == "4 variations cost 320 credits (80 each); you have 300 available."
    assert four["providers"]["apixo"]["affordable"] is False
    assert quote(member_client, variations="3")["blocked"] == ""
    member.monthly_cap_credits = 200
    member.save(update_fields=["monthly_cap_credits"])
    assert quote(member_client, variations="3")["blocked"] == (
        "3 variations cost 240 credits (80 each); your monthly cap leaves 200 this month."
    )
    bad = member_client.get(reverse("generations:quote"), {**POST, "variations": "9"})
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"variations": "Choose 1 to 4 variations."}


def test_the_group_filter_shows_only_the_members_own_jobs(client):
    owner = UserFactory(credits=1000)
    client.force_login(owner)
    post(client, "tok-7", variations="2")
    group = Generation.objects.first().variation_group
    client.force_login(UserFactory())
    page = client.get(reverse("generations:list"), {"group": str(group)})
    assert list(page.context["generations"]) == []
    # A malformed group is no filter at all, not an error.
    assert client.get(reverse("generations:list"), {"group": "nope"}).status_code == 200


def test_generate_again_on_an_extend_shows_the_clip_it_will_extend(member_client, member):
    source = GenerationFactory(
        user=member,
        state="succeeded",
        result_state="stored",
        result_file="results/a.mp4",
        poster="posters/a.webp",
        prompt="a kite rising over the dunes",
    )
    extension = GenerationFactory(
        user=member,
        mode="video-extend",
        model_id="seedance-1-5-pro-extend",
        source_generation=source,
        state="succeeded",
    )
    GenerationInput.objects.create(
        generation=extension, kind="video", file="results/a.mp4", original_name=f"#{source.pk}"
    )
    html = member_client.get(reverse("generations:new"), {"again": extension.pk}).content.decode()
    block = html[html.index('id="reused-source"') :]
    block = block[: block.index("</div>")]
    assert f'href="{source.get_absolute_url()}"' in block
    assert f'src="{reverse("generations:poster", args=[source.pk])}"' in block
    assert "a kite rising over the dunes" in block


def test_generate_again_on_an_extend_of_a_url_names_the_clip(member_client, member):
    extension = GenerationFactory(
        user=member, mode="video-extend", model_id="seedance-1-5-pro-extend", state="failed"
    )
    GenerationInput.objects.create(
        generation=extension,
        kind="video",
        source_url="https://cdn.example.com/clip.mp4",
        original_name="https://cdn.example.com/clip.mp4",
    )
    html = member_client.get(reverse("generations:new"), {"again": extension.pk}).content.decode()
    block = html[html.index('id="reused-source"') :]
    assert 'href="https://cdn.example.com/clip.mp4"' in block[: block.index("</div>")]
