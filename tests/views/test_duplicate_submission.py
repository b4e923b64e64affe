"""Accidental resubmission (issue #12 item 5): the form asks before charging twice.

A second submission identical to one of the last 10 minutes (mode, settings, prompt and
input digests; any state) re-renders the form with "You submitted this N minutes ago (#id).
Submit again for P credits?" and holds nothing; posting that form again goes through. The
one-time ``client_token`` still turns a double click into one job, and ``generation_create``
(the REST API's and ``generate``'s path) is never asked.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from generations.models import CreditAccount, CreditEntry, Generation
from generations.selectors.generations import generation_duplicate_find
from generations.selectors.ledger import ledger_mismatches
from generations.services.generations import GenerationSpec, generation_create
from generations.services.inputs import InputSpec
from tests.factories import GenerationFactory, UserFactory
from tests.media import image_bytes

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


@pytest.fixture
def member(db):
    return UserFactory(credits=1000)


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


def post(client, token: str, **fields):
    return client.post(reverse("generations:new"), {**POST, "client_token": token, **fields})


def held(member) -> int:
    return CreditAccount.objects.get(user=member).held


def hidden(response, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', response.content.decode())
    return match.group(1) if match else ""


def test_an_identical_second_submission_asks_and_holds_nothing(member_client, member):
    first = post(member_client, "first")
    earlier = Generation.objects.get()
    assert first.url == earlier.get_absolute_url()

    with time_machine.travel(timezone.now() + timedelta(minutes=3, seconds=20)):
        second = post(member_client, "after-back")

    assert second.status_code == 200
    page = second.content.decode()
    question = f"You submitted this 3 minutes ago (#{earlier.pk}). Submit again for 80 credits?"
    assert question in page
    assert 'id="duplicate-confirm"' in page
    assert hidden(second, "confirm_duplicate") == str(earlier.pk)
    assert hidden(second, "client_token") == "after-back"
    assert Generation.objects.count() == 1 and held(member) == PRICE
    assert CreditEntry.objects.filter(kind="hold").count() == 1


def test_the_confirmed_resubmission_goes_through_once(member_client, member):
    post(member_client, "first")
    earlier = Generation.objects.get()
    asked = post(member_client, "after-back")

    confirmed = post(
        member_client, "after-back", confirm_duplicate=hidden(asked, "confirm_duplicate")
    )
    again = post(member_client, "after-back", confirm_duplicate=str(earlier.pk))  # double click

    second = Generation.objects.exclude(pk=earlier.pk).get()
    assert confirmed.status_code == 302 and confirmed.url == second.get_absolute_url()
    assert again.url == second.get_absolute_url()
    assert held(member) == 2 * PRICE
    assert ledger_mismatches() == []


def test_a_newer_twin_is_asked_about_again(member_client):
    post(member_client, "first")
    post(member_client, "second", confirm_duplicate=str(Generation.objects.get().pk))
    newest = Generation.objects.latest("pk")
    # Confirming the first job does not confirm a repeat of the second.
    response = post(member_client, "third", confirm_duplicate=str(newest.pk - 1))
    assert response.status_code == 200
    assert hidden(response, "confirm_duplicate") == str(newest.pk)
    assert Generation.objects.count() == 2


def test_a_double_click_still_makes_one_job_without_asking(member_client, member):
    first = post(member_client, "one-click")
    second = post(member_client, "one-click")
    assert first.url == second.url
    assert Generation.objects.count() == 1 and held(member) == PRICE


@pytest.mark.parametrize("state", ["succeeded", "failed", "canceled", "submitted"])
def test_any_state_of_the_earlier_job_counts(member_client, member, state):
    earlier = GenerationFactory(
        user=member,
        state=state,
        prompt=POST["prompt"],
        sound=True,
        aspect_ratio="16:9",
        price_credits=PRICE,
    )
    response = post(member_client, "second")
    assert response.status_code == 200 and f"(#{earlier.pk})" in response.content.decode()


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "a red kite over grey hills"},
        {"duration": "5"},
        {"sound": "off"},
        {"resolution": "720p"},
        {"aspect_ratio": "9:16"},
        {"camera_fixed": "on"},
    ],
)
def test_a_different_request_is_not_a_duplicate(member_client, member, change):
    post(member_client, "first")
    response = post(member_client, "second", **change)
    assert response.status_code == 302
    assert Generation.objects.count() == 2


def test_after_ten_minutes_it_is_a_new_request(member_client, member):
    post(member_client, "first")
    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1)):
        response = post(member_client, "second")
    assert response.status_code == 302
    assert Generation.objects.count() == 2


def test_another_members_twin_is_not_theirs(member_client, member):
    other = UserFactory(credits=1000)
    GenerationFactory(user=other, prompt=POST["prompt"], sound=True, aspect_ratio="16:9")
    assert post(member_client, "first").status_code == 302


def test_generation_create_is_never_asked(member):
    """The REST API and ``generate`` call the service directly: two identical jobs."""
    spec = GenerationSpec(
        mode="text-to-video", prompt="a quiet lake", resolution="480p", duration=4, sound=False
    )
    generation_create(user=member, spec=spec)
    generation_create(user=member, spec=spec)
    assert Generation.objects.count() == 2


class TestUploads:
    IMAGE = {
        **POST,
        "mode": "image-to-video",
        "prompt": "the cat turns its head towards the window",
        "resolution": "720p",
        "sound": "off",
    }

    @pytest.fixture(autouse=True)
    def _media(self, settings, tmp_path):
        settings.MEDIA_ROOT = str(tmp_path / "media")
        settings.PUBLIC_BASE_URL = "https://studio.example.com"

    def upload(self, client, token: str, color=(200, 80, 40), **fields):
        frame = SimpleUploadedFile("start.png", image_bytes("PNG", color=color), "image/png")
        data = {**self.IMAGE, "client_token": token, "start_image": frame, **fields}
        return client.post(reverse("generations:new"), data)

    def test_the_same_frame_uploaded_again_asks_and_the_confirmation_reuses_it(
        self, member_client, member
    ):
        self.upload(member_client, "first")
        earlier = Generation.objects.get()
        (frame,) = earlier.inputs.all()
        assert len(frame.digest) == 64

        asked = self.upload(member_client, "again")
        assert asked.status_code == 200 and f"(#{earlier.pk})" in asked.content.decode()
        assert hidden(asked, "inputs_from") == str(earlier.pk)

        # The browser does not send the chosen file again; the confirmation still works.
        confirmed = member_client.post(
            reverse("generations:new"),
            {
                **self.IMAGE,
                "client_token": "again",
                "confirm_duplicate": hidden(asked, "confirm_duplicate"),
                "inputs_from": hidden(asked, "inputs_from"),
            },
        )
        assert confirmed.status_code == 302
        second = Generation.objects.exclude(pk=earlier.pk).get()
        (copy,) = second.inputs.all()
        assert (copy.digest, copy.file.name) == (frame.digest, frame.file.name)

    def test_a_different_frame_is_a_new_request(self, member_client):
        self.upload(member_client, "first")
        assert self.upload(member_client, "second", color=(10, 200, 90)).status_code == 302
        assert Generation.objects.count() == 2


def test_the_selector_compares_inputs_by_position_and_digest(member):
    url = "http://93.184.215.14/frame.png"
    spec = GenerationSpec(
        mode="image-to-video",
        prompt="a cat",
        resolution="720p",
        duration=4,
        sound=False,
        aspect_ratio="16:9",
        inputs=(InputSpec(kind="image", position=0, url=url),),
    )
    earlier = generation_create(user=member, spec=spec)
    assert generation_duplicate_find(user=member, spec=spec) == earlier
    swapped = GenerationSpec(
        **{**spec.__dict__, "inputs": (InputSpec(kind="image", position=1, url=url),)}
    )
    other = GenerationSpec(
        **{**spec.__dict__, "inputs": (InputSpec(kind="image", position=0, url=url + "?v=2"),)}
    )
    assert generation_duplicate_find(user=member, spec=swapped) is None
    assert generation_duplicate_find(user=member, spec=other) is None
    assert generation_duplicate_find(user=member, spec=spec, client_token="unused") == earlier
