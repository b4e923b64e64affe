"""Provider choice per job (issue #7): the form, the live price and ``generate --provider``.

With the simulator (the test settings' default) both providers are configured. Prices from
docs/prices.md "Default price table": 8 s at 720p with sound is 40 credits/s at APIXO and 70 at
aivideoapi.ai; 1080p with sound 150 at aivideoapi.ai; extend is APIXO's only.
"""

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from generations.forms import GenerationForm
from generations.models import CreditEntry, Generation
from generations.services.ledger import credits_grant

VALID = {
    "mode": "text-to-video",
    "prompt": "a calm seaside sunrise with gentle camera dolly movement",
    "resolution": "720p",
    "duration": "8",
    "sound": "on",
    "aspect_ratio": "16:9",
}


@pytest.fixture
def apixo_only(settings):
    """Only APIXO is configured: aivideoapi.ai has no key (an APIXO key, say)."""
    settings.AIVIDEOAPI_API_KEY = ""


def bound(**changes) -> GenerationForm:
    data = {k: v for k, v in {**VALID, **changes}.items() if v is not None}
    form = GenerationForm(data=data)
    form.is_valid()
    return form


@pytest.mark.parametrize(
    ("changes", "provider"),
    [
        ({}, "apixo"),  # PROVIDER_DEFAULT
        ({"provider": "apixo"}, "apixo"),
        ({"provider": "aivideoapi"}, "aivideoapi"),
        ({"resolution": "1080p"}, "aivideoapi"),  # the default does not offer 1080p here
        ({"resolution": "1080p", "provider": "aivideoapi"}, "aivideoapi"),
    ],
)
def test_the_job_goes_to_the_chosen_or_default_provider(changes, provider):
    form = bound(**changes)
    assert form.is_valid(), form.errors
    assert form.to_spec().provider == provider


def test_the_operators_default_decides_when_nobody_chooses(settings):
    settings.PROVIDER_DEFAULT = "aivideoapi"
    assert bound().to_spec().provider == "aivideoapi"
    extend = GenerationForm(
        data={
            **VALID,
            "mode": "video-extend",
            "aspect_ratio": "",
            "source_video_url": "https://example.com/clip.mp4",
        }
    )
    assert "provider" not in extend.errors
    assert extend.cleaned_data["provider"] == "apixo"  # aivideoapi.ai takes no video


def test_extend_at_aivideoapi_is_refused_next_to_the_provider():
    form = bound(mode="video-extend", aspect_ratio=None, provider="aivideoapi")
    assert form.errors["provider"] == ["aivideoapi.ai does not offer extend a video; choose APIXO."]


def test_1080p_at_apixo_names_what_would_work():
    form = bound(resolution="1080p", provider="apixo")
    assert form.errors["resolution"] == [
        "APIXO does not offer 1080p for text to video; choose 480p or 720p, or aivideoapi.ai."
    ]


def test_an_unconfigured_provider_is_not_offered(apixo_only):
    form = bound(provider="aivideoapi")
    assert form.fields["provider"].choices == [("apixo", "APIXO")]
    assert form.errors["provider"] == [
        "aivideoapi is not configured here; choose an offered provider."
    ]
    assert bound(resolution="1080p").errors["resolution"] == [
        "1080p is not available for text to video; choose 480p or 720p."
    ]


@pytest.mark.django_db
def test_the_quote_prices_every_provider_that_offers_the_settings(member_client):
    response = member_client.get(
        reverse("generations:quote"),
        {"mode": "text-to-video", "resolution": "720p", "duration": "8", "sound": "on"},
    )
    data = response.json()
    assert (data["provider"], data["credits"]) == ("apixo", 320)
    assert {name: offer["credits"] for name, offer in data["providers"].items()} == {
        "apixo": 320,
        "aivideoapi": 560,
    }
    assert data["providers"]["aivideoapi"]["usd"] == "0.560"

    response = member_client.get(
        reverse("generations:quote"),
        {"mode": "text-to-video", "resolution": "1080p", "duration": "8", "sound": "on"},
    )
    data = response.json()
    assert (data["provider"], data["credits"], data["credits_per_second"]) == (
        "aivideoapi",
        1200,
        150,
    )
    assert list(data["providers"]) == ["aivideoapi"]


@pytest.mark.django_db
def test_the_page_offers_the_configured_providers_per_mode(member_client):
    response = member_client.get(reverse("generations:new"))
    content = response.content.decode()
    assert 'name="provider" value="apixo"' in content
    assert 'name="provider" value="aivideoapi"' in content
    offers = json.loads(content.split('id="mode-offers" type="application/json">')[1].split("<")[0])
    assert offers["text-to-video"] == {
        "apixo": ["480p", "720p"],
        "aivideoapi": ["480p", "720p", "1080p"],
    }
    assert offers["video-extend"] == {"apixo": ["480p", "720p", "1080p"]}


@pytest.mark.django_db
def test_a_job_at_aivideoapi_is_priced_and_held_at_its_price(member_client, member):
    credits_grant(user=member, amount=2000, actor=None)
    response = member_client.post(
        reverse("generations:new"), {**VALID, "resolution": "1080p", "provider": "aivideoapi"}
    )
    generation = Generation.objects.get()
    assert response.status_code == 302
    assert (generation.provider, generation.model_id) == ("aivideoapi", "doubao-seedance-1.5-pro")
    assert generation.price_credits == 1200
    hold = CreditEntry.objects.get(generation=generation)
    assert (hold.kind, hold.amount) == ("hold", -1200)
    page = member_client.get(generation.get_absolute_url()).content.decode()
    assert "aivideoapi.ai" in page and "doubao-seedance-1.5-pro" in page


@pytest.mark.django_db
def test_generate_takes_a_provider(member):
    credits_grant(user=member, amount=2000, actor=None)
    call_command(
        "generate",
        *("--user", member.username, "--prompt", VALID["prompt"]),
        *("--provider", "aivideoapi", "--resolution", "480p", "--duration", "4"),
    )
    generation = Generation.objects.get()
    assert (generation.provider, generation.price_credits) == ("aivideoapi", 4 * 15)  # silent


@pytest.mark.django_db
def test_generate_refuses_a_provider_that_does_not_offer_the_mode(member):
    credits_grant(user=member, amount=2000, actor=None)
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "generate",
            *("--user", member.username, "--prompt", VALID["prompt"]),
            *("--mode", "video-extend", "--video", "https://example.com/a.mp4"),
            *("--provider", "aivideoapi"),
        )
    assert excinfo.value.returncode == 2
    assert "--provider: aivideoapi.ai does not offer extend a video" in str(excinfo.value)
    assert Generation.objects.count() == 0
