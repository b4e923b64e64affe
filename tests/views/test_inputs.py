"""Input URLs: public to the token holder while the job runs, gone after final + margin;
thumbnails only for the owner (docs/architecture.md "What must hold": another member gets a 404)."""

from datetime import timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from generations.models import GenerationInput
from generations.services.inputs import inputs_expire_later
from generations.services.ledger import credits_capture, credits_release

from ..factories import GenerationFactory, UserFactory
from ..media import image_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_input(settings, tmp_path, member):
    settings.MEDIA_ROOT = str(tmp_path)
    generation = GenerationFactory(user=member, mode="image-to-video", state="submitted")
    generation_input = GenerationInput(
        generation=generation, kind="image", content_type="image/png"
    )
    generation_input.file.save("start.png", ContentFile(image_bytes("PNG")), save=False)
    generation_input.thumbnail.save("t.jpg", ContentFile(image_bytes("JPEG")), save=False)
    generation_input.save()
    return generation_input


def public_url(generation_input) -> str:
    return reverse("public_input", kwargs={"token": generation_input.public_token})


def test_the_token_has_at_least_128_random_bits(stored_input):
    other = GenerationInput(generation=stored_input.generation, kind="image", position=1)
    assert len(stored_input.public_token) >= 22  # url-safe base64: 6 bits a character
    assert stored_input.public_token != other.public_token


def test_the_provider_fetches_an_input_without_logging_in(client, stored_input):
    response = client.get(public_url(stored_input))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == stored_input.file.open("rb").read()
    assert "sandbox" in response["Content-Security-Policy"]


def test_the_public_url_is_read_only(client, stored_input):
    assert client.post(public_url(stored_input)).status_code == 405
    assert client.head(public_url(stored_input)).status_code == 200


def test_a_guessed_token_is_a_404(client, stored_input):
    assert client.get(reverse("public_input", kwargs={"token": "x" * 32})).status_code == 404


def test_the_url_expires_after_the_job_is_final_plus_the_margin(client, settings, stored_input):
    settings.INPUT_URL_MARGIN_SECONDS = 3600
    generation = stored_input.generation
    generation.state = "succeeded"
    generation.save(update_fields=["state"])
    credits_capture(hold=generation.credit_entries.get(kind="hold"))
    inputs_expire_later(generation=generation)
    assert client.get(public_url(stored_input)).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=3601)):
        assert client.get(public_url(stored_input)).status_code == 404


def test_a_final_job_without_expiry_is_not_served(client, stored_input):
    generation = stored_input.generation
    generation.state = "failed"
    generation.save(update_fields=["state"])
    credits_release(hold=generation.credit_entries.get(kind="hold"), outcome="failed")
    assert client.get(public_url(stored_input)).status_code == 404


def test_thumbnails_are_for_the_owner_only(client, member, stored_input):
    url = reverse(
        "generations:input_thumbnail",
        kwargs={"pk": stored_input.generation_id, "input_pk": stored_input.pk},
    )
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.force_login(member)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
