"""The status panel says what happens to the video while it is saved, and if saving failed."""

import pytest
from django.urls import reverse

from generations.models import Generation
from tests.factories import GenerationFactory

pytestmark = pytest.mark.django_db
State, Result = Generation.State, Generation.ResultState


def panel(client, generation) -> str:
    response = client.get(reverse("generations:status", args=[generation.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_video_being_saved_says_so_and_stays_live(member_client, member):
    generation = GenerationFactory(
        user=member, state=State.SUCCEEDED, result_state=Result.PENDING, download_attempts=2
    )
    content = panel(member_client, generation)
    assert "is being saved to the portal" in content
    assert "(attempt 2)" in content
    assert "data-live=" in content  # the page keeps refreshing until it is stored


def test_a_failed_download_says_download_failed(member_client, member):
    generation = GenerationFactory(
        user=member,
        state=State.SUCCEEDED,
        result_state=Result.FAILED,
        fail_message="The file's server could not be reached.",
    )
    content = panel(member_client, generation)
    assert "Download failed" in content
    assert "could not be reached" in content
    assert "data-live=" not in content


def test_an_unknown_submit_says_it_waits_for_the_service(member_client, member):
    generation = GenerationFactory(user=member, state=State.UNKNOWN)
    assert "did not confirm the request" in panel(member_client, generation)


def test_another_members_panel_is_a_404(member_client):
    generation = GenerationFactory(state=State.SUCCEEDED, result_state=Result.PENDING)
    response = member_client.get(reverse("generations:status", args=[generation.pk]))
    assert response.status_code == 404
